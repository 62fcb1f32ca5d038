"""Where a command's loggers write: the run folder; W&B online, offline, or CSV instead."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jsonargparse import Namespace

from lit_nn.cli.run_folders import run_info
from lit_nn.console import process_rank
from lit_nn.wandb_runs import wandb_environment, wandb_mode

KNOWN_LOGGERS = ("CSVLogger", "WandbLogger", "TensorBoardLogger")


def point_loggers(logger: Any, run_dir: Path, session: str) -> Any:  # noqa: ANN401 (a logger config, list, or bool)
    """Point every logger of a trainer config at the run folder.

    W&B runs online with credentials, offline without, and gives way to CSV when
    ``WANDB_MODE=disabled``; it resumes the run folder's own W&B run. CSV and TensorBoard write
    ``logs/<session>/``.

    Args:
        logger: The trainer's ``logger`` setting (``None``/``True`` mean CSV).
        run_dir: The run folder.
        session: This command's ``<command>-<time>`` name.

    Returns:
        The setting, changed in place where it was a config.
    """
    if logger is False:
        return False
    csv_logger = Namespace(class_path="lightning.pytorch.loggers.CSVLogger", init_args=Namespace())
    items = logger if isinstance(logger, list) else [csv_logger if logger in (None, True) else logger]
    for index, item in enumerate(items):
        if not isinstance(item, Namespace) or item.class_path.rsplit(".", 1)[-1] not in KNOWN_LOGGERS:
            continue
        item.init_args = item.get("init_args") or Namespace()
        if item.class_path.endswith("WandbLogger"):
            mode = wandb_mode(os.environ)
            if mode == "disabled":  # WANDB_MODE=disabled: metrics still land somewhere readable
                item = items[index] = Namespace(class_path=csv_logger.class_path, init_args=Namespace())
            else:
                rank = process_rank(os.environ)
                item.init_args.offline = mode == "offline"
                item.init_args.name = f"{run_dir.parent.name}/{run_dir.name}"
                item.init_args.id = run_info(run_dir).get("wandb_id") if rank == 0 else None
                os.environ.update(wandb_environment(os.environ))
        item.init_args.save_dir = str(run_dir)
        if item.class_path.endswith(("CSVLogger", "TensorBoardLogger")):
            item.init_args.name, item.init_args.version = "logs", session
    return items if isinstance(logger, list) else items[0]
