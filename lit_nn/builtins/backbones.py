"""Built-in backbones: the textbook MLP, a small CNN and torchvision ResNets."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from lit_nn.hookspecs import hookimpl
from lit_nn.models.cnn import CNN
from lit_nn.models.mlp import MLP
from lit_nn.models.resnet import DEPTHS, ResNet


@hookimpl
def lit_nn_register_backbones() -> dict[str, Callable[..., nn.Module]]:
    """Register the built-in backbones.

    Returns:
        Name to factory: ``mlp``, ``cnn`` and ``resnet18`` … ``resnet152``.
    """
    backbones: dict[str, Callable[..., nn.Module]] = {"mlp": MLP, "cnn": CNN}
    backbones.update({f"resnet{depth}": partial(ResNet, depth) for depth in DEPTHS})
    return backbones
