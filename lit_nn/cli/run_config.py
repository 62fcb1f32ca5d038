"""The configuration a run records: ``config.yaml`` in the run folder, and the loggers' copy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning
import torch
import yaml
from jsonargparse import Namespace
from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningArgumentParser, SaveConfigCallback

from lit_nn import __version__, runs
from lit_nn.atomic import write_text
from lit_nn.errors import ConfigError
from lit_nn.registry import default_registry
from lit_nn.wandb_logger import CONFIG_KEY

NOT_RECORDED = ("print_config", "untrained", "overwrite")
PATH_KEYS = ("path", "root", "file", "dir", "folder")
"""Options that say what a command does with the config, not what the run is."""


def versions() -> dict[str, Any]:
    """Versions of lit_nn, torch, lightning and every loaded plugin, for the logs.

    Returns:
        ``{"lit_nn": …, "torch": …, "lightning": …, "plugins": {name: "dist version"}}``.
    """
    plugins = {p.name: f"{p.distribution} {p.version}" for p in default_registry().plugins if p.status == "loaded"}
    return {
        "lit_nn": __version__,
        "torch": str(torch.__version__),
        "lightning": lightning.__version__,
        "plugins": plugins,
    }


def plain_config(parser: LightningArgumentParser, config: Namespace) -> dict[str, Any]:
    """The configuration as plain YAML values, in the shape ``lit-nn fit -c`` reads back.

    Args:
        parser: The subcommand's parser.
        config: Its parsed configuration.

    Returns:
        Nested dicts, lists and scalars.
    """
    plain = yaml.safe_load(parser.dump(config, skip_link_targets=False))
    for key in NOT_RECORDED:
        plain.pop(key, None)
    return plain


class RunConfigSaver(SaveConfigCallback):
    """Save the resolved config into the run folder.

    ``config.yaml`` for the run's first fit, ``<command>-<time>.yaml`` for every later command on
    the same run, so no command overwrites another's record.

    Args:
        parser: The subcommand's parser.
        config: The parsed configuration.
        run_dir: The run folder.
        session: ``<command>-<time>``.
        **kwargs: :class:`~lightning.pytorch.cli.SaveConfigCallback` arguments.
    """

    def __init__(
        self, parser: LightningArgumentParser, config: Namespace, run_dir: Path, session: str, **kwargs: Any
    ) -> None:
        super().__init__(parser, config, save_to_log_dir=False, **kwargs)
        self.run_dir, self.session = Path(run_dir), session

    def save_config(self, trainer: Trainer, pl_module: Any, stage: str) -> None:  # noqa: ANN401
        """Write the YAML file and give every logger the config and the versions (rank zero only)."""
        first = runs.config_file(self.run_dir, self.session, first=True)
        path = first if stage == "fit" and not first.exists() else runs.config_file(self.run_dir, self.session, False)
        resolved = plain_config(self.parser, self.config)
        write_text(path, yaml.safe_dump(resolved, sort_keys=False))
        for logger in trainer.loggers:
            logger.log_hyperparams({CONFIG_KEY: resolved, "versions": versions(), "run_folder": str(self.run_dir)})


def absolute_paths(init_args: Any) -> None:  # noqa: ANN401 (a Namespace)
    """Make relative data paths absolute, so a run's record works from any folder.

    Args:
        init_args: The datamodule's arguments; values of path-like names (``path``, ``root``,
            ``*_dir`` …) that name an existing file or folder are replaced.
    """
    if init_args is None:
        return
    for key in list(vars(init_args)):
        value = init_args[key]
        pathlike = key in PATH_KEYS or key.endswith(tuple(f"_{k}" for k in PATH_KEYS))
        if pathlike and isinstance(value, str) and value and not os.path.isabs(value) and os.path.exists(value):
            init_args[key] = os.path.abspath(value)


def optimizer_record(optimizer: Namespace | None, schedule: Namespace | None, lr: float | None) -> dict[str, Any]:
    """The task hyperparameters that say what Lightning's ``--optimizer`` / ``--lr_scheduler`` ran.

    Args:
        optimizer: The parsed ``optimizer`` section, or ``None``.
        schedule: The parsed ``lr_scheduler`` section, or ``None``.
        lr: The task's learning rate (kept when the optimiser does not set one).

    Returns:
        ``optimizer``, ``lr``, ``weight_decay``, ``optimizer_kwargs``, ``scheduler`` and
        ``scheduler_kwargs`` as the tasks take them (only those that changed).
    """
    ran: dict[str, Any] = {}
    if isinstance(optimizer, Namespace):
        init = {k: v for k, v in vars(optimizer.get("init_args") or Namespace()).items() if k != "params"}
        ran["optimizer"] = optimizer.class_path
        ran["lr"] = float(init.pop("lr", lr))
        ran["weight_decay"] = float(init.pop("weight_decay", 0.0) or 0.0)
        ran.update(optimizer_kwargs=init, scheduler="none", scheduler_kwargs=None)
    if isinstance(schedule, Namespace):
        kwargs = {k: v for k, v in vars(schedule.get("init_args") or Namespace()).items() if k != "optimizer"}
        class_path = schedule.class_path
        if class_path.endswith("ReduceLROnPlateau"):  # Lightning's own, which also takes the monitor (kept)
            class_path = "torch.optim.lr_scheduler.ReduceLROnPlateau"
        ran.update(scheduler=class_path, scheduler_kwargs=kwargs)
    return ran


def check_sections(config: Namespace) -> None:
    """Refuse a section given as something other than a mapping (``trainer: 5`` in a YAML file).

    Args:
        config: The subcommand's parsed configuration.

    Raises:
        ConfigError: Naming the section and what it holds.
    """
    for key in ("trainer", "checkpoint", "run", "plots", "activation_stats"):
        value = config.get(key)
        if value is not None and not isinstance(value, Namespace):
            raise ConfigError(
                f"{key}: expected its settings as a mapping (for example `{key}:` then indented `name: value` lines), "
                f"got {value!r}"
            )


def check_output(output: str | None, overwrite: bool) -> None:
    """Refuse a predictions file that would replace anything, unless replacing it is asked for.

    Args:
        output: ``--output``.
        overwrite: ``--overwrite``.

    Raises:
        ConfigError: For a folder, or an existing file without ``--overwrite true``.
    """
    if output is None:
        return
    path = Path(output)
    if path.is_dir():
        raise ConfigError(f"--output {output} is a folder; give a file name for the predictions, e.g. {path}/preds.csv")
    if path.exists() and not overwrite:
        raise ConfigError(
            f"--output {output} exists and lit_nn does not write over files; give another name, or --overwrite true "
            "to replace it"
        )
