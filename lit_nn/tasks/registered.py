"""What the registered tasks, built-in and plugins' alike, say about themselves as a group."""

from __future__ import annotations

import warnings

from lit_nn.errors import PluginLoadError, PluginLoadWarning
from lit_nn.registry import Registry, default_registry


def size_arguments(registry: Registry | None = None) -> tuple[str, ...]:
    """Every registered task's ``size_argument``: the datamodule attributes a model takes its size from.

    Args:
        registry: The registry (default: the process-wide one).

    Returns:
        The distinct names, sorted (``num_classes``, ``num_targets`` and any a plugin task adds).
    """
    found = set()
    for entry in (registry or default_registry()).entries("tasks"):
        try:
            name = getattr(entry.factory, "size_argument", None)
        except PluginLoadError as exc:  # a broken plugin task fails when it is used, not for every command
            warnings.warn(str(exc), PluginLoadWarning, stacklevel=2)
            continue
        if isinstance(name, str):
            found.add(name)
    return tuple(sorted(found))
