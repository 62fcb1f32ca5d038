"""The hook implementations lit_nn finds through the entry point ``extras``.

Each name is registered with :func:`lit_nn.lazy`, by import path: ``lit-nn plugins`` lists them
without importing torch, and the class is imported when a run first uses it.
"""

from __future__ import annotations

import lit_nn
from lit_nn.lazy import LazyFactory, lazy


@lit_nn.hookimpl
def lit_nn_register_activations() -> dict[str, LazyFactory]:
    """Snake and a Swish with learnable β."""
    return {
        "snake": lazy("lit_nn_extras.activations:Snake"),
        "learnable_swish": lazy("lit_nn_extras.activations:LearnableSwish"),
    }


@lit_nn.hookimpl
def lit_nn_register_losses() -> dict[str, LazyFactory]:
    """The pinball (quantile) loss."""
    return {"pinball": lazy("lit_nn_extras.losses:PinballLoss")}


@lit_nn.hookimpl
def lit_nn_register_backbones() -> dict[str, LazyFactory]:
    """The Fourier-feature MLP."""
    return {"fourier_mlp": lazy("lit_nn_extras.backbones:FourierMLP")}


@lit_nn.hookimpl
def lit_nn_register_datamodules() -> dict[str, LazyFactory]:
    """Two moons, spirals, a noisy sine and multi-label data."""
    return {
        "two_moons": lazy("lit_nn_extras.datamodules:TwoMoons"),
        "spirals": lazy("lit_nn_extras.datamodules:Spirals"),
        "noisy_sine": lazy("lit_nn_extras.datamodules:NoisySine"),
        "multilabel": lazy("lit_nn_extras.datamodules:MultilabelBlobs"),
    }


@lit_nn.hookimpl
def lit_nn_register_tasks() -> dict[str, LazyFactory]:
    """Multi-label classification, a task kind lit_nn itself does not have."""
    return {"MultilabelTask": lazy("lit_nn_extras.multilabel:MultilabelTask")}
