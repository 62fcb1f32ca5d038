"""Built-in backbones: the textbook MLP, a small CNN and torchvision ResNets (registered lazily)."""

from __future__ import annotations

from lit_nn.hookspecs import hookimpl
from lit_nn.lazy import LazyFactory, lazy
from lit_nn.models import RESNET_DEPTHS


@hookimpl
def lit_nn_register_backbones() -> dict[str, LazyFactory]:
    """Register the built-in backbones.

    Returns:
        Name to (lazy) factory: ``mlp``, ``cnn`` and ``resnet18`` … ``resnet152``.
    """
    backbones = {"mlp": lazy("lit_nn.models.mlp:MLP"), "cnn": lazy("lit_nn.models.cnn:CNN")}
    backbones.update({f"resnet{depth}": lazy("lit_nn.models.resnet:ResNet", depth) for depth in RESNET_DEPTHS})
    return backbones
