"""Turn jsonargparse's nested validation reports into one line a user can act on."""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence

from lit_nn.errors import suggest

_NOISE = (
    "Does not validate against any of the Union subtypes",
    "Subtypes:",
    "Errors:",
    "Given value type:",
    "Given value:",
    "Expected a <class 'NoneType'>",
    "Parser key",
    "Problem with given class_path",
    "Validation failed:",
)


def _parameters(class_path: str) -> list[str]:
    """Keyword names a class accepts, through its ``**kwargs`` chain (best effort)."""
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(__import__(module, fromlist=[name]), name)
    except (ImportError, AttributeError):
        return []
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names += [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return list(dict.fromkeys(names))


def condense(message: str, options: Sequence[str] = ()) -> str:
    """Reduce a jsonargparse error report to its most specific line.

    Args:
        message: ``str()`` of the error jsonargparse raised while parsing or instantiating.
        options: The parser's option strings, to suggest one for an unrecognised argument.

    Returns:
        ``"<key>: <problem>"`` with a did-you-mean hint where one helps, on one line.
    """
    parsing = re.search(r"Problems parsing config: (.+)", message)
    if parsing:  # the YAML loader's own one-line message (cli/yaml_loader.py)
        return parsing.group(1).strip()
    unrecognised = re.match(r"unrecognized arguments: (\S+)", message.strip())
    if unrecognised:
        wrong = unrecognised.group(1).split("=", 1)[0]
        return f"unrecognised option {wrong}.{suggest(wrong, options)} See `lit-nn COMMAND --help` for the options"
    refused = re.search(r"does not accept option '([^']+)'", message)
    if refused:
        wrong = refused.group(1)
        names = [o.lstrip("-") for o in options if o.startswith("--")]
        return f"unknown setting {wrong!r}.{suggest(wrong, names)} See `lit-nn COMMAND --help` for the settings"
    keys = re.findall(r'Parser key "([^"]+)"', message)
    if not keys:  # an error raised while instantiating: name the section from the base class
        base = re.search(r"Subtypes: \[<class '[\w.]+\.(LightningModule|LightningDataModule)'>", message)
        keys = [{"LightningModule": "model", "LightningDataModule": "data"}[base.group(1)]] if base else []
    key = ".".join(dict.fromkeys(keys))
    lines = [line.strip().lstrip("- ").strip() for line in message.splitlines()]
    unknown = [line for line in lines if line.startswith(("Unknown datamodule", "Unknown model"))]
    if unknown:  # lit_nn's own report of a name that resolves to nothing (cli/class_names.py)
        return unknown[0]
    problems = [line for line in lines if line and not line.startswith(_NOISE)]
    problem = problems[0] if problems else lines[0] if lines else message
    given = re.search(r"^\s*Given value: (.+)$", message, flags=re.M)
    if given and "Got value" not in problem and "not accepted" not in problem and "(" not in given.group(1):
        problem += f" (got {given.group(1).strip()})"
    unaccepted = re.search(r"Option '([^']+)' is not accepted", message) or re.search(
        r"Key '([^']+)' is not expected", message
    )
    class_path = re.search(r"Problem with given class_path '([^']+)'", message)
    if unaccepted and class_path:
        options = _parameters(class_path.group(1))
        wrong = unaccepted.group(1).rsplit(".", 1)[-1]
        problem = (
            f"{class_path.group(1).rsplit('.', 1)[-1]} has no argument {wrong!r}.{suggest(wrong, options)} "
            f"It accepts: {', '.join(options)}"
        )
    problem = problem.replace("<class '", "").replace("'>", "")
    text = f"{key}: {problem}" if key else problem
    return " ".join(text.split())


_LIGHTNING = {
    "No supported gpu backend found": (
        "no GPU is available here (trainer.accelerator: gpu). Train on the CPU with --trainer.accelerator cpu "
        "(or -c trainer/cpu), or give auto to use a GPU only where there is one"
    ),
}


def lightning_message(message: str) -> str:
    """Say what to do about one of Lightning's configuration errors.

    Args:
        message: The text of a ``MisconfigurationException``.

    Returns:
        lit_nn's wording where it has one, else Lightning's first line.
    """
    for start, text in _LIGHTNING.items():
        if start in message:
            return text
    return message.strip().splitlines()[0] if message.strip() else message
