"""The registry's data model: every activation, loss, backbone, datamodule and task name, and who provided it.

Nothing here builds a registry: :mod:`lit_nn.plugin_loader` fills one from the hooks, and
:mod:`lit_nn.registry` is the public way in (``build_registry``, ``default_registry``).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import pluggy

from lit_nn import signatures
from lit_nn.errors import InvalidArgumentsError, PluginLoadError, UnknownNameError, suggest
from lit_nn.lazy import LazyFactory, LazyTargetError

Kind = Literal["activations", "losses", "backbones", "datamodules", "tasks"]
KINDS: tuple[Kind, ...] = get_args(Kind)
SINGULAR: dict[str, str] = {
    "activations": "activation",
    "losses": "loss",
    "backbones": "backbone",
    "datamodules": "datamodule",
    "tasks": "task",
}

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
"""Registered names: lower case letters, digits and underscores, starting with a letter."""
CLASS_NAME_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]*$")
"""Registered task names: a class name (``MyTask``), as configs and ``--model`` spell a task."""


def name_problem(kind: str, name: object) -> str | None:
    """Say what is wrong with a registered name, if anything.

    Tasks are configured by class name (``model: RegressionTask``, ``--model RegressionTask``), so
    they register under one; every other kind under a lower-case name (``data: digits``).

    Args:
        kind: Its kind.
        name: The name a hook returned.

    Returns:
        ``None`` when it is valid, else what names of that kind must look like.
    """
    if kind == "tasks":
        if isinstance(name, str) and CLASS_NAME_PATTERN.match(name):
            return None
        return "task names are class names: letters and digits, starting with a capital letter"
    if isinstance(name, str) and NAME_PATTERN.match(name):
        return None
    return "names must be lower case letters, digits and underscores, starting with a letter"


def hook_name(kind: str) -> str:
    """Name of the hook that registers ``kind``.

    Args:
        kind: One of :data:`KINDS`.

    Returns:
        For example ``"lit_nn_register_losses"``.
    """
    return f"lit_nn_register_{kind}"


@dataclass
class PluginInfo:
    """One plugin as the registry saw it.

    Attributes:
        name: Plugin name: the entry-point name, or the module name for built-ins.
        distribution: The installed distribution that provides it (``None`` when passed in code).
        version: That distribution's version.
        entry_point: The entry point's value, ``"module:attribute"``.
        builtin: Whether it ships with lit_nn.
        status: ``"loaded"``, ``"failed"``, ``"disabled"`` or ``"not loaded"``.
        reason: Why it failed or was not loaded.
        registers: Kind to the sorted names it registered.
    """

    name: str
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None
    builtin: bool = False
    status: str = "loaded"
    reason: str = ""
    registers: dict[str, list[str]] = field(default_factory=dict)

    def describe(self) -> str:
        """Say where the plugin comes from, for messages.

        Returns:
            For example ``"plugin 'extras' (entry point 'extras = lit_nn_extras' in lit-nn-extras
            0.2.0)"``.
        """
        kind = "built-in plugin" if self.builtin else "plugin"
        origin = [f"entry point '{self.name} = {self.entry_point}'"] if self.entry_point else []
        if self.distribution:
            origin.append(f"{self.distribution} {self.version}")
        where = f" ({' in '.join(origin)})" if origin else ""
        return f"{kind} '{self.name}'{where}"


def import_path(obj: Any) -> str:  # noqa: ANN401 (a class or function)
    """The dotted import path of a class or function.

    Args:
        obj: A class or function.

    Returns:
        ``"module.Name"``.
    """
    return f"{obj.__module__}.{obj.__qualname__}"


def factory_problem(kind: str, factory: object) -> str | None:
    """Say what is wrong with a registered factory, if anything.

    Args:
        kind: Its kind.
        factory: The imported object (not a lazy reference).

    Returns:
        ``None`` when it is usable, else the problem, phrased for the plugin's author.
    """
    bases = {"datamodules": "LightningDataModule", "tasks": "LightningModule"}
    if kind in bases:
        # A Lightning subclass was defined by code that imported Lightning, so Lightning is
        # imported already whenever the check can pass: never import it just to check.
        lightning = sys.modules.get("lightning.pytorch")
        base = getattr(lightning, bases[kind], None)
        if base is None or not (isinstance(factory, type) and issubclass(factory, base)):
            return f"{factory!r}, not a {bases[kind]} subclass"
    elif not callable(factory):
        return f"{factory!r}, which is not callable"
    return None


@dataclass(frozen=True)
class Entry:
    """A registered name.

    Attributes:
        kind: Its kind.
        name: The registered name.
        registered: What the hook returned for it: the factory, or a :func:`~lit_nn.lazy.lazy`
            reference to it.
        plugin: The plugin that registered it.
    """

    kind: str
    name: str
    registered: Any
    plugin: PluginInfo

    @property
    def target(self) -> str:
        """Where the factory lives, ``"module.name"``, without importing a lazy one."""
        if isinstance(self.registered, LazyFactory):
            return f"{self.registered.module}.{self.registered.qualname}"
        return import_path(getattr(self.registered, "func", self.registered))  # a partial's function

    @functools.cached_property
    def factory(self) -> Callable[..., Any]:
        """The factory, imported on first use when it was registered lazily.

        Raises:
            PluginLoadError: If a lazy target cannot be imported or is not a usable factory,
                naming the plugin and how to disable it.
        """
        if not isinstance(self.registered, LazyFactory):
            return self.registered
        problem: str | None
        try:
            factory = self.registered.resolve()
        except LazyTargetError as exc:
            problem = str(exc)
        else:
            problem = factory_problem(self.kind, self.registered.obj)
            if problem is None:
                return factory
            problem = f"{self.registered!r} is {problem}"
        raise PluginLoadError(
            f"Error loading lit_nn {self.plugin.describe()}: its {SINGULAR[self.kind]} {self.name!r}: "
            f"{problem}. Fix or uninstall it, or disable it with LIT_NN_DISABLE_PLUGINS={self.plugin.name}."
        )


class Registry:
    """Names to factories for each kind, built from the loaded plugins.

    Args:
        entries: Kind to name to :class:`Entry`.
        plugins: Every plugin seen, loaded or not.
        plugin_manager: The pluggy manager the plugins are registered with.
    """

    def __init__(
        self,
        entries: Mapping[str, Mapping[str, Entry]],
        plugins: Sequence[PluginInfo],
        plugin_manager: pluggy.PluginManager,
    ) -> None:
        self._entries = {kind: dict(entries.get(kind, {})) for kind in KINDS}
        self.plugins: tuple[PluginInfo, ...] = tuple(plugins)
        self.plugin_manager = plugin_manager

    @property
    def failures(self) -> list[PluginInfo]:
        """Plugins that failed to load."""
        return [p for p in self.plugins if p.status == "failed"]

    def names(self, kind: str) -> list[str]:
        """List the names of one kind.

        Args:
            kind: One of :data:`KINDS`.

        Returns:
            The sorted names.
        """
        return sorted(self._kind(kind))

    def entries(self, kind: str) -> list[Entry]:
        """List the entries of one kind.

        Args:
            kind: One of :data:`KINDS`.

        Returns:
            The entries sorted by name.
        """
        entries = self._kind(kind)
        return [entries[name] for name in sorted(entries)]

    def entry(self, kind: str, name: str) -> Entry:
        """Look up one name.

        Args:
            kind: One of :data:`KINDS`.
            name: The registered name.

        Returns:
            Its entry.

        Raises:
            UnknownNameError: If no plugin registered ``name``; the message lists the
                available names, close matches and how to list them.
        """
        entries = self._kind(kind)
        if name in entries:
            return entries[name]
        available = sorted(entries)
        listing = ", ".join(available) if available else f"none (no plugin registers {kind})"
        raise UnknownNameError(
            f"Unknown {SINGULAR[kind]} {name!r}.{suggest(str(name), available)} "
            f"Available {kind}: {listing}. "
            f"Run `lit-nn plugins --kind {kind}` to list them with their providers."
        )

    def get(self, kind: str, name: str) -> Callable[..., Any]:
        """Return the factory registered under ``name``.

        Args:
            kind: One of :data:`KINDS`.
            name: The registered name.

        Returns:
            The factory (a ``LightningDataModule`` subclass for datamodules, a
            ``LightningModule`` subclass for tasks).
        """
        return self.entry(kind, name).factory

    def create(self, kind: str, name: str, /, **kwargs: Any) -> Any:
        """Call the factory registered under ``name`` with keyword arguments.

        Args:
            kind: One of :data:`KINDS`.
            name: The registered name.
            **kwargs: Passed to the factory.

        Returns:
            What the factory returns.

        Raises:
            InvalidArgumentsError: If the factory does not accept ``kwargs`` or rejects their
                values.
        """
        factory = self.get(kind, name)
        what = f"{SINGULAR[kind]} {name!r}"
        check_arguments(factory, kwargs, what=what)
        try:
            return factory(**kwargs)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentsError(f"The {what} rejected its arguments: {exc}") from exc

    def _kind(self, kind: str) -> dict[str, Entry]:
        if kind not in self._entries:
            raise ValueError(f"Unknown registry kind {kind!r}; use one of {', '.join(KINDS)}")
        return self._entries[kind]


def check_arguments(factory: Callable[..., Any], kwargs: Mapping[str, Any], *, what: str) -> None:
    """Check keyword arguments against a factory's signature before calling it.

    Args:
        factory: A function or class.
        kwargs: The keyword arguments to pass.
        what: How to name the factory in messages, for example ``"loss 'huber'"``.

    Raises:
        InvalidArgumentsError: On an unknown or a missing required argument, naming the
            accepted ones and close matches.
    """
    names = signatures.accepted(factory)
    if names is None:
        return
    listing = ", ".join(names) if names else "no arguments"
    for key in kwargs:
        if key not in names:
            raise InvalidArgumentsError(
                f"The {what} got an unknown argument {key!r}.{suggest(key, names)} It accepts: {listing}."
            )
    missing = [name for name in signatures.required(factory) if name not in kwargs]
    if missing:
        raise InvalidArgumentsError(f"The {what} needs the argument(s) {', '.join(missing)}.")
