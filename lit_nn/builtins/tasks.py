"""Built-in tasks: binary and multiclass classification and regression (registered lazily)."""

from __future__ import annotations

from lit_nn.hookspecs import hookimpl
from lit_nn.lazy import LazyFactory, lazy

NAMES = ("BinaryClassificationTask", "MulticlassClassificationTask", "RegressionTask")
"""Each a class of :mod:`lit_nn.tasks`; its import path, ``lit_nn.tasks.<name>``, is what configs record."""


@hookimpl
def lit_nn_register_tasks() -> dict[str, LazyFactory]:
    """Register the built-in tasks.

    Returns:
        Class name to (lazy) ``BaseTask`` subclass.
    """
    return {name: lazy(f"lit_nn.tasks:{name}") for name in NAMES}
