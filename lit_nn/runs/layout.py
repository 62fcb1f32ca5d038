"""The run-folder layout: every name in a run folder, and the only reader and writer of ``run.json``.

It owns the layout as Lightning's ``ModelCheckpoint`` owns its file names: every other part of
lit_nn asks it for a run's, a checkpoint's, a sweep's or a comparison's path::

    <root>/<experiment>/<run>/
        run.json                 when the run was created, and what it trains (task, backbone, data)
        config.yaml              the resolved configuration of the first fit
        checkpoints/best-*.ckpt, checkpoints/last.ckpt
        hpc_ckpt_N.ckpt          SLURM's preemption checkpoints (Lightning restores the newest)
        logs/<command>-<time>/   logger output of each command run on it
        plots/<command>-<time>/  figures
        <command>-<time>-metrics.json, <command>-<time>.csv   an evaluation's metrics, predictions
    <root>/<experiment>/sweeps/<sweep>/trial-NNNN/   a sweep's trials, each an ordinary run
    <root>/<experiment>/cv/<study>/fold-K/           a cross-validation's folds, each an ordinary run
    <root>/<experiment>/compare-<time>/<value>/      a comparison: a run per value, its table and figure
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lit_nn import __version__
from lit_nn.atomic import write_text
from lit_nn.errors import LitNNError

RUN_FILE = "run.json"
"""A run's record: when it was created, by which lit_nn, its W&B id and what it trains."""
CONFIG_FILE = "config.yaml"
"""The resolved configuration of a run's first fit."""
CHECKPOINT_FOLDER = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
BEST_PREFIX = "best"
BEST_FILENAME = BEST_PREFIX + "-{epoch:03d}"
"""``ModelCheckpoint``'s ``filename`` for the best checkpoints (Lightning adds ``.ckpt``)."""
HPC_PREFIX = "hpc_ckpt_"
"""SLURM's preemption checkpoints, ``hpc_ckpt_N.ckpt`` in the run folder: Lightning's own name, which its
SLURM restore looks for."""
LOGS_FOLDER = "logs"
PLOTS_FOLDER = "plots"
SWEEPS_FOLDER = "sweeps"
CV_FOLDER = "cv"
TIME_FORMAT = "%Y%m%d-%H%M%S"


class RunError(LitNNError):
    """A run folder that cannot be created or found."""


def write_run_file(run_dir: Path, identity: Mapping[str, Any] | None) -> None:
    """Write a new run's ``run.json``: creation time, versions, its W&B run id and what it trains.

    Args:
        run_dir: The new run folder (its name starts the W&B run id).
        identity: What the run trains, or ``None``.
    """
    wandb_id = re.sub(r"[^A-Za-z0-9_-]", "-", run_dir.name)[:40] + "-" + secrets.token_hex(3)
    info = {"created": time.time(), "lit_nn": __version__, "pid": os.getpid(), "wandb_id": wandb_id}
    if identity is not None:
        info["trains"] = dict(identity)
    write_text(run_dir / RUN_FILE, json.dumps(info) + "\n")


def run_info(run_dir: Path) -> dict[str, Any]:
    """Read a run folder's ``run.json``.

    Args:
        run_dir: The run folder.

    Returns:
        Its content, or ``{}`` when missing or unreadable.
    """
    try:
        info = json.loads((run_dir / RUN_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def timestamp() -> str:
    """Local time as a sortable folder name.

    Returns:
        For example ``"20261127-101530"``.
    """
    return time.strftime(TIME_FORMAT)


def experiment_dir(root: str | Path, experiment: str) -> Path:
    """An experiment's folder, holding its runs, sweeps and comparisons.

    Args:
        root: ``--run.root``.
        experiment: ``--run.experiment`` or the datamodule's registry name.

    Returns:
        ``<root>/<experiment>``.
    """
    return Path(root) / experiment


def checkpoint_dir(run_dir: Path) -> Path:
    """Where a run's ``ModelCheckpoint`` writes (unless the user chose another folder).

    Args:
        run_dir: The run folder.

    Returns:
        ``<run>/checkpoints``.
    """
    return run_dir / CHECKPOINT_FOLDER


def last_checkpoint(folder: Path) -> Path:
    """The ``last.ckpt`` of a checkpoint folder.

    Args:
        folder: A checkpoint folder (``ModelCheckpoint.dirpath``).

    Returns:
        ``<folder>/last.ckpt``.
    """
    return folder / LAST_CHECKPOINT


def run_checkpoints(run_dir: Path, which: str) -> list[Path]:
    """A run's ``best`` or ``last`` checkpoints, oldest name first.

    Args:
        run_dir: The run folder.
        which: ``"best"`` or ``"last"``.

    Returns:
        The files (the last one is the one to use).
    """
    pattern = f"{BEST_PREFIX}-*.ckpt" if which == "best" else LAST_CHECKPOINT
    return sorted(checkpoint_dir(run_dir).glob(pattern))


def next_hpc_checkpoint(run_dir: Path) -> Path:
    """The file SLURM's next preemption checkpoint goes to: ``hpc_ckpt_<N+1>.ckpt``.

    Args:
        run_dir: The run folder (the trainer's ``default_root_dir``).

    Returns:
        The next free number's file.
    """
    numbers = [int(p.stem[len(HPC_PREFIX) :]) for p in _hpc_checkpoints(run_dir)]
    return run_dir / f"{HPC_PREFIX}{max(numbers, default=0) + 1}.ckpt"


def _hpc_checkpoints(run_dir: Path) -> list[Path]:
    return [p for p in run_dir.glob(f"{HPC_PREFIX}*.ckpt") if p.stem[len(HPC_PREFIX) :].isdigit()]


def resume_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint an interrupted run carries on from: the newer of ``last.ckpt`` and SLURM's ``hpc_ckpt_N``.

    Args:
        run_dir: The run folder.

    Returns:
        The file, or ``None`` when the run wrote none.
    """
    candidates = (last_checkpoint(checkpoint_dir(run_dir)), *_hpc_checkpoints(run_dir))
    found = [p for p in candidates if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


def runs_newest_first(experiment: Path) -> list[Path]:
    """An experiment's run folders (those holding a ``run.json``), the latest started first.

    Args:
        experiment: The experiment's folder.

    Returns:
        The run folders, by the start each recorded (else their modification time).
    """
    runs = [p.parent for p in experiment.glob(f"*/{RUN_FILE}")] if experiment.is_dir() else []
    return sorted(runs, key=_created, reverse=True)


def _created(run: Path) -> float:
    try:
        return float(run_info(run)["created"])
    except (KeyError, TypeError, ValueError):
        return run.stat().st_mtime


def run_config(run_dir: Path) -> dict[str, Any] | None:
    """A run's ``config.yaml`` (the resolved configuration of its first fit).

    Args:
        run_dir: The run folder.

    Returns:
        The configuration, or ``None`` when missing or unreadable.
    """
    try:
        config = yaml.safe_load((run_dir / CONFIG_FILE).read_text())
    except (OSError, yaml.YAMLError):
        return None
    return config if isinstance(config, dict) else None


def config_file(run_dir: Path, session: str, first: bool) -> Path:
    """Where a command's resolved configuration goes.

    Args:
        run_dir: The run folder.
        session: The command's ``<command>-<time>`` name.
        first: The run's first fit (which writes ``config.yaml``).

    Returns:
        ``<run>/config.yaml`` for the first fit, ``<run>/<session>.yaml`` for every later command.
    """
    return run_dir / (CONFIG_FILE if first else f"{session}.yaml")


def session_folder(kind: str, session: str) -> str:
    """A command's own subfolder of a run folder, relative to it.

    Args:
        kind: ``"logs"`` or ``"plots"`` (:data:`LOGS_FOLDER`, :data:`PLOTS_FOLDER`).
        session: The command's ``<command>-<time>`` name.

    Returns:
        For example ``"plots/fit-20261127-101530"``.
    """
    return f"{kind}/{session}"


def metrics_file(run_dir: Path, session: str) -> Path:
    """Where an evaluation writes its metrics.

    Args:
        run_dir: The run folder.
        session: The command's ``<command>-<time>`` name.

    Returns:
        ``<run>/<session>-metrics.json``.
    """
    return run_dir / f"{session}-metrics.json"


def tested_metrics(run_dir: Path, checkpoint: str) -> dict[str, float] | None:
    """The test metrics of the newest ``lit-nn test`` of one checkpoint of a run.

    Args:
        run_dir: The run folder.
        checkpoint: The checkpoint's file name.

    Returns:
        Its ``test/…`` metrics, or ``None`` when no test of it was recorded.
    """
    for path in sorted(run_dir.glob("test-*-metrics.json"), reverse=True):  # names sort by time
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("checkpoint") == checkpoint:
            return {k: float(v) for k, v in (record.get("metrics") or {}).items() if k.startswith("test/")}
    return None


def predictions_file(run_dir: Path, session: str) -> Path:
    """Where ``predict`` writes without ``--output``.

    Args:
        run_dir: The run folder.
        session: The command's ``<command>-<time>`` name.

    Returns:
        ``<run>/<session>.csv``.
    """
    return run_dir / f"{session}.csv"


def sweep_dir(experiment: Path, name: str) -> Path:
    """A sweep's folder: its study, and its trials' run folders.

    Args:
        experiment: The experiment's folder.
        name: The sweep's name.

    Returns:
        ``<experiment>/sweeps/<name>``.
    """
    return experiment / SWEEPS_FOLDER / name


def trial_name(number: int, attempt: int = 1) -> str:
    """A sweep trial's run-folder name.

    Args:
        number: The trial's number.
        attempt: 1, or 2, 3 … for a trial re-run beside a folder that holds no checkpoint.

    Returns:
        ``trial-0003``, ``trial-0003-2`` …
    """
    base = f"trial-{number:04d}"
    return base if attempt == 1 else f"{base}-{attempt}"


TRIALS = "trial-*"
"""A glob for every trial folder of a sweep."""


def cv_dir(experiment: Path, name: str) -> Path:
    """A cross-validation study's folder: its folds' run folders, its report.

    Args:
        experiment: The experiment's folder.
        name: The study's name.

    Returns:
        ``<experiment>/cv/<name>``.
    """
    return experiment / CV_FOLDER / name


def fold_name(index: int, folds: int, repeats: int = 1) -> str:
    """A fold's run-folder name.

    Args:
        index: The fold's number from 0, counting on through the repeats.
        folds: Folds per repeat.
        repeats: Repeats of the K-fold partition.

    Returns:
        ``fold-1`` … ``fold-K``; with repeats ``fold-1-r2`` (fold 1 of the second repeat).
    """
    repeat, fold = divmod(index, folds)
    return f"fold-{fold + 1}" if repeats == 1 else f"fold-{fold + 1}-r{repeat + 1}"


FOLDS = "fold-*"
"""A glob for every fold folder of a cross-validation study."""


def fold_predictions(run_dir: Path, split: str) -> Path:
    """A cross-validation fold's predictions of one split.

    Args:
        run_dir: The fold's run folder.
        split: ``held-out`` (the fold it did not train on) or ``test`` (the datamodule's test split).

    Returns:
        ``<run>/<split>-predictions.csv``.
    """
    return run_dir / f"{split}-predictions.csv"


def compare_run_names(values: list[str] | tuple[str, ...]) -> list[str]:
    """The run-folder names of a comparison's values, inside its folder.

    Args:
        values: The compared values, as given (``relu``, ``0.001``, ``{hidden_sizes: [8]}``).

    Returns:
        Each value with characters outside letters, digits, ``.``, ``_`` and ``-`` replaced
        (``hidden_sizes-8``); numbered ``1-…``, ``2-…`` when two would be the same.
    """
    names = [re.sub(r"[^A-Za-z0-9._-]+", "-", str(v)).strip("-.") or "value" for v in values]
    return names if len(set(names)) == len(names) else [f"{i}-{n}" for i, n in enumerate(names, 1)]


def compare_log(folder: Path, name: str) -> Path:
    """Where a compared value's run prints to.

    Args:
        folder: The comparison's folder.
        name: The value's run-folder name (:func:`compare_run_names`).

    Returns:
        ``<folder>/logs/<name>.log``.
    """
    return folder / LOGS_FOLDER / f"{name}.log"


def compare_dir(experiment: Path) -> Path:
    """A new comparison's folder: its runs, one per value, its table and figure.

    Args:
        experiment: The experiment's folder.

    Returns:
        ``<experiment>/compare-<time>``.
    """
    return experiment / f"compare-{timestamp()}"


def run_dir_of(checkpoint: Path) -> Path | None:
    """The run folder a checkpoint belongs to.

    Args:
        checkpoint: A checkpoint file.

    Returns:
        ``<run>`` for ``<run>/checkpoints/x.ckpt`` (or SLURM's ``<run>/hpc_ckpt_N.ckpt``) when
        ``<run>`` holds a ``run.json``, else ``None``.
    """
    folder = checkpoint.resolve().parent
    return next((run for run in (folder.parent, folder) if (run / RUN_FILE).is_file()), None)
