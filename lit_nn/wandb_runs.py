"""Weights & Biases for the CLI: online with credentials, offline without, CSV when disabled."""

from __future__ import annotations

import contextlib
import netrc
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lightning.pytorch import Trainer

from lit_nn.compat import started_wandb_run


def has_credentials(environ: Mapping[str, str]) -> bool:
    """Whether W&B could log in: an API key in the environment or in a netrc file.

    Args:
        environ: The process environment.

    Returns:
        True when ``WANDB_API_KEY`` is set or the netrc file has the W&B host.
    """
    if environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    path = Path(environ.get("NETRC", Path(environ.get("HOME", Path.home())) / ".netrc"))
    try:
        return netrc.netrc(str(path)).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_mode(environ: Mapping[str, str]) -> str:
    """How to run W&B: what ``WANDB_MODE`` says, else online with credentials, else offline.

    Args:
        environ: The process environment.

    Returns:
        ``"online"``, ``"offline"`` or ``"disabled"``.
    """
    mode = environ.get("WANDB_MODE", "").strip().lower()
    if mode in ("disabled", "offline", "online"):
        return mode
    if mode == "dryrun":
        return "offline"
    return "online" if has_credentials(environ) else "offline"


def finish(trainer: Trainer) -> list[str]:
    """Close the W&B runs this process opened and say, in one line each, where they are.

    Args:
        trainer: The trainer whose loggers to look at.

    Returns:
        Per W&B run: its URL, or for an offline run the one ``wandb sync`` command that uploads
        every piece the run folder holds (each command on a run folder adds one).
    """
    from lightning.pytorch.loggers import WandbLogger

    lines = []
    for logger in trainer.loggers:
        run: Any = started_wandb_run(logger) if isinstance(logger, WandbLogger) else None
        if run is None or not trainer.is_global_zero:
            continue
        if hasattr(logger, "save_step"):
            logger.save_step()
        folder = Path(logger.save_dir) / "wandb" if logger.save_dir else Path(run.settings.sync_dir).parent
        if run.offline:
            lines.append(f"W&B run {run.id} is offline in {folder}; upload it: wandb sync {folder}/offline-run-*")
        else:
            lines.append(f"W&B run {run.id}: {run.url}")
        try:
            run.finish()
        except OSError as exc:  # its own files (a full disk): say which folder
            exc.filename = exc.filename or str(Path(run.settings.sync_dir))
            raise
    return lines


def upload_line(folder: Path, runs_glob: str, each: str) -> str | None:
    """The one ``wandb sync`` command that uploads the offline W&B runs of a study's run folders.

    Args:
        folder: The study's folder (a sweep's, a cross-validation's).
        runs_glob: Its run folders, a glob below it (``runs.TRIALS``; ``runs.FOLDS``; with
            ``sweep.cv``, the trials' folds).
        each: What one run folder is (``trial``, ``fold``).

    Returns:
        ``W&B: … wandb sync <folder>/<runs_glob>/wandb/offline-run-*``, or ``None`` when no run there is offline.
    """
    offline = f"{runs_glob}/wandb/offline-run-*"
    if not any(folder.glob(offline)):
        return None
    return f"W&B: each {each}'s run is offline in its folder; upload them all: wandb sync {folder}/{offline}"


def git_state(folder: Path) -> dict[str, Any]:
    """The git commit of the user's working folder, whether it has uncommitted changes, its root and remote.

    Args:
        folder: The folder lit-nn runs in.

    Returns:
        ``{"commit", "dirty", "root", "remote"}``, or ``{}`` outside a checkout (or without git).
    """

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    state: dict[str, Any] = {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    state["root"] = git("rev-parse", "--show-toplevel")
    remote = git("remote", "get-url", "origin")
    if remote:
        state["remote"] = remote
    return state


def wandb_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Variables to set while lit_nn runs W&B: resume the run of a run folder rather than refuse.

    Args:
        environ: The process environment.

    Returns:
        ``{"WANDB_RESUME": "allow"}`` unless the user set it.
    """
    return {} if "WANDB_RESUME" in environ else {"WANDB_RESUME": "allow"}


def finish_stray_run() -> None:
    """Close a W&B run that a failed command left open in this process, so the next run is its own.

    A sweep trains its trials in one process; one that failed or was pruned did not reach
    :func:`finish`.
    """
    wandb = sys.modules.get("wandb")
    run = getattr(wandb, "run", None) if wandb is not None else None
    if run is not None:
        with contextlib.suppress(Exception):  # closing what a failure left behind must not hide the failure
            run.finish(exit_code=1)
