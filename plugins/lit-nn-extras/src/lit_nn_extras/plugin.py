"""The hook implementations lit_nn finds through the entry point ``extras``."""

from __future__ import annotations

from collections.abc import Callable

from lightning.pytorch import LightningDataModule
from torch import nn

import lit_nn
from lit_nn_extras.activations import LearnableSwish, Snake
from lit_nn_extras.backbones import FourierMLP
from lit_nn_extras.datamodules import NoisySine, Spirals, TwoMoons
from lit_nn_extras.losses import PinballLoss


@lit_nn.hookimpl
def lit_nn_register_activations() -> dict[str, Callable[..., nn.Module]]:
    """Snake and a Swish with learnable β."""
    return {"snake": Snake, "learnable_swish": LearnableSwish}


@lit_nn.hookimpl
def lit_nn_register_losses() -> dict[str, Callable[..., nn.Module]]:
    """The pinball (quantile) loss."""
    return {"pinball": PinballLoss}


@lit_nn.hookimpl
def lit_nn_register_backbones() -> dict[str, Callable[..., nn.Module]]:
    """The Fourier-feature MLP."""
    return {"fourier_mlp": FourierMLP}


@lit_nn.hookimpl
def lit_nn_register_datamodules() -> dict[str, type[LightningDataModule]]:
    """Two moons, spirals and a noisy sine."""
    return {"two_moons": TwoMoons, "spirals": Spirals, "noisy_sine": NoisySine}
