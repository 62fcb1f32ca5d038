"""What a factory's signature says: the keyword arguments it accepts, requires, and a readable line of them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def parameters(factory: Callable[..., Any]) -> list[inspect.Parameter] | None:
    """The parameters of a function or class.

    Args:
        factory: A function, class or :func:`functools.partial`.

    Returns:
        Its parameters, or ``None`` when Python cannot read a signature (some built-ins).
    """
    try:
        return list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return None


def takes_any_keyword(params: list[inspect.Parameter]) -> bool:
    """Whether a signature ends in ``**kwargs``.

    Args:
        params: From :func:`parameters`.

    Returns:
        True when any keyword is accepted.
    """
    return any(p.kind is p.VAR_KEYWORD for p in params)


def accepted(factory: Callable[..., Any]) -> list[str] | None:
    """The keyword arguments a factory accepts.

    Args:
        factory: A function or class.

    Returns:
        The names, or ``None`` when it takes arbitrary ``**kwargs`` (or has no readable signature).
    """
    params = parameters(factory)
    if params is None or takes_any_keyword(params):
        return None
    return [p.name for p in params if p.kind in NAMED]


def required(factory: Callable[..., Any]) -> list[str]:
    """The keyword arguments a factory cannot do without.

    Args:
        factory: A function or class.

    Returns:
        The names without a default (none when the signature cannot be read).
    """
    return [p.name for p in parameters(factory) or [] if p.default is p.empty and p.kind in NAMED]


def text(factory: Callable[..., Any]) -> str:
    """A factory's keyword arguments and their defaults, for listings.

    Args:
        factory: A function or class.

    Returns:
        For example ``"delta=1.0, reduction='mean'"``; ``"-"`` when it takes none, ``"?"`` when
        the signature cannot be read.
    """
    params = parameters(factory)
    if params is None:
        return "?"
    parts = []
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        elif p.kind is not p.VAR_POSITIONAL:
            parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return ", ".join(parts) or "-"


def init_keywords(cls: type) -> list[str]:
    """The keyword names a class's ``__init__`` accepts, following ``**kwargs`` up its bases.

    Args:
        cls: The class.

    Returns:
        The names, nearest class first, without repeats.
    """
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        params = parameters(init) if init is not None else None
        if params is None:
            continue
        names += [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        if not takes_any_keyword(params):
            break
    return list(dict.fromkeys(names))
