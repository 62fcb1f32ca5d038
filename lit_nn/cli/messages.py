"""Turn jsonargparse's nested validation reports into one line a user can act on."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from lit_nn import signatures
from lit_nn.errors import LitNNError, suggest

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


def class_parameters(class_path: str) -> list[str]:
    """Keyword names a class accepts, through its ``**kwargs`` chain (best effort).

    Args:
        class_path: The class's import path.

    Returns:
        The names; none when the class cannot be imported.
    """
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(__import__(module, fromlist=[name]), name)
    except (ImportError, AttributeError):
        return []
    return signatures.init_keywords(cls)


def root_cause(exc: BaseException) -> BaseException:
    """The exception an error report wraps: its cause, or what it was raised while handling.

    A ``raise ... from None`` ends the chain there: what it was raised while handling is left out
    on purpose.

    Args:
        exc: The error caught.

    Returns:
        The innermost one (``exc`` itself when it wraps none).
    """
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if inner is None or id(inner) in seen:
            return exc
        exc = inner
        seen.add(id(exc))


def condense(
    message: str,
    options: Sequence[str] = (),
    raised: BaseException | None = None,
    classes: Mapping[str, str] | None = None,
) -> str:
    """Reduce a jsonargparse error report to its most specific line.

    Args:
        message: ``str()`` of the error jsonargparse raised while parsing or instantiating.
        options: The parser's option strings, to suggest one for an unrecognised argument.
        raised: The exception a class raised while it was built, when that is what the report
            wraps and it is not one of lit_nn's (whose messages say what to do already); ``None``
            when the report is about the value itself.
        classes: Section (``model``, ``data``) to the class path it names, to name the class.

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
    required = re.search(r"the following arguments are required: ([\w, ]+)", message)
    if required and key:
        names = [name.strip() for name in required.group(1).split(",") if name.strip()]
        options = " and ".join(f"--{key}.{name} VALUE" for name in names)
        verb = "is" if len(names) == 1 else "are"
        return f"{key}: {', '.join(names)} {verb} required: give {options} (or set it in the config)"
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
        options = class_parameters(class_path.group(1))
        wrong = unaccepted.group(1).rsplit(".", 1)[-1]
        problem = (
            f"{class_path.group(1).rsplit('.', 1)[-1]} has no argument {wrong!r}.{suggest(wrong, options)} "
            f"It accepts: {', '.join(options)}"
        )
    if raised is not None and not isinstance(raised, LitNNError):
        name = class_path.group(1) if class_path else (classes or {}).get(key, "the class")
        problem = (
            f"{name} raised {type(raised).__name__}: {raised} while it was built; that is its own error "
            "(check the arguments it was given, or its code)"
        )
    problem = problem.replace("<class '", "").replace("'>", "")
    text = f"{key}: {problem}" if key else problem
    return " ".join(text.split())


def one_line(text: str, limit: int = 900) -> str:
    """Fold a message onto one line and cut it to a readable length.

    Args:
        text: The message (possibly many lines, possibly quoting a huge value).
        limit: The longest line kept; a longer one keeps its start and its end (where the
            advice usually is) and says how much was left out.

    Returns:
        The line.
    """
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    tail = limit // 4
    left_out = len(line) - limit
    return f"{line[: limit - tail]} … ({left_out} characters left out) … {line[-tail:]}"


_LIGHTNING = {
    "No supported gpu backend found": (
        "no GPU is available here (trainer.accelerator: gpu). Train on the CPU with --trainer.accelerator cpu "
        "(or -c trainer/cpu), or give auto to use a GPU only where there is one"
    ),
}


_NOT_AVAILABLE = re.compile(r"`(\w+?)Accelerator` can not run on your system since the accelerator is not available")


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
    missing = _NOT_AVAILABLE.search(message)
    if missing:  # `cuda`, `mps`, `tpu` …: said as lit_nn says it for `gpu`
        name = missing.group(1).lower()
        return (
            f"no {name.upper()} device is available here (trainer.accelerator: {name}). Train on the CPU with "
            "--trainer.accelerator cpu (or -c trainer/cpu), or give auto to use an accelerator only where there is one"
        )
    return message.strip().splitlines()[0] if message.strip() else message
