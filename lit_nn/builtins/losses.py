"""Built-in losses, each an ``nn.Module`` called as ``loss(prediction, target)``.

The factories live in :mod:`lit_nn.models.losses`; they are registered lazily, so listing them
imports nothing heavy.
"""

from __future__ import annotations

from lit_nn.hookspecs import hookimpl
from lit_nn.lazy import LazyFactory, lazy

NAMES = ("mse", "l1", "huber", "smooth_l1", "bce_with_logits", "cross_entropy", "focal")
"""Each is the name of its factory function in :mod:`lit_nn.models.losses`."""


@hookimpl
def lit_nn_register_losses() -> dict[str, LazyFactory]:
    """Register the built-in losses.

    Returns:
        Name to (lazy) factory.
    """
    return {name: lazy(f"lit_nn.models.losses:{name}") for name in NAMES}
