"""The lit_nn plugin contract: hook markers and the five registration hooks.

A plugin is a module (or any object) whose functions are marked with :data:`hookimpl` and named
after the hooks below. Every hook takes no arguments and returns a ``dict`` mapping a registry
name to a factory, or to :func:`lit_nn.lazy.lazy` ``("module:attribute")`` naming one, imported when
first used. Built-ins are registered through exactly these hooks. See ``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from lightning.pytorch import LightningDataModule, LightningModule
    from torch import nn

PROJECT_NAME = "lit_nn"
"""The pluggy project name and the entry-point group third-party packages register under."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def lit_nn_register_activations() -> dict[str, Callable[..., nn.Module]]:
    """Register activation functions.

    Returns:
        Name to factory. The factory takes keyword arguments only and returns a fresh
        ``nn.Module`` applied element-wise (output shape equals input shape).
    """


@hookspec
def lit_nn_register_losses() -> dict[str, Callable[..., nn.Module]]:
    """Register loss functions.

    Returns:
        Name to factory. The factory takes keyword arguments only and returns an ``nn.Module``
        called as ``loss(prediction, target)`` that returns a scalar tensor (with the default
        reduction).
    """


@hookspec
def lit_nn_register_backbones() -> dict[str, Callable[..., nn.Module]]:
    """Register backbones (the network a task trains).

    Returns:
        Name to factory. The factory is called with the keyword arguments ``input_shape``
        (``tuple[int, ...]``, one sample without the batch dimension), ``output_size`` (``int``),
        ``activation`` (a zero-argument callable returning a fresh activation ``nn.Module``) and
        ``dropout`` (``float``), plus the user's own backbone keyword arguments. It returns an
        ``nn.Module`` mapping ``(batch, *input_shape)`` to ``(batch, output_size)``.
    """


@hookspec
def lit_nn_register_datamodules() -> dict[str, type[LightningDataModule]]:
    """Register datamodules.

    Returns:
        Name to ``LightningDataModule`` subclass. Right after construction an instance exposes
        ``input_shape`` (one sample, no batch dimension) and the size argument of the tasks it
        feeds: ``num_classes`` (classification), ``num_targets`` (regression) or a plugin task's
        own (its ``size_argument``).
    """


@hookspec
def lit_nn_register_tasks() -> dict[str, type[LightningModule]]:
    """Register tasks (the LightningModules ``--model`` and ``model:`` name).

    Returns:
        Class name (``MyTask``: letters and digits, starting with a capital) to a
        :class:`lit_nn.tasks.BaseTask` subclass. The task owns its kind: its ``size_argument``
        (linked from the datamodule), its metrics, and what its predictions, plots, exported
        outputs and served answers are. Checkpoints naming a registered task's import path are
        trusted like the built-ins'.
    """
