"""Loading plugins: built-ins first, then entry points of the ``lit_nn`` group, then extras.

A plugin that fails to import, implements an unknown hook, raises in a hook or returns something
malformed is reported (warning, or error in strict mode) and left out; the rest still load.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pluggy

from lit_nn import __version__, hookspecs
from lit_nn.builtins import BUILTIN_PLUGINS
from lit_nn.env import flag
from lit_nn.errors import (
    DuplicateNameError,
    PluginConfigError,
    PluginLoadError,
    PluginLoadWarning,
    suggest,
)
from lit_nn.hookspecs import PROJECT_NAME
from lit_nn.lazy import LazyFactory
from lit_nn.registry_data import (
    KINDS,
    SINGULAR,
    Entry,
    Kind,
    PluginInfo,
    Registry,
    factory_problem,
    hook_name,
    name_problem,
)


def _names(environ: Mapping[str, str], key: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in environ.get(key, "").split(",") if n.strip())


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class PluginSettings:
    """Which plugins to load.

    Attributes:
        autoload: Load every installed entry point.
        enable: Entry points to load even when ``autoload`` is off.
        disable: Entry points or distributions never to load.
        strict: Raise :class:`PluginLoadError` instead of warning.
    """

    autoload: bool = True
    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    strict: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PluginSettings:
        """Read the settings from environment variables.

        Args:
            environ: The environment.

        Returns:
            The settings.
        """
        return cls(
            autoload=not flag("LIT_NN_DISABLE_PLUGIN_AUTOLOAD", environ, PluginConfigError),
            enable=_names(environ, "LIT_NN_PLUGINS"),
            disable=_names(environ, "LIT_NN_DISABLE_PLUGINS"),
            strict=flag("LIT_NN_STRICT_PLUGINS", environ, PluginConfigError),
        )


class _PluginProblem(Exception):
    """Something wrong with one plugin, phrased for its author."""


class _Loader:
    def __init__(self, settings: PluginSettings) -> None:
        self.settings = settings
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.infos: list[PluginInfo] = []
        self.loaded: list[tuple[PluginInfo, dict[Kind, dict[str, Any]]]] = []

    def fail(self, info: PluginInfo, problem: str) -> None:
        info.status, info.reason = "failed", problem
        self.infos.append(info)
        message = (
            f"Error loading lit_nn {info.describe()}: {problem}. Fix or uninstall it, or disable "
            f"it with LIT_NN_DISABLE_PLUGINS={info.name}."
        )
        if self.settings.strict or info.builtin:
            raise PluginLoadError(message)
        warnings.warn(message, PluginLoadWarning, stacklevel=4)

    def add(self, plugin: object, info: PluginInfo) -> None:
        try:
            self.pm.register(plugin, name=info.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self.fail(info, str(exc).replace("\n", "; "))
            return
        try:
            self._check_hooks(plugin)
            collected = {kind: self._collect(plugin, kind) for kind in KINDS}
        except _PluginProblem as exc:
            self.pm.unregister(plugin)
            self.fail(info, str(exc))
            return
        info.registers = {kind: sorted(names) for kind, names in collected.items() if names}
        self.infos.append(info)
        self.loaded.append((info, collected))

    def _check_hooks(self, plugin: object) -> None:
        known = [hook_name(kind) for kind in KINDS]
        callers = self.pm.get_hookcallers(plugin) or []
        for caller in callers:
            if not caller.has_spec():
                raise _PluginProblem(
                    f"it implements {caller.name!r}, which is not a lit_nn hook."
                    f"{suggest(caller.name, known)} The hooks are: {', '.join(known)}"
                )
        if not callers:
            raise _PluginProblem(
                "it implements no lit_nn hook; mark functions named after a hook "
                f"({', '.join(known)}) with @lit_nn.hookimpl"
            )

    def _collect(self, plugin: object, kind: str) -> dict[str, Any]:
        name = hook_name(kind)
        caller = getattr(self.pm.hook, name)
        if not any(impl.plugin is plugin for impl in caller.get_hookimpls()):
            return {}
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        try:
            results = self.pm.subset_hook_caller(name, remove_plugins=others)()
        except Exception as exc:  # a plugin's bug must not stop the others loading
            raise _PluginProblem(f"{name}() raised {type(exc).__name__}: {exc}") from exc
        if not results:
            raise _PluginProblem(f"{name}() returned None; it must return a dict of name to factory")
        return _validate(kind, name, results[0])

    def entries(self) -> dict[str, dict[str, Entry]]:
        entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        conflicts = []
        for info, collected in self.loaded:
            for kind, factories in collected.items():
                for name, factory in factories.items():
                    first = entries[kind].get(name)
                    if first is None:
                        entries[kind][name] = Entry(kind, name, factory, info)
                    else:
                        conflicts.append(_duplicate_message(kind, name, first.plugin, info))
        if conflicts:
            raise DuplicateNameError("\n".join(conflicts))
        return entries


def _validate(kind: str, hook: str, result: object) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise _PluginProblem(f"{hook}() returned {type(result).__name__}, not a dict of name to factory")
    for name, factory in result.items():
        wrong = name_problem(kind, name)
        if wrong:
            raise _PluginProblem(f"{hook}() registered the name {name!r}; {wrong}")
        problem = None if isinstance(factory, LazyFactory) else factory_problem(kind, factory)
        if problem:
            raise _PluginProblem(f"{hook}() registered {name!r} as {problem}")
    return dict(result)


def _duplicate_message(kind: str, name: str, first: PluginInfo, second: PluginInfo) -> str:
    third_party = [p for p in (first, second) if not p.builtin]
    ways = " or ".join(f"LIT_NN_DISABLE_PLUGINS={p.name}" for p in third_party)
    uninstall = " or ".join(f"`pip uninstall {p.distribution}`" for p in third_party if p.distribution)
    note = " Built-in names cannot be replaced." if len(third_party) == 1 else ""
    fix = f"Disable one with {ways}" + (f", or remove it with {uninstall}" if uninstall else "")
    return (
        f"The {SINGULAR[kind]} {name!r} is registered twice: by {first.describe()} and by "
        f"{second.describe()}.{note} {fix}."
    )


def _entry_point_info(ep: importlib.metadata.EntryPoint) -> PluginInfo:
    dist = getattr(ep, "dist", None)
    return PluginInfo(
        name=ep.name,
        distribution=dist.name if dist else None,
        version=dist.version if dist else None,
        entry_point=ep.value,
    )


def _check_disable(settings: PluginSettings, infos: Sequence[PluginInfo]) -> set[str]:
    """Return the canonical names to block; refuse built-ins, warn about unknown names."""
    builtins = {_canonical(n) for n in (*BUILTIN_PLUGINS, "lit_nn")}
    known = {_canonical(n) for info in infos for n in (info.name, info.distribution or "")}
    installed = sorted(info.name for info in infos)
    for name in settings.disable:
        if _canonical(name) in builtins:
            raise PluginConfigError(
                f"LIT_NN_DISABLE_PLUGINS names {name!r}, which is built into lit_nn; built-in "
                "plugins cannot be disabled. Remove it from LIT_NN_DISABLE_PLUGINS (installed "
                f"plugins you can disable: {', '.join(installed) or 'none'})."
            )
        if _canonical(name) not in known:
            warnings.warn(
                f"LIT_NN_DISABLE_PLUGINS names {name!r}, which is not an installed plugin."
                f"{suggest(name, installed)} Installed plugins: {', '.join(installed) or 'none'}.",
                PluginLoadWarning,
                stacklevel=4,
            )
    return {_canonical(n) for n in settings.disable}


def load_plugins(settings: PluginSettings, extra_plugins: Sequence[object] = ()) -> Registry:
    """Load built-ins, entry points and ``extra_plugins`` as ``settings`` say.

    Args:
        settings: Which plugins to load.
        extra_plugins: Plugin objects to register after the entry points.

    Returns:
        The registry.

    Raises:
        DuplicateNameError: If two plugins register the same name.
        PluginLoadError: If a plugin fails to load in strict mode, or a built-in fails.
        PluginConfigError: If asked to disable a built-in.
    """
    loader = _Loader(settings)
    for module_name in BUILTIN_PLUGINS:
        info = PluginInfo(module_name, "lit_nn", __version__, builtin=True)
        loader.add(importlib.import_module(module_name), info)

    found = [(ep, _entry_point_info(ep)) for ep in importlib.metadata.entry_points(group=PROJECT_NAME)]
    # Sorted, so load order and messages do not depend on the order of sys.path.
    points = sorted(found, key=lambda pair: (pair[1].name, pair[1].distribution or ""))
    blocked = _check_disable(settings, [info for _, info in points])
    seen: dict[str, PluginInfo] = {}
    for ep, info in points:
        if blocked & {_canonical(info.name), _canonical(info.distribution or "")}:
            info.status, info.reason = "disabled", "disabled by LIT_NN_DISABLE_PLUGINS"
            loader.infos.append(info)
        elif not settings.autoload and info.name not in settings.enable:
            info.status = "not loaded"
            info.reason = "autoload is off and LIT_NN_PLUGINS does not list it"
            loader.infos.append(info)
        elif info.name in seen:
            loader.fail(info, f"the plugin name is also used by {seen[info.name].describe()}")
        else:
            seen[info.name] = info
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not stop the others loading
                loader.fail(info, f"{type(exc).__name__}: {exc}")
                continue
            loader.add(plugin, info)

    for name in settings.enable:
        if name not in {info.name for _, info in points}:
            loader.fail(PluginInfo(name), "LIT_NN_PLUGINS lists it but no installed package provides it")
    for plugin in extra_plugins:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        loader.add(plugin, PluginInfo(name))
    return Registry(loader.entries(), loader.infos, loader.pm)
