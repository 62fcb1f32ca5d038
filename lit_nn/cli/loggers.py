"""Where a command's loggers write: the run folder; W&B online, offline, or CSV instead."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jsonargparse import Namespace

from lit_nn.console import process_rank
from lit_nn.runs import LOGS_FOLDER, run_info
from lit_nn.wandb_logger import continuation, step_file
from lit_nn.wandb_runs import git_state, wandb_environment, wandb_mode

KNOWN_LOGGERS = ("CSVLogger", "WandbLogger", "TensorBoardLogger", "RunWandbLogger")
RUN_WANDB_LOGGER = "lit_nn.wandb_logger.RunWandbLogger"
LIGHTNING_WANDB_LOGGER = "lightning.pytorch.loggers.WandbLogger"


def point_loggers(  # noqa: ANN401 (a logger config, list, or bool)
    logger: Any, run_dir: Path, session: str, tags: list[str] | None = None, log_checkpoints: bool = True
) -> Any:
    """Point every logger of a trainer config at the run folder.

    W&B runs online with credentials, offline without, and gives way to CSV when
    ``WANDB_MODE=disabled``; Lightning's ``WandbLogger`` becomes
    :class:`~lit_nn.wandb_logger.RunWandbLogger`, which continues the run folder's own W&B run
    (same id, steps continuing, ``resumed`` set) with the command as job type, the experiment as
    group, ``tags`` and the working folder's git commit, unless the config sets them. CSV and
    TensorBoard write ``logs/<session>/``.

    Args:
        logger: The trainer's ``logger`` setting (``None``/``True`` mean CSV, or the run's own W&B run
            when it has one: ``lit-nn test --ckpt_path FILE`` alone logs where the fit did).
        run_dir: The run folder.
        session: This command's ``<command>-<time>`` name.
        tags: W&B tags (task, backbone, datamodule, plugins).
        log_checkpoints: ``--run.log_checkpoints``: W&B's ``log_model`` (unless the config says ``all``).

    Returns:
        The setting, changed in place where it was a config.
    """
    if logger is False:
        return False
    csv_logger = Namespace(class_path="lightning.pytorch.loggers.CSVLogger", init_args=Namespace())
    if logger in (None, True) and step_file(run_dir).is_file():  # no logger asked for, on a run that has a W&B run
        logger = Namespace(class_path=LIGHTNING_WANDB_LOGGER, init_args=Namespace())  # (a checkpoint given alone)
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
                if item.class_path == LIGHTNING_WANDB_LOGGER:
                    item = items[index] = _run_wandb_logger(item)
                item.init_args.offline = mode == "offline"
                item.init_args.name = f"{run_dir.parent.name}/{run_dir.name}"
                item.init_args.id = run_info(run_dir).get("wandb_id") if rank == 0 else None
                if item.class_path == RUN_WANDB_LOGGER:
                    _describe(item.init_args, run_dir, session, tags or [])
                    if item.init_args.get("log_model") != "all":
                        item.init_args.log_model = log_checkpoints
                os.environ.update(wandb_environment(os.environ))
        item.init_args.save_dir = str(run_dir)
        if item.class_path.endswith(("CSVLogger", "TensorBoardLogger")):
            item.init_args.name, item.init_args.version = LOGS_FOLDER, session
    return items if isinstance(logger, list) else items[0]


def _describe(init_args: Namespace, run_dir: Path, session: str, tags: list[str]) -> None:
    """The W&B run's place and metadata: where its steps continue, job type, group, tags, git."""
    init_args.first_step, init_args.resumed = continuation(run_dir)
    for key, value in (("job_type", session.split("-", 1)[0]), ("group", run_dir.parent.name), ("tags", tags)):
        if init_args.get(key) is None:
            init_args[key] = value
    if init_args.get("git") is None:
        init_args.git = git_state(Path.cwd())


def _run_wandb_logger(item: Namespace) -> Namespace:
    """Lightning's ``WandbLogger`` config as :class:`~lit_nn.wandb_logger.RunWandbLogger`'s.

    The arguments jsonargparse resolved for ``WandbLogger`` include ``wandb.init``'s (``entity``,
    ``notes`` …), which reach it through ``**kwargs``; those set are passed the same way
    (``dict_kwargs``), those left unset are dropped.
    """
    import inspect

    from lightning.pytorch.loggers import WandbLogger

    from lit_nn.wandb_logger import RunWandbLogger

    named = set(inspect.signature(WandbLogger).parameters) | set(inspect.signature(RunWandbLogger).parameters)
    given = {k: v for k, v in vars(item.get("init_args") or Namespace()).items() if v is not None}
    init_args = Namespace({k: v for k, v in given.items() if k in named})
    extra = {k: v for k, v in given.items() if k not in named}
    swapped = Namespace(class_path=RUN_WANDB_LOGGER, init_args=init_args)
    if extra or item.get("dict_kwargs"):
        swapped.dict_kwargs = {**(item.get("dict_kwargs") or {}), **extra}
    return swapped
