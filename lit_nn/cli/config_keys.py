"""Every unknown key of the config files a command was given, found at once.

jsonargparse stops at the first key it does not know; a user with three typos would need three
runs to learn of them. When it stops on one, lit_nn reads the user's config files once more and
checks every key against the parser's options and the arguments of the classes the files name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from lit_nn.cli.shipped_configs import config_file, shipped_configs
from lit_nn.errors import suggest

CLASS_SECTIONS = ("model", "data")
"""Sections holding a class and its arguments (``class_path`` / ``init_args``), checked against the class."""
CLASS_KEYS = ("class_path", "init_args", "dict_kwargs", "__path__")


def config_values(args: Sequence[str]) -> list[str]:
    """The values of ``-c`` / ``--config`` on a command line, in order.

    Args:
        args: The command's arguments.

    Returns:
        What followed each ``-c`` (paths, shipped names or YAML text).
    """
    values = []
    for index, arg in enumerate(args):
        if arg in ("-c", "--config") and index + 1 < len(args):
            values.append(args[index + 1])
        elif arg.startswith("--config="):
            values.append(arg.split("=", 1)[1])
    return values


def _read(value: str) -> tuple[str, dict[str, Any]] | None:
    """A ``-c`` value's file name and contents, or ``None`` when it is not a readable YAML mapping."""
    try:
        path = config_file(value)
        if not Path(path).is_file():
            return None
        loaded = yaml.safe_load(Path(path).read_text())
    except Exception:  # noqa: BLE001 (the parser has its own message for a file it cannot read)
        return None
    return (path, loaded) if isinstance(loaded, dict) else None


def _classes(sources: Iterable[dict[str, Any]], args: Sequence[str]) -> dict[str, str]:
    """The class each class section names, the last word winning (``--model X`` after every file)."""
    named: dict[str, str] = {}
    for source in sources:
        for section in CLASS_SECTIONS:
            value = source.get(section)
            if isinstance(value, str):
                named[section] = value
            elif isinstance(value, dict) and isinstance(value.get("class_path"), str):
                named[section] = value["class_path"]
    for index, arg in enumerate(args[:-1]):
        for section in CLASS_SECTIONS:
            if arg == f"--{section}":
                named[section] = args[index + 1]
    return named


def _unknown_in(prefix: str, value: Any, options: set[str]) -> list[str]:  # noqa: ANN401 (YAML)
    """Dotted keys under ``prefix`` the parser has no option for."""
    if isinstance(value, dict) and any(option.startswith(f"--{prefix}.") for option in options):
        if set(value) & set(CLASS_KEYS):  # a class given by its path (trainer.logger): jsonargparse judges it
            return []
        return [key for name, inner in value.items() for key in _unknown_in(f"{prefix}.{name}", inner, options)]
    return [] if f"--{prefix}" in options else [prefix]


def unknown_keys(
    args: Sequence[str],
    options: Iterable[str],
    parameters: Callable[[str, str], list[str] | None],
) -> dict[str, list[str]]:
    """Every key of the user's config files (shipped ones are left out) that nothing accepts.

    Args:
        args: The command's arguments.
        options: The command parser's option strings (``--trainer.max_epochs`` …).
        parameters: Given a section (``model``, ``data``) and the class it names, that class's
            argument names, or ``None`` when the class cannot be resolved (its keys are then not judged).

    Returns:
        File to its unknown keys, each with a did-you-mean hint where one helps, in file order.
    """
    known = set(options)
    shipped = {str(path) for path in shipped_configs().values()}
    sources = [read for value in config_values(args) if (read := _read(value)) is not None]
    classes = _classes((contents for _, contents in sources), args)
    found: dict[str, list[str]] = {}
    for path, contents in sources:
        if path in shipped:
            continue
        wrong = []
        for name, value in contents.items():
            if name in CLASS_SECTIONS and isinstance(value, dict):
                wrong += _unknown_arguments(name, value, classes.get(name), parameters)
            else:
                wrong += [_hinted(key, known) for key in _unknown_in(str(name), value, known)]
        if wrong:
            found[path] = wrong
    return found


def _unknown_arguments(
    section: str,
    value: Mapping[str, Any],
    class_path: str | None,
    parameters: Callable[[str, str], list[str] | None],
) -> list[str]:
    """Keys of a class section that its class does not accept."""
    accepted = parameters(section, class_path) if class_path else None
    if accepted is None:
        return []
    init = value.get("init_args")
    given = init if isinstance(init, dict) else {k: v for k, v in value.items() if k not in CLASS_KEYS}
    prefix = f"{section}.init_args" if isinstance(init, dict) else section
    return [
        f"{prefix}.{key}{_hint(str(key), accepted)}" for key in given if key not in accepted and key not in CLASS_KEYS
    ]


def _hinted(key: str, options: set[str]) -> str:
    """``key`` with a hint among the options of its own section."""
    section, _, leaf = key.rpartition(".")
    siblings = [o.rsplit(".", 1)[-1] for o in options if o.startswith(f"--{section}.")] if section else []
    if not section:
        siblings = [o[2:] for o in options if o.startswith("--") and "." not in o]
    return f"{key}{_hint(leaf, siblings)}"


def _hint(word: str, candidates: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` or nothing."""
    said = suggest(word, candidates).strip()
    return f" ({said[0].lower()}{said[1:]})" if said else ""


def describe(found: Mapping[str, list[str]]) -> str:
    """One line naming every unknown key of every file.

    Args:
        found: From :func:`unknown_keys`.

    Returns:
        For example ``"typos.yaml has 2 unknown keys: trainer.max_epocs (did you mean 'max_epochs'?), …"``.
    """
    parts = []
    for path, keys in found.items():
        count = f"{len(keys)} unknown key{'s' if len(keys) > 1 else ''}"
        parts.append(f"{path} has {count}: {', '.join(keys)}")
    return "; ".join(parts) + ". See `lit-nn COMMAND --help` for the options (`--model.help CLASS` for a class's)"
