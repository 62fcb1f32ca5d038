"""Built-in activations: the textbook's sigmoid, tanh, ReLU and Leaky ReLU, and modern variants.

The factories live in :mod:`lit_nn.models.activations`; they are registered lazily, so listing
them imports nothing heavy.
"""

from __future__ import annotations

from lit_nn.hookspecs import hookimpl
from lit_nn.lazy import LazyFactory, lazy

NAMES = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "gelu", "silu", "softplus", "mish")
"""Each is the name of its factory function in :mod:`lit_nn.models.activations`."""


@hookimpl
def lit_nn_register_activations() -> dict[str, LazyFactory]:
    """Register the built-in activations.

    Returns:
        Name to (lazy) factory.
    """
    return {name: lazy(f"lit_nn.models.activations:{name}") for name in NAMES}
