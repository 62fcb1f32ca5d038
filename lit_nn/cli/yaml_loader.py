"""How lit_nn reads YAML: jsonargparse's own loader, refusing duplicate keys and naming file and line.

Registered with jsonargparse as the parser mode ``lit_nn`` (its ``set_loader`` extension point), so
config files, the files they include and YAML values on the command line all go through it.
"""

from __future__ import annotations

from typing import Any

import yaml
from jsonargparse import get_loader, set_loader

MODE = "lit_nn"
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigYAMLError(yaml.YAMLError):
    """A config that is not valid YAML, or holds a key twice; the message names the file and line."""


def duplicate_key(node: yaml.Node | None) -> str | None:
    """Find a key given twice in one mapping (YAML lets the last one win, silently).

    Args:
        node: A composed YAML document.

    Returns:
        ``"'key' appears twice (lines 3 and 7)"``, or ``None``.
    """
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        return f"the key {key.value!r} appears twice (lines {seen[key.value]} and {line})"
                    seen[key.value] = line
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return None


def load(value: str, path: str | None = None) -> Any:  # noqa: ANN401 (any YAML value)
    """Load YAML text as jsonargparse does, after checking it for duplicate keys.

    Args:
        value: The text.
        path: The file it came from, for messages.

    Returns:
        The loaded value.

    Raises:
        ConfigYAMLError: On invalid YAML, a duplicate key, or a config file that is not a mapping,
            naming the file and line.
    """
    where = str(path) if path else "the config"
    try:
        twice = duplicate_key(yaml.compose(value, Loader=_FAST_LOADER))
        if twice:
            raise ConfigYAMLError(f"{where}: {twice}; the second would silently win, keep one")
        loaded = get_loader("yaml")(value)  # jsonargparse's own, with its treatment of `key:` values
    except ConfigYAMLError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigYAMLError(f"{where} is not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    if path and not isinstance(loaded, dict):  # a config file, as opposed to a value
        raise ConfigYAMLError(
            f"{where} must hold a mapping of settings (model:, data:, trainer: …), not {type(loaded).__name__}"
        )
    return loaded


def register() -> None:
    """Make ``parser_mode="lit_nn"`` read YAML with :func:`load` (idempotent)."""
    set_loader(MODE, load, exceptions=(yaml.YAMLError,))
