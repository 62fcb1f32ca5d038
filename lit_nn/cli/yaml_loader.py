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


MAX_CONFIG_CHARS = 8 << 20
"""The longest config text read (8 Mi characters); a config holds settings, and data belongs in files it names."""
MAX_ALIASED_VALUES = 100_000
"""The most values YAML aliases (``*name``) may add to a config by repeating what an anchor names."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def duplicate_key(node: yaml.Node | None) -> str | None:
    """Find a key given twice in one mapping (YAML lets the last one win, silently).

    Each node is looked at once, however many aliases repeat it.

    Args:
        node: A composed YAML document.

    Returns:
        ``"'key' appears twice (lines 3 and 7)"``, or ``None``.
    """
    stack = [node] if node is not None else []
    seen_nodes: set[int] = {id(node)}
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, _ in current.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        return f"the key {key.value!r} appears twice (lines {seen[key.value]} and {line})"
                    seen[key.value] = line
        for child in _children(current):
            if id(child) not in seen_nodes:
                seen_nodes.add(id(child))
                stack.append(child)
    return None


def aliased_values(node: yaml.Node | None, limit: int = MAX_ALIASED_VALUES) -> int:
    """How many values aliases add to a document once expanded (``limit + 1`` at most).

    Counted over the composed graph, where an alias is the node it names, each node once.

    Args:
        node: A composed YAML document.
        limit: Stop counting above this.

    Returns:
        The expanded document's values less its distinct ones, capped at ``limit + 1``.
    """
    if node is None:
        return 0
    order: list[yaml.Node] = []  # every distinct node, after the nodes it holds
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    seen: set[int] = set()
    while stack:
        current, held_done = stack.pop()
        if held_done:
            order.append(current)
        elif id(current) not in seen:
            seen.add(id(current))
            stack.append((current, True))
            stack.extend((child, False) for child in _children(current) if id(child) not in seen)
    cap = len(order) + limit + 1  # sizes stay small numbers, however far aliases would expand
    sizes: dict[int, int] = {}
    for current in order:  # YAML refuses an alias inside its own anchor, so the graph has no cycles
        sizes[id(current)] = min(cap, 1 + sum(sizes[id(child)] for child in _children(current)))
    return min(sizes[id(node)] - len(order), limit + 1)


def load(value: str, path: str | None = None) -> Any:  # noqa: ANN401 (any YAML value)
    """Load YAML text as jsonargparse does, after checking it for duplicate keys.

    Args:
        value: The text.
        path: The file it came from, for messages.

    Returns:
        The loaded value.

    Raises:
        ConfigYAMLError: On invalid YAML, a duplicate key, or a config file that is not a mapping,
            naming the file and line; on a text longer than :data:`MAX_CONFIG_CHARS`, or aliases that
            expand it by more than :data:`MAX_ALIASED_VALUES` values.
    """
    where = str(path) if path else "the config"
    if len(value) > MAX_CONFIG_CHARS:
        raise ConfigYAMLError(
            f"{where} holds {len(value):,} characters, more than the {MAX_CONFIG_CHARS:,} a config may have; a config "
            "holds settings: keep data in a file and give its path"
        )
    try:
        document = yaml.compose(value, Loader=_FAST_LOADER)
        if aliased_values(document) > MAX_ALIASED_VALUES:
            raise ConfigYAMLError(
                f"{where}: its aliases (*name) repeat what their anchors (&name) hold into more than "
                f"{MAX_ALIASED_VALUES:,} values; write the settings out, or repeat less"
            )
        twice = duplicate_key(document)
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
