"""The configs shipped inside the package, usable by name from any folder: ``lit-nn fit -c digits``.

The repository keeps them in the top-level ``configs/`` folder; the wheel carries the same files as
the package data ``lit_nn.configs`` (``pyproject.toml`` maps one onto the other), so a checkout, an
editable install and an installed wheel all see one set of files.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from jsonargparse import ActionConfigFile

from lit_nn.console import notice
from lit_nn.errors import ConfigError, suggest

PACKAGE = "lit_nn.configs"


def shipped_configs() -> dict[str, Path]:
    """List the shipped configs by name: ``digits``, ``trainer/debug``, ``logger/wandb`` ….

    Returns:
        Name (the path under ``configs/`` without ``.yaml``) to file, sorted by name.
    """
    try:
        root = importlib.resources.files(PACKAGE)
    except ModuleNotFoundError:  # an install without its package data
        return {}
    found: dict[str, Path] = {}
    stack: list[tuple[str, Any]] = [("", root)]
    while stack:
        prefix, folder = stack.pop()
        for item in folder.iterdir():
            if item.is_dir() and not item.name.startswith(("_", ".")):
                stack.append((f"{prefix}{item.name}/", item))
            elif item.name.endswith(".yaml"):
                found[prefix + item.name[: -len(".yaml")]] = Path(str(item))
    return dict(sorted(found.items()))


def description(path: Path, width: int = 90) -> str:
    """What a config is for: the first sentence of its opening comment.

    Args:
        path: A YAML file.
        width: Longest text returned; a longer sentence is cut at a word.

    Returns:
        The sentence, without the ``#``.
    """
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line[1:] if line.startswith("#") else None
        if text is None or text.startswith("   ") or not text.strip():  # end of comment, or an example command
            break
        words.append(text.strip())
    sentence = " ".join(words).split(". ")[0].rstrip(".")
    if len(sentence) > width:
        sentence = sentence[: width - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return sentence


def config_file(value: str) -> str:
    """The file a ``-c`` value names: an existing file, else a shipped config's name.

    Args:
        value: What followed ``-c``: a path, a shipped name (``digits``, ``trainer/debug.yaml``)
            or YAML text.

    Returns:
        The path to read, or ``value`` unchanged (YAML text is parsed as such by jsonargparse).

    Raises:
        ConfigError: If it looks like a file name but is neither a file nor a shipped config.
    """
    if Path(value).is_file():
        return value
    shipped = shipped_configs()
    name = value[: -len(".yaml")] if value.endswith(".yaml") else value
    if name in shipped:
        return str(shipped[name])
    if name.removeprefix("configs/") in shipped:  # the repository's path, typed outside a checkout
        name = name.removeprefix("configs/")
        notice(f"{value} is not here; using the shipped config {name} ({shipped[name]})")
        return str(shipped[name])
    looks_like_a_file = value.endswith((".yaml", ".yml", ".json")) or ("/" in value and "\n" not in value)
    if looks_like_a_file or (value.isidentifier() and not value.startswith("{")):
        raise ConfigError(
            f"config file {value} does not exist, and no shipped config is called {name!r}."
            f"{suggest(name, shipped)} Shipped configs: {', '.join(shipped)} (`lit-nn configs` lists them with "
            "their files)"
        )
    return value


class ConfigFileOrName(ActionConfigFile):
    """``-c/--config``: a YAML file, YAML text, or the name of a shipped config."""

    def __call__(self, parser: Any, cfg: Any, values: Any, option_string: str | None = None) -> None:  # noqa: ANN401
        """Read the config a value names."""
        self.apply_config(parser, cfg, self.dest, config_file(values) if isinstance(values, str) else values)
