"""Before parsing: registry names become import paths, and a lone checkpoint becomes a config.

jsonargparse resolves ``class_path`` values by import path or class name; lit_nn also accepts
the registry's names (``--data digits``, ``class_path: digits`` in YAML).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from lit_nn.checkpoints import load_checkpoint
from lit_nn.errors import LitNNError, UnknownNameError, suggest
from lit_nn.registry import Registry, import_path

CONFIG_FLAGS = ("-c", "--config")
EVALUATION_COMMANDS = ("validate", "test", "predict")


class ConfigError(LitNNError):
    """A configuration that cannot be used as given."""


def model_names() -> list[str]:
    """Class names the CLI accepts for ``--model``: the imported LightningModule subclasses.

    Returns:
        Sorted class names (the lit_nn tasks, and any other imported ones).
    """
    from lightning.pytorch import LightningModule

    found, stack = set(), list(LightningModule.__subclasses__())
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        if not cls.__name__.startswith("_") and not getattr(cls, "__abstractmethods__", None):
            found.add(cls.__name__)
    return sorted(found)


def resolve_data(value: str, registry: Registry) -> str:
    """Map a datamodule registry name to its import path; leave paths and class names alone.

    Args:
        value: What the user gave as the datamodule.
        registry: The registry.

    Returns:
        The value jsonargparse should see.

    Raises:
        UnknownNameError: For a bare name that is neither registered nor a class name.
    """
    if "." in value or Path(value).is_file() or value.lstrip().startswith("{"):
        return value
    if value in registry.names("datamodules"):
        return import_path(registry.get("datamodules", value))
    if value in {e.target.rpartition(".")[2] for e in registry.entries("datamodules")}:
        return value
    registry.get("datamodules", value)  # raises with the available names
    return value


def check_model(value: str) -> str:
    """Refuse a bare model name that no imported LightningModule has.

    Args:
        value: What the user gave as the model.

    Returns:
        ``value`` unchanged.

    Raises:
        UnknownNameError: Listing the task names.
    """
    if "." in value or Path(value).is_file() or value.lstrip().startswith("{"):
        return value
    names = model_names()
    if value not in names:
        raise UnknownNameError(
            f"Unknown model {value!r}.{suggest(value, names)} Available: {', '.join(names)}; a class of your own "
            "needs its full import path (my_package.module.MyModel)"
        )
    return value


def _resolve_section(section: Any, resolve: Any) -> Any:  # noqa: ANN401 (YAML node)
    if isinstance(section, str):
        return resolve(section)
    if isinstance(section, dict) and isinstance(section.get("class_path"), str):
        return {**section, "class_path": resolve(section["class_path"])}
    return section


def write_config(config: dict[str, Any], scratch: Path, stem: str) -> str:
    """Write a generated config where jsonargparse can read it as a file.

    Args:
        config: The settings.
        scratch: A folder that outlives the command.
        stem: A name for the file.

    Returns:
        The file's path.
    """
    path = scratch / f"{stem}-{len(list(scratch.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path)


def resolve_config_file(value: str, registry: Registry, scratch: Path) -> str:
    """Resolve the model and data names inside a YAML config file.

    Args:
        value: A ``--config`` value: a file path (or YAML text, passed through).
        registry: The registry.
        scratch: Folder for the rewritten file.

    Returns:
        The path unchanged when nothing needed resolving, else the path of a rewritten copy.

    Raises:
        ConfigError: If the file is not valid YAML.
    """
    path = Path(value)
    if not path.is_file():
        if path.suffix in (".yaml", ".yml", ".json"):
            raise ConfigError(f"config file {value} does not exist")
        return value
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    if not isinstance(config, dict):
        raise ConfigError(
            f"{path} must hold a mapping of settings (model:, data:, trainer: …), not {type(config).__name__}"
        )
    resolved = dict(config)
    for key, resolve in (("data", lambda v: resolve_data(v, registry)), ("model", check_model)):
        if key in config:
            resolved[key] = _resolve_section(config[key], resolve)
    return value if resolved == config else write_config(resolved, scratch, path.stem)


def resolve_names(argv: Sequence[str], registry: Registry, scratch: Path) -> list[str]:
    """Resolve registry names in ``--data``, ``--model`` and config files.

    Args:
        argv: Command-line arguments after ``lit-nn``.
        registry: The registry.
        scratch: Folder for rewritten config files.

    Returns:
        Arguments jsonargparse can parse.
    """
    out: list[str] = []
    handlers = {
        "--data": lambda v: resolve_data(v, registry),
        "--model": check_model,
        **{flag: (lambda v: resolve_config_file(v, registry, scratch)) for flag in CONFIG_FLAGS},
    }
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, inline = arg.partition("=")
        if flag in handlers and eq:
            out.append(f"{flag}={handlers[flag](inline)}")
        elif arg in handlers and i + 1 < len(args):
            out += [arg, handlers[arg](args[i + 1])]
            i += 1
        else:
            out.append(arg)
        i += 1
    return out


def _option(argv: Sequence[str], flag: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def config_from_checkpoint(argv: Sequence[str], scratch: Path) -> list[str]:
    """Rebuild model and data from a checkpoint given alone.

    For ``test|validate|predict --ckpt_path FILE`` with no config, model or data, both come from
    the checkpoint's saved hyperparameters.

    Args:
        argv: Command-line arguments after ``lit-nn``.
        scratch: Folder for the generated config file.

    Returns:
        ``argv``, with a ``--config`` holding the rebuilt model and data when that applies.

    Raises:
        ConfigError: If the checkpoint lacks what is needed to rebuild them.
    """
    if not argv or argv[0] not in EVALUATION_COMMANDS:
        return list(argv)
    given = {a.split("=", 1)[0] for a in argv} | {a.split(".", 1)[0] for a in argv}
    ckpt = _option(argv, "--ckpt_path")
    if ckpt is None or ckpt in ("best", "last") or given & {*CONFIG_FLAGS, "--model", "--data"}:
        return list(argv)
    checkpoint = load_checkpoint(Path(ckpt))
    config: dict[str, Any] = {}
    for section, key in (("model", "hyper_parameters"), ("data", "datamodule_hyper_parameters")):
        hparams = dict(checkpoint.get(key) or {})
        class_path = hparams.pop("_class_path", None)
        hparams.pop("_instantiator", None)
        if class_path is None:
            raise ConfigError(
                f"{ckpt} does not record its {section} class (it was not trained with lit-nn); "
                f"pass -c CONFIG.yaml or --{section} CLASS"
            )
        config[section] = {"class_path": class_path, "init_args": hparams}
    return [argv[0], "--config", write_config(config, scratch, "checkpoint"), *argv[1:]]
