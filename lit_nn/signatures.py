"""What a factory's signature says: the keyword arguments it accepts, requires, and a readable line of them."""

from __future__ import annotations

import ast
import inspect
import textwrap
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

    A class whose ``__init__`` passes ``**kwargs`` on to its base shows the base's keyword
    arguments too (those with defaults: a base's required ones are the subclass's to give), so a
    datamodule built on :class:`~lit_nn.data.arrays.ArrayDataModule` lists ``batch_size`` and the
    rest rather than ``**kwargs``.

    Args:
        factory: A function or class.

    Returns:
        For example ``"delta=1.0, reduction='mean'"``; ``"-"`` when it takes none, ``"?"`` when
        the signature cannot be read.
    """
    params = parameters(factory)
    if params is None:
        return "?"
    if isinstance(factory, type) and takes_any_keyword(params):
        params = _through_bases(factory, params)
    parts = []
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        elif p.kind is not p.VAR_POSITIONAL:
            parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return ", ".join(parts) or "-"


def _through_bases(cls: type, own: list[inspect.Parameter]) -> list[inspect.Parameter]:
    """A class's own parameters, then its bases' keyword arguments with defaults, while ``**kwargs`` passes them on.

    An argument a class sets itself in its ``super().__init__(...)`` call (``num_classes=2``, or
    by position) is not the caller's to give, so its base's parameter is left out.
    """
    found = {p.name: p for p in own if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    rest: inspect.Parameter | None = next(p for p in own if p.kind is p.VAR_KEYWORD)
    fixed, by_position = _passed_to_super(cls)
    for klass in cls.__mro__[1:]:
        init = klass.__dict__.get("__init__")
        params = parameters(init) if init is not None and init is not object.__init__ else None
        if params is None:
            continue
        named = [p for p in params if p.kind in NAMED and p.name != "self"]
        fixed |= {p.name for p in named[:by_position]}
        for p in named:
            if p.default is not p.empty and p.name not in fixed:
                found.setdefault(p.name, p)
        rest = next((p for p in params if p.kind is p.VAR_KEYWORD), None)
        if rest is None:
            break
        more, by_position = _passed_to_super(klass)
        fixed |= more
    return [*found.values(), *([rest] if rest is not None else [])]


def _passed_to_super(cls: type) -> tuple[set[str], int]:
    """What a class's own ``__init__`` gives its base: the keywords by name, and how many by position."""
    init = cls.__dict__.get("__init__")
    if init is None:
        return set(), 0
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return set(), 0
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__"
    ]
    names = {keyword.arg for call in calls for keyword in call.keywords if keyword.arg is not None}
    positions = max((sum(not isinstance(a, ast.Starred) for a in call.args) for call in calls), default=0)
    return names, positions


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
