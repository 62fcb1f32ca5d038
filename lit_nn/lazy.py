"""Lazy registrations: a plugin names its factories by import path; they are imported when used.

A hook may return ``lazy("package.module:attribute")`` instead of the object itself. Listing the
names (``lit-nn plugins``, ``--help``, a misspelt name's suggestions) then imports nothing heavy:
torch and Lightning are imported only when a factory is first called or inspected.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any


class LazyTargetError(ImportError):
    """A lazy registration whose target cannot be imported; the registry names the plugin."""


class LazyFactory:
    """A factory named by ``"module:attribute"``, imported on first use.

    A value, not a callable: the registry's :attr:`~lit_nn.registry.Entry.factory` imports it
    (:meth:`resolve`) and checks it the first time the name is used.

    Args:
        target: ``"package.module:attribute"`` (the attribute may be dotted, ``Class.method``).
        *args: Positional arguments bound before the caller's (as :func:`functools.partial`).
        **kwargs: Keyword arguments bound before the caller's.

    Raises:
        ValueError: If ``target`` is not of the form ``"module:attribute"``.
    """

    def __init__(self, target: str, /, *args: Any, **kwargs: Any) -> None:
        module, sep, attribute = target.partition(":")
        if not (sep and module and attribute):
            raise ValueError(f"lazy target {target!r} must be 'package.module:attribute'")
        self.target = target
        self.args = args
        self.kwargs = kwargs

    @property
    def module(self) -> str:
        """The module the target lives in."""
        return self.target.partition(":")[0]

    @property
    def qualname(self) -> str:
        """The target's name inside its module."""
        return self.target.partition(":")[2]

    @functools.cached_property
    def obj(self) -> Any:
        """The imported target (without the bound arguments).

        Raises:
            LazyTargetError: If the module or the attribute cannot be imported.
        """
        try:
            found: Any = importlib.import_module(self.module)
            for part in self.qualname.split("."):
                found = getattr(found, part)
        except Exception as exc:  # any error raised while importing the plugin's module
            raise LazyTargetError(f"cannot import {self.target!r}: {type(exc).__name__}: {exc}") from exc
        return found

    def resolve(self) -> Callable[..., Any]:
        """Import the target.

        Returns:
            The target itself, or a :func:`functools.partial` of it when arguments are bound.
        """
        if self.args or self.kwargs:
            return functools.partial(self.obj, *self.args, **self.kwargs)
        return self.obj

    def __repr__(self) -> str:
        bound = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"lazy({', '.join([repr(self.target), *bound])})"


def lazy(target: str, /, *args: Any, **kwargs: Any) -> LazyFactory:
    """Name a factory by import path, for a registration hook to return.

    Args:
        target: ``"package.module:attribute"``.
        *args: Positional arguments to bind (as :func:`functools.partial`).
        **kwargs: Keyword arguments to bind.

    Returns:
        The lazy factory.

    Example:
        >>> @hookimpl
        ... def lit_nn_register_losses():
        ...     return {"pinball": lazy("my_plugin.losses:PinballLoss")}
    """
    return LazyFactory(target, *args, **kwargs)
