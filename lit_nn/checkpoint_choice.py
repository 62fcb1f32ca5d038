"""Which checkpoint a command uses: ``best``/``last`` of the latest run that trains the same thing.

A run folder records what it trains (task, backbone, activation, data) in its ``run.json``; a
checkpoint records its model's hyperparameters (Lightning's) and its data (lit_nn's record). A
command's configuration is compared with both, so ``--ckpt_path best`` never picks another
model's run, and a checkpoint given by hand that does not fit the configuration is refused
naming both sides.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lit_nn import runs
from lit_nn.callbacks.interrupt import INTERRUPTED_KEY
from lit_nn.callbacks.run_record import RECORD_KEY
from lit_nn.compat import recorded_class_path, split_recorded_class_path
from lit_nn.errors import ConfigError, LitNNWarning

IDENTITY_KEYS = ("task", "backbone", "backbone_kwargs", "activation", "data")


def size_keys() -> tuple[str, ...]:
    """The hyperparameters that size a model: every registered task's size argument, then ``input_shape``.

    Returns:
        For example ``("num_classes", "num_targets", "input_shape")``.
    """
    from lit_nn.tasks.registered import size_arguments

    return (*size_arguments(), "input_shape")


def _get(section: Any, key: str) -> Any:  # noqa: ANN401 (a Namespace, a dict or None)
    if section is None:
        return None
    getter = getattr(section, "get", None)
    return getter(key) if getter is not None else getattr(section, key, None)


def identity(model: Any, data: Any) -> dict[str, Any]:  # noqa: ANN401 (config sections)
    """What a configuration trains, in the terms runs and checkpoints record.

    Args:
        model: The ``model`` section (``class_path`` and ``init_args``), as parsed or as a dict.
        data: The ``data`` section.

    Returns:
        ``task``, ``backbone``, ``backbone_kwargs``, ``activation`` and ``data`` (class paths for
        the task and the data); ``None`` where the configuration does not say.
    """
    init = _get(model, "init_args")
    kwargs = _get(init, "backbone_kwargs")
    return {
        "task": _get(model, "class_path"),
        "backbone": _get(init, "backbone"),
        "backbone_kwargs": _plain(kwargs) if kwargs else {},
        "activation": _get(init, "activation"),
        "data": _get(data, "class_path"),
    }


def _plain(value: Any) -> Any:  # noqa: ANN401
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return dict(value) if isinstance(value, Mapping) else value


def checkpoint_identity(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint's model and data are.

    Args:
        checkpoint: A loaded checkpoint.

    Returns:
        As :func:`identity`, from the checkpoint's hyperparameters and lit_nn's record.
    """
    hparams = checkpoint.get("hyper_parameters") or {}
    record = checkpoint.get(RECORD_KEY) or {}
    recorded_data = recorded_class_path(checkpoint.get("datamodule_hyper_parameters") or {})
    data = (record.get("data") or {}).get("class_path") or recorded_data
    return {
        "task": recorded_class_path(hparams),
        "backbone": hparams.get("backbone"),
        "backbone_kwargs": dict(hparams.get("backbone_kwargs") or {}),
        "activation": hparams.get("activation"),
        "data": data,
    }


def _short(class_path: str | None) -> str:
    return class_path.rsplit(".", 1)[-1] if class_path else "?"


def describe(ident: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """A configuration's identity in words.

    Args:
        ident: From :func:`identity` or :func:`checkpoint_identity`.
        names: Datamodule class path to registry name, to say ``digits`` for ``…bundled.Digits``.

    Returns:
        For example ``"MulticlassClassificationTask (backbone cnn {'channels': [32]}, activation relu) on digits"``.
    """
    names = names or {}
    parts = [f"backbone {ident['backbone']}" if ident.get("backbone") else ""]
    if ident.get("backbone_kwargs"):
        parts[0] += f" {ident['backbone_kwargs']}"
    if ident.get("activation"):
        parts.append(f"activation {ident['activation']}")
    inner = ", ".join(p for p in parts if p)
    data = names.get(ident.get("data") or "", _short(ident.get("data")))
    return f"{_short(ident.get('task'))}{f' ({inner})' if inner else ''} on {data}"


def differences(wanted: Mapping[str, Any], found: Mapping[str, Any]) -> list[str]:
    """The identity keys on which two identities disagree (a key either side leaves open agrees).

    Args:
        wanted: The command's identity.
        found: A run's or a checkpoint's.

    Returns:
        The keys that differ.
    """
    out = []
    for key in IDENTITY_KEYS:
        a, b = wanted.get(key), found.get(key)
        if key == "backbone_kwargs" and (not a or not b):
            continue  # unstated on one side
        if a is not None and b is not None and a != b:
            out.append(key)
    return out


def run_identity(run: Path) -> dict[str, Any] | None:
    """What a run folder trains: from its ``run.json``, else from its ``config.yaml``.

    Args:
        run: A run folder.

    Returns:
        The identity, or ``None`` when the folder records neither.
    """
    trains = runs.run_info(run).get("trains")
    if isinstance(trains, dict):
        return trains
    config = runs.run_config(run)
    return identity(config.get("model"), config.get("data")) if config is not None else None


def find_checkpoint(
    experiment_dir: Path, which: str, wanted: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> tuple[Path, Path]:
    """The best or last checkpoint of the latest run (by its recorded start) that trains ``wanted``.

    Args:
        experiment_dir: The experiment's folder.
        which: ``"best"`` or ``"last"``.
        wanted: The command's identity.
        names: Datamodule class path to registry name, for messages.

    Returns:
        ``(checkpoint file, run folder)``.

    Raises:
        runs.RunError: When no matching run has one, naming the latest run that does and what it trains.
    """
    other: tuple[Path, dict[str, Any] | None] | None = None
    for run in runs.runs_newest_first(experiment_dir):
        files = runs.run_checkpoints(run, which)
        if not files:
            continue
        found = run_identity(run)
        if found is not None and not differences(wanted, found):
            return files[-1], run
        other = other or (run, found)
    if other is None:
        raise runs.RunError(
            f"no run under {experiment_dir} has a {which} checkpoint; train one first with `lit-nn fit`, "
            "or pass --ckpt_path PATH/TO/FILE.ckpt"
        )
    run, found = other
    trains = describe(found, names) if found else "something lit_nn did not record"
    raise runs.RunError(
        f"no run under {experiment_dir} that trains {describe(wanted, names)} has a {which} checkpoint; the latest "
        f"run with one, {run.name}, trains {trains}. Train this configuration first with `lit-nn fit`, or pass "
        "that run's file with --ckpt_path FILE (with a config that matches it)"
    )


def check_fits(path: str, checkpoint: Mapping[str, Any], wanted: Mapping[str, Any], sizes: Mapping[str, Any]) -> None:
    """Refuse a checkpoint whose model or data differs from the command's configuration.

    Args:
        path: The checkpoint file, for the message.
        checkpoint: Its contents.
        wanted: The command's identity.
        sizes: ``num_classes`` / ``num_targets`` / ``input_shape`` the command sets explicitly.

    Raises:
        ConfigError: Naming the checkpoint, both sides and what to do.
    """
    found = checkpoint_identity(checkpoint)
    hparams = checkpoint.get("hyper_parameters") or {}
    keys = differences(wanted, found)
    keys += [
        k for k in size_keys() if sizes.get(k) is not None and k in hparams and _same(sizes[k]) != _same(hparams[k])
    ]
    if not keys:
        return
    sides = [f"{k}: this command {_side(k, wanted, sizes)}, the checkpoint {_side(k, found, hparams)}" for k in keys]
    raise ConfigError(
        f"checkpoint {path} does not fit this command's configuration ({'; '.join(sides)}); give the config it was "
        "trained with, or give --ckpt_path FILE alone to rebuild model and data from the checkpoint"
    )


def _same(value: Any) -> Any:  # noqa: ANN401
    return list(value) if isinstance(value, (list, tuple)) else value


def _side(key: str, ident: Mapping[str, Any], sizes: Mapping[str, Any]) -> str:
    value = ident.get(key) if key in IDENTITY_KEYS else sizes.get(key)
    return _short(value) if key in ("task", "data") else repr(_same(value))


def trusted_class_paths(registry_targets: Mapping[str, str]) -> set[str]:
    """The class paths a checkpoint may name and lit_nn imports: the registered tasks and datamodules.

    A plugin's task is trusted exactly as a built-in one: by the import path its plugin registered.

    Args:
        registry_targets: Registry datamodule import paths (to their names).

    Returns:
        The import paths.
    """
    from lit_nn.registry import default_registry

    return {entry.target for entry in default_registry().entries("tasks")} | set(registry_targets)


KIND_WORDS = {"model": "task", "data": "datamodule"}
"""What a config section holds, for messages."""


def rebuild_sections(
    path: str,
    checkpoint: Mapping[str, Any],
    trusted: set[str],
    strict: bool = True,
    provider: Callable[[str], str | None] | None = None,
) -> dict[str, Any]:
    """The model and data sections a checkpoint given alone rebuilds, as a config would give them.

    Args:
        path: The checkpoint file, for messages.
        checkpoint: Its contents.
        trusted: Class paths that may be imported on the checkpoint's word alone
            (:func:`trusted_class_paths`), at the top of a section or anywhere inside its arguments.
        strict: Refuse a section naming any other class; otherwise leave that section out.
        provider: Names the installed plugin, not loaded now, that provides a class path and why
            it is not loaded (for the message), or gives ``None``.

    Returns:
        ``{"model": {...}, "data": {...}}``, each present when the checkpoint records it.

    Raises:
        ConfigError: When ``strict`` and the checkpoint names a class outside ``trusted``: it is
            not imported.
    """
    record = checkpoint.get(RECORD_KEY) or {}
    hparams = dict(checkpoint.get("hyper_parameters") or {})
    data: dict[str, Any] = dict(record.get("data") or {})
    if not data and checkpoint.get("datamodule_hyper_parameters"):
        class_path, init = split_recorded_class_path(checkpoint["datamodule_hyper_parameters"])
        data = {"class_path": class_path, "init_args": init}
    class_path, hparams = split_recorded_class_path(hparams)
    model: dict[str, Any] = {"class_path": class_path, "init_args": hparams}
    sections: dict[str, Any] = {}
    for key, section in (("model", model), ("data", data)):
        class_path = section.get("class_path")
        if not class_path:
            continue
        named = [class_path, *nested_class_paths(section.get("init_args"))]
        strange = next((name for name in named if name not in trusted), None)
        if strange is not None:
            if not strict:
                continue
            plugin = provider(strange) if provider else None
            if plugin:
                raise ConfigError(
                    f"checkpoint {path} needs the {KIND_WORDS[key]} {strange}, from the {plugin}; load that plugin "
                    f"(`lit-nn plugins` shows why it is not), or give the {key} yourself: --{key} NAME (or -c CONFIG)"
                )
            raise ConfigError(
                f"checkpoint {path} names the {key} class {strange}, which is neither a lit_nn task nor a "
                f"registered datamodule, so lit_nn does not import it on the file's word; if you trust it, name it "
                f"yourself: --{key} {class_path} (or -c CONFIG)"
            )
        sections[key] = {"class_path": class_path, "init_args": dict(section.get("init_args") or {})}
    return sections


class MidEpochResumeWarning(LitNNWarning):
    """Training resumes from a checkpoint written in the middle of an epoch."""


def warn_if_mid_epoch(path: str, checkpoint: dict[str, Any]) -> None:
    """Say plainly when a resume will not repeat the uninterrupted run exactly.

    Args:
        path: The checkpoint file.
        checkpoint: Its contents.
    """
    stop = checkpoint.get(INTERRUPTED_KEY)
    if not isinstance(stop, dict) or stop.get("batches_done", 0) in (0, stop.get("batches_per_epoch")):
        return
    warnings.filterwarnings("ignore", message=r"You're resuming from a checkpoint that ended before the epoch ended")
    warnings.warn(
        f"{path} was saved on {stop['signal']} in the middle of epoch {stop['epoch']} "
        f"(after {stop['batches_done']} of {stop['batches_per_epoch']} batches). Training carries on from there, but "
        "the rest of that epoch does not see exactly the batches an uninterrupted run would, so results are close, "
        "not bit-identical; resume from an end-of-epoch checkpoint when exact repeats matter",
        MidEpochResumeWarning,
        stacklevel=2,
    )


def option_value(args: list[str], flag_name: str) -> str | None:
    """The value given to an option on the command line (read only; the arguments are not changed).

    Args:
        args: Command-line arguments.
        flag_name: For example ``"--ckpt_path"``.

    Returns:
        The last value given, or ``None``.
    """
    value = None
    for i, arg in enumerate(args):
        if arg == flag_name and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(flag_name + "="):
            value = arg.split("=", 1)[1]
    return value


def check_resumable(path: str, checkpoint: Mapping[str, Any]) -> None:
    """Refuse to resume a fit from a checkpoint that holds the weights only.

    Args:
        path: The checkpoint file.
        checkpoint: Its contents.

    Raises:
        ConfigError: When it has no optimiser state.
    """
    if "optimizer_states" not in checkpoint or "loops" not in checkpoint:
        raise ConfigError(
            f"checkpoint {path} holds the model's weights only (it was saved with save_weights_only), not the "
            f"optimiser and loop state a resumed fit needs: test or predict with it, or resume from "
            f"{runs.LAST_CHECKPOINT}"
        )


def check_weights(path: str, checkpoint: Mapping[str, Any], model: Any) -> None:  # noqa: ANN401 (a LightningModule)
    """Refuse a checkpoint whose weights do not fit the model, before Lightning loads them.

    Args:
        path: The checkpoint file.
        checkpoint: Its contents.
        model: The model built for the command.

    Raises:
        ConfigError: Naming missing and unexpected weights and shapes that differ, and what to do.
    """
    if not getattr(model, "strict_loading", True):
        return
    expected = model.state_dict()
    found = checkpoint.get("state_dict") or {}
    # a submodule marked optional_state (a task's calibration) may be absent from older checkpoints: wholly absent
    optional = tuple(
        prefix
        for prefix in (f"{name}." for name, module in model.named_modules() if getattr(module, "optional_state", False))
        if not any(k.startswith(prefix) for k in found)
    )
    missing = [k for k in expected if k not in found and not (optional and k.startswith(optional))]
    unexpected = [k for k in found if k not in expected]
    shapes = [
        f"{k} is {list(found[k].shape)} there and {list(expected[k].shape)} here"
        for k in expected
        if k in found and hasattr(found[k], "shape") and tuple(found[k].shape) != tuple(expected[k].shape)
    ]
    problems = [f"{label} {_few(keys)}" for label, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
    problems += shapes[:3] + ([f"{len(shapes) - 3} more shapes differ"] if len(shapes) > 3 else [])
    if problems:
        raise ConfigError(
            f"checkpoint {path} does not hold this model's weights ({'; '.join(problems)}): it holds "
            f"{describe(checkpoint_identity(checkpoint))}; give the config it was trained with, or --ckpt_path FILE "
            "alone to rebuild the model it holds"
        )


def _few(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def nested_class_paths(value: Any) -> list[str]:  # noqa: ANN401 (hyperparameters: any plain value)
    """Every ``class_path`` named anywhere inside a checkpoint's hyperparameters.

    Args:
        value: The hyperparameters (dicts, lists, scalars).

    Returns:
        The class paths, in the order found.
    """
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if isinstance(item.get("class_path"), str):
                found.append(item["class_path"])
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return found
