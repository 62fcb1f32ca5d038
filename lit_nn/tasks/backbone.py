"""A task's backbone, built by registry name with the activation handed to it by name."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import torch
from torch import nn

from lit_nn.errors import InvalidArgumentsError
from lit_nn.registry import default_registry

BACKBONE_KEYWORDS = ("input_shape", "output_size", "activation", "dropout")
"""The arguments every backbone gets from the task (``backbone_kwargs`` must not set them)."""


def build_backbone(hp: Mapping[str, Any], output_size: int) -> nn.Module:
    """Build the backbone a task's hyperparameters name.

    Args:
        hp: The task's hyperparameters (``backbone``, ``backbone_kwargs``, ``activation``,
            ``activation_kwargs``, ``input_shape``, ``dropout``, ``channels_last``, ``compile``).
        output_size: The number of outputs.

    Returns:
        The backbone, in the channels-last layout and compiled when asked.

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
    backbone = registry.create(
        "backbones",
        hp["backbone"],
        input_shape=tuple(hp["input_shape"]),
        output_size=output_size,
        activation=partial(registry.create, "activations", hp["activation"], **activation_kwargs),
        dropout=hp["dropout"],
        **backbone_kwargs,
    )
    if hp["channels_last"]:
        backbone.to(memory_format=torch.channels_last)
    if hp["compile"]:
        backbone.compile()
    return backbone
