"""The registry: every activation, loss, backbone, datamodule and task name, and who provided it.

Build one with :func:`build_registry` (tests get isolated registries that way); the CLI and the
tasks share :func:`default_registry`. The data model lives in :mod:`lit_nn.registry_data`, the
loading of plugins in :mod:`lit_nn.plugin_loader`; the names its users need are re-exported from them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from lit_nn.plugin_loader import PluginSettings, load_plugins
from lit_nn.registry_data import KINDS, Registry, hook_name

__all__ = ["KINDS", "Registry", "build_registry", "default_registry", "hook_name"]


def build_registry(
    *,
    plugins: Iterable[object] = (),
    autoload: bool | None = None,
    enable: Iterable[str] | None = None,
    disable: Iterable[str] | None = None,
    strict: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> Registry:
    """Load the built-ins and the installed plugins into a new registry.

    Settings not given here come from the environment (see ``docs/plugins.md``):
    ``LIT_NN_DISABLE_PLUGIN_AUTOLOAD``, ``LIT_NN_PLUGINS``, ``LIT_NN_DISABLE_PLUGINS`` and
    ``LIT_NN_STRICT_PLUGINS``.

    Args:
        plugins: Extra plugin objects (modules, classes, instances) to register after the
            entry points; handy for tests and notebooks.
        autoload: Load every installed entry point (default: on).
        enable: Entry points to load even when autoload is off.
        disable: Entry points (or distributions) never to load.
        strict: Raise instead of warning when a plugin fails to load.
        environ: Environment to read settings from (default: ``os.environ``).

    Returns:
        The registry.
    """
    settings = PluginSettings.from_env(os.environ if environ is None else environ)
    changes: dict[str, Any] = {}
    if autoload is not None:
        changes["autoload"] = autoload
    if strict is not None:
        changes["strict"] = strict
    if enable is not None:
        changes["enable"] = tuple(enable)
    if disable is not None:
        changes["disable"] = tuple(disable)
    settings = replace(settings, **changes)
    return load_plugins(settings, extra_plugins=list(plugins))


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry, built once from the environment.

    Returns:
        The shared registry (``default_registry.cache_clear()`` rebuilds it).
    """
    return build_registry()
