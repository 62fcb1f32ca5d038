"""A task's backbone, built by registry name with the activation handed to it by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lit_nn.errors import InvalidArgumentsError
from lit_nn.registry import default_registry

BACKBONE_KEYWORDS = ("input_shape", "output_size", "activation", "dropout")
"""The arguments every backbone gets from the task (``backbone_kwargs`` must not set them)."""


def build_backbone(hp: Mapping[str, Any], output_size: int) -> tuple[nn.Module, dict[str, str]]:
    """Build the backbone a task's hyperparameters name.

    Args:
        hp: The task's hyperparameters (``backbone``, ``backbone_kwargs``, ``activation``,
            ``activation_kwargs``, ``input_shape``, ``dropout``, ``channels_last``, ``compile``).
        output_size: The number of outputs.

    Returns:
        The backbone (in the channels-last layout and compiled when asked), and the activations
        the registry built for it: each one's module name in the backbone to a name a person
        reads, ``hidden1.sigmoid``, ``hidden2.sigmoid`` … in the order the backbone applies them.

    Raises:
        InvalidArgumentsError: If ``backbone_kwargs`` sets what the task passes.
    """
    registry = default_registry()
    activation_kwargs = dict(hp["activation_kwargs"] or {})
    registry.create("activations", hp["activation"], **activation_kwargs)  # fail now, not inside the backbone
    backbone_kwargs = dict(hp["backbone_kwargs"] or {})
    clash = sorted(set(backbone_kwargs) & set(BACKBONE_KEYWORDS))
    if clash:
        raise InvalidArgumentsError(
            f"backbone_kwargs must not set {', '.join(clash)}: the task passes those (set dropout on the task)"
        )
    built: list[nn.Module] = []

    def activation() -> nn.Module:
        module = registry.create("activations", hp["activation"], **activation_kwargs)
        built.append(module)
        return module

    backbone = registry.create(
        "backbones",
        hp["backbone"],
        input_shape=tuple(hp["input_shape"]),
        output_size=output_size,
        activation=activation,
        dropout=hp["dropout"],
        **backbone_kwargs,
    )
    ids = {id(m) for m in built}
    used = [name for name, m in backbone.named_modules(remove_duplicate=False) if id(m) in ids]
    names = {name: f"hidden{i}.{hp['activation']}" for i, name in enumerate(used, start=1)}
    if hp["channels_last"]:
        backbone.to(memory_format=torch.channels_last)
    if hp["compile"]:
        backbone.compile()
    return backbone, names
