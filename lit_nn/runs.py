"""Run folders: one per training run, never shared, found again by ``--ckpt_path best|last``.

This module owns the layout, as Lightning's ``ModelCheckpoint`` owns its file names: every other
part of lit_nn asks it for a run's, a checkpoint's, a sweep's or a comparison's path, and it is the
only reader and writer of ``run.json``::

    <root>/<experiment>/<run>/
        run.json                 when the run was created, and what it trains (task, backbone, data)
        config.yaml              the resolved configuration of the first fit
        checkpoints/best-*.ckpt, checkpoints/last.ckpt
        hpc_ckpt_N.ckpt          SLURM's preemption checkpoints (Lightning restores the newest)
        logs/<command>-<time>/   logger output of each command run on it
        plots/<command>-<time>/  figures
    <root>/<experiment>/sweeps/<sweep>/trial-NNNN/   a sweep's trials, each an ordinary run
    <root>/<experiment>/compare-<time>/              a comparison's table and figure
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lit_nn import __version__
from lit_nn.atomic import write_text
from lit_nn.console import process_rank
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
TIME_FORMAT = "%Y%m%d-%H%M%S"
RUN_DIR_ENV = "LIT_NN_RUN_DIR"
"""Set for child processes (DDP) so every rank uses the run folder rank 0 chose."""
SESSION_ENV = "LIT_NN_SESSION"
"""Likewise for the name of this command's outputs in the run folder."""


class RunError(LitNNError):
    """A run folder that cannot be created or found."""


@dataclass
class RunOptions:
    """Where runs go.

    Attributes:
        root: Folder holding all runs.
        experiment: Subfolder per experiment; ``None`` uses the datamodule's name.
        name: The run's folder name; ``None`` uses the start time (``20261127-101530``).
        log_checkpoints: Log the best and last checkpoints to W&B as a model artifact (online and offline).
    """

    root: str = "runs"
    experiment: str | None = None
    name: str | None = None
    log_checkpoints: bool = True


def _marker(name: str, identity: Mapping[str, Any] | None) -> str:
    """The ``run.json`` of a new run: creation time, versions, its W&B run id and what it trains."""
    wandb_id = re.sub(r"[^A-Za-z0-9_-]", "-", name)[:40] + "-" + secrets.token_hex(3)
    info = {"created": time.time(), "lit_nn": __version__, "pid": os.getpid(), "wandb_id": wandb_id}
    if identity is not None:
        info["trains"] = dict(identity)
    return json.dumps(info) + "\n"


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


def compare_dir(experiment: Path) -> Path:
    """A new comparison's folder (its table and figure).

    Args:
        experiment: The experiment's folder.

    Returns:
        ``<experiment>/compare-<time>``.
    """
    return experiment / f"compare-{timestamp()}"


def create_run_dir(experiment_dir: Path, name: str | None, identity: Mapping[str, Any] | None = None) -> Path:
    """Create a new, empty run folder; never reuse one.

    Args:
        experiment_dir: The experiment's folder.
        name: The run name, or ``None`` for the current time (with ``-2``, ``-3`` … appended if
            runs start within the same second).
        identity: What the run trains (see :func:`lit_nn.cli.checkpoint_choice.identity`), for
            ``--ckpt_path best|last`` to match later.

    Returns:
        The new folder, holding its ``run.json``.

    Raises:
        RunError: If ``name`` is taken or the folder cannot be written.
    """
    try:
        experiment_dir.mkdir(parents=True, exist_ok=True)
        base = name or timestamp()
        for attempt in range(1, 1000):
            candidate = experiment_dir / (base if attempt == 1 else f"{base}-{attempt}")
            try:
                candidate.mkdir()  # atomic: two runs cannot both create the same folder
            except FileExistsError:
                if name:
                    raise RunError(
                        f"run folder {candidate} already exists; choose another --run.name, "
                        "or resume it with --ckpt_path last"
                    ) from None
                continue
            write_text(candidate / RUN_FILE, _marker(candidate.name, identity))
            return candidate
    except OSError as exc:
        raise RunError(f"cannot create a run folder under {experiment_dir}: {exc.strerror or exc}") from exc
    raise RunError(f"too many runs named {base} under {experiment_dir}")


def launched_run_name(environ: Mapping[str, str]) -> str | None:
    """The run name every process of a job started by SLURM or torchrun shares.

    Each process of such a job runs ``lit-nn`` on its own, so they cannot agree on a time stamp;
    they agree on the scheduler's job id instead (a requeued SLURM job keeps its id, and so its
    run folder).

    Args:
        environ: The process environment.

    Returns:
        ``slurm-<job id>`` or ``torchrun-<rendezvous id>``, or ``None`` when no launcher started
        this process.

    Raises:
        RunError: Under torchrun without a rendezvous id.
    """
    if "SLURM_NTASKS" in environ and environ.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        return f"slurm-{environ.get('SLURM_JOB_ID', 'unknown')}"
    if "TORCHELASTIC_RUN_ID" in environ and int(environ.get("WORLD_SIZE", "1")) > 1:
        run_id = environ["TORCHELASTIC_RUN_ID"]
        if run_id in ("", "none"):
            raise RunError(
                "torchrun started this process without a rendezvous id, so its processes cannot agree on a run "
                "folder; pass --rdzv-id JOB_ID to torchrun (the same on every node) or --run.name NAME to lit-nn"
            )
        return f"torchrun-{run_id}"
    return None


def join_run_dir(experiment_dir: Path, name: str, rank: int, identity: Mapping[str, Any] | None = None) -> Path:
    """The shared folder of a launched job: every rank uses it, rank 0 marks it.

    Args:
        experiment_dir: The experiment's folder.
        name: The shared run name.
        rank: This process's global rank.
        identity: What the run trains.

    Returns:
        The folder (created if missing; a requeued job finds its own again).

    Raises:
        RunError: If it cannot be created.
    """
    run = experiment_dir / name
    try:
        run.mkdir(parents=True, exist_ok=True)
        if rank == 0 and not (run / RUN_FILE).exists():
            write_text(run / RUN_FILE, _marker(name, identity))
    except OSError as exc:
        raise RunError(f"cannot create the run folder {run}: {exc.strerror or exc}") from exc
    return run


def reserve_session(run_dir: Path, command: str) -> str:
    """Name this command's outputs in the run folder, unique even for two commands in one second.

    The name is reserved by creating ``logs/<name>/`` (atomic), so a resumed fit never writes
    into the logs of the fit it resumes.

    Args:
        run_dir: The run folder.
        command: ``fit``, ``test`` …

    Returns:
        ``<command>-<time>``, with ``-2``, ``-3`` … when taken.

    Raises:
        RunError: If the folder cannot be written.
    """
    base = f"{command}-{timestamp()}"
    try:
        (run_dir / LOGS_FOLDER).mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 1000):
            name = base if attempt == 1 else f"{base}-{attempt}"
            try:
                (run_dir / LOGS_FOLDER / name).mkdir()
                return name
            except FileExistsError:
                continue
    except OSError as exc:
        raise RunError(f"cannot write in the run folder {run_dir}: {exc.strerror or exc}") from exc
    raise RunError(f"too many {command} sessions named {base} in {run_dir}")


def missing_folders(folder: Path) -> list[Path]:
    """The folders that creating ``folder`` would create: it and its missing parents, deepest first.

    Args:
        folder: A folder that may not exist yet.

    Returns:
        The missing ones (empty when ``folder`` exists).
    """
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    return missing


def discard_unused(run_dir: Path, session: str, whole_run: bool, parents: Sequence[Path] = ()) -> None:
    """Remove what a command that failed before training created, when nothing was written into it.

    Args:
        run_dir: The run folder.
        session: The command's ``<command>-<time>`` name (its ``logs/<session>/`` folder).
        whole_run: The command created the run folder itself; remove it too when it holds
            nothing but its ``run.json``.
        parents: Folders above it the command created (:func:`missing_folders`), deepest
            first; each is removed if it is empty.
    """
    for empty in (run_dir / LOGS_FOLDER / session, run_dir / LOGS_FOLDER):
        with contextlib.suppress(OSError):
            empty.rmdir()  # only ever removes an empty folder
    with contextlib.suppress(OSError):
        if whole_run and sorted(p.name for p in run_dir.iterdir()) == [RUN_FILE]:
            (run_dir / RUN_FILE).unlink()
            run_dir.rmdir()
    for folder in parents:
        with contextlib.suppress(OSError):
            folder.rmdir()  # empty ones only: another run may have started beside this one


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


def plan_run_dir(experiment_dir: Path, name: str | None, ckpt_path: str | None) -> tuple[Path, str]:
    """Where a command's outputs go, and how the command comes by that folder.

    A DDP child uses the folder its parent chose; a command on a run's checkpoint uses that run;
    the processes of a SLURM or torchrun job share one named after the job; anything else gets a
    new folder named after the time (or ``--run.name``).

    Args:
        experiment_dir: The experiment's folder.
        name: ``--run.name``.
        ckpt_path: The checkpoint the command uses.

    Returns:
        ``(folder, how)``: ``how`` is ``"new"``, ``"join"`` (a launched job's shared folder) or
        ``"use"`` (an existing one); nothing is made yet.
    """
    inherited = os.environ.get(RUN_DIR_ENV)
    launched = launched_run_name(os.environ)
    if inherited:
        return Path(inherited), "use"
    owner = run_dir_of(Path(ckpt_path)) if ckpt_path else None
    if owner is not None:
        return owner, "use"
    if launched is not None:
        return experiment_dir / (name or launched), "join"
    return experiment_dir / (name or timestamp()), "new"


def make_run_dir(planned: Path, how: str, name: str | None, command: str, identity: Mapping[str, Any] | None
                 ) -> tuple[Path, str]:  # fmt: skip
    """Make (or join) the planned run folder and reserve this command's output name in it.

    Args:
        planned: From :func:`plan_run_dir`.
        how: From :func:`plan_run_dir`.
        name: ``--run.name`` (a new folder named by time takes ``-2`` when the second is taken).
        command: ``fit``, ``test`` …
        identity: What the run trains, for a new folder's ``run.json``.

    Returns:
        ``(run folder, session name)``, also set in the environment for DDP children.
    """
    inherited = os.environ.get(RUN_DIR_ENV)
    launched = launched_run_name(os.environ)
    if how == "new":
        run_dir = create_run_dir(planned.parent, name, identity)
    elif how == "join":
        run_dir = join_run_dir(planned.parent, planned.name, process_rank(os.environ), identity)
    else:
        run_dir = planned
    session = os.environ.get(SESSION_ENV) if inherited else None
    if session is None:
        rank = process_rank(os.environ) if launched else 0
        session = reserve_session(run_dir, command) if rank == 0 else f"{command}-{timestamp()}"
    os.environ[RUN_DIR_ENV], os.environ[SESSION_ENV] = str(run_dir), session  # DDP children reuse both
    return run_dir, session
