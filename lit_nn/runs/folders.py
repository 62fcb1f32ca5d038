"""Run folders made, joined and cleaned up: one per training run, never shared.

A new command gets a new folder named after the time (or ``--run.name``); a command on a run's
checkpoint uses that run; the processes of a SLURM or torchrun job, and DDP children, share one.
Every name inside comes from :mod:`lit_nn.runs.layout`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lit_nn.console import process_rank
from lit_nn.runs.layout import (
    LOGS_FOLDER,
    PLOTS_FOLDER,
    RUN_FILE,
    RunError,
    config_file,
    metrics_file,
    predictions_file,
    run_dir_of,
    session_folder,
    timestamp,
    write_run_file,
)

RUN_DIR_ENV = "LIT_NN_RUN_DIR"
"""Set for child processes (DDP) so every rank uses the run folder rank 0 chose."""
SESSION_ENV = "LIT_NN_SESSION"
"""Likewise for the name of this command's outputs in the run folder."""


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
            write_run_file(candidate, identity)
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
            write_run_file(run, identity)
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


def drop_empty_session(run_dir: Path, session: str) -> None:
    """Remove a finished command's ``logs/<session>/`` when no logger wrote into it (W&B writes ``wandb/``).

    Args:
        run_dir: The run folder.
        session: The command's ``<command>-<time>`` name.
    """
    for empty in (run_dir / session_folder(LOGS_FOLDER, session), run_dir / LOGS_FOLDER):
        with contextlib.suppress(OSError):
            empty.rmdir()  # only ever removes an empty folder


def discard_unused(
    run_dir: Path,
    session: str,
    whole_run: bool,
    parents: Sequence[Path] = (),
    checkpoints: Path | None = None,
    since: float | None = None,
) -> None:
    """Remove what a command that failed created, so a failed command leaves no trace in a run folder.

    The command's own outputs go (``logs/<session>/``, ``plots/<session>/``, its configuration,
    metrics and predictions files), and a run folder it created goes whole. A command that saved a
    checkpoint (a fit that finished an epoch, then failed) keeps everything: that is work to resume.

    Args:
        run_dir: The run folder.
        session: The command's ``<command>-<time>`` name.
        whole_run: The command created the run folder itself; remove it whole.
        parents: Folders above it the command created (:func:`missing_folders`), deepest
            first; each is removed if it is empty.
        checkpoints: The folder the command's checkpoints go to.
        since: When the command started (``time.time()``): a checkpoint written since then keeps
            the command's outputs.
    """
    if checkpoints is not None and since is not None and checkpoints.is_dir():
        with contextlib.suppress(OSError):
            if any(p.stat().st_mtime >= since for p in checkpoints.glob("*.ckpt")):
                return
    if whole_run:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        for folder in (LOGS_FOLDER, PLOTS_FOLDER):
            shutil.rmtree(run_dir / session_folder(folder, session), ignore_errors=True)
            with contextlib.suppress(OSError):
                (run_dir / folder).rmdir()  # only ever removes an empty folder
        for written in (config_file(run_dir, session, first=False), metrics_file(run_dir, session),
                        predictions_file(run_dir, session)):  # fmt: skip
            with contextlib.suppress(OSError):
                written.unlink(missing_ok=True)
    for parent in parents:
        with contextlib.suppress(OSError):
            parent.rmdir()  # empty ones only: another run may have started beside this one


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
