"""A sweep's folder, the Optuna study stored in it, and which process runs which trial.

Layout::

    <run.root>/<experiment>/sweeps/<name>/
        study.journal (or study.db)  Optuna's storage: every trial, its values and its state
        sweep.json                   what the study is (search space, metric, sampler, seed)
        base.yaml                    the configuration every trial starts from
        claim.lock, locks/           who runs what (below)
        logs/trial-0003.log          a trial's console output
        trial-0003/                  an ordinary run folder: checkpoints, logs, W&B run
        trials.csv, best.yaml, *.png the report

Several processes share one study: workers on one machine, array tasks of a SLURM job on a
shared file system. A process takes a trial while holding ``claim.lock`` (so the study never
holds more than ``n_trials`` and no two processes draw the same one) and holds
``locks/trial-NNNN.lock`` while it runs the trial. Both are ``flock`` locks, which the kernel (or
the NFS server) releases when the process ends however it ends, SIGKILL included: a running trial
whose lock is free was interrupted, and the next process to look carries it on.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import optuna
import yaml
from optuna.trial import TrialState

from lit_nn import runs
from lit_nn.atomic import write_text
from lit_nn.compat import trial_by_id
from lit_nn.errors import ConfigError
from lit_nn.sweeps.space import SweepSpec, pruner_for, sampler_for, spec_from_record, suggest

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
RUN_DIR_ATTR = "run_dir"
WORKER_ATTR = "worker"
REASON_ATTR = "reason"


class SweepFolder:
    """The paths of one sweep.

    Args:
        path: The sweep's folder.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def spec_file(self) -> Path:
        """``sweep.json``: what the study is."""
        return self.path / "sweep.json"

    @property
    def base_config(self) -> Path:
        """``base.yaml``: the configuration every trial starts from."""
        return self.path / "base.yaml"

    @property
    def journal(self) -> Path:
        """``study.journal``: Optuna's journal storage, one JSON entry a line."""
        return self.path / "study.journal"

    def storage(self, kind: str) -> optuna.storages.BaseStorage:
        """The study's storage in this folder.

        Args:
            kind: ``journal`` or ``sqlite``.

        Returns:
            Optuna's journal file storage (``study.journal``, with its symlink lock, which works on
            NFS) or SQLite (``study.db``).

        Raises:
            ConfigError: When the journal is damaged (:func:`check_journal`).
        """
        if kind == "sqlite":
            return optuna.storages.RDBStorage(f"sqlite:///{self.path / 'study.db'}")
        check_journal(self.journal)
        journal = str(self.journal)
        backend = optuna.storages.journal.JournalFileBackend(
            journal, lock_obj=optuna.storages.journal.JournalFileSymlinkLock(journal)
        )
        return optuna.storages.journal.JournalStorage(backend)

    def lock_file(self, number: int) -> Path:
        """``locks/trial-NNNN.lock``, held by the process running trial ``number``."""
        return self.path / "locks" / f"{runs.trial_name(number)}.lock"

    def log_file(self, number: int) -> Path:
        """``logs/trial-NNNN.log``: what trial ``number`` printed."""
        return self.path / "logs" / f"{runs.trial_name(number)}.log"

    def run_name(self, number: int) -> str:
        """A free run-folder name for trial ``number``: ``trial-0003``, then ``trial-0003-2`` … for a re-run."""
        attempt = 1
        while (self.path / runs.trial_name(number, attempt)).exists():
            attempt += 1
        return runs.trial_name(number, attempt)


def check_journal(path: Path) -> None:
    """Refuse an Optuna journal with a line that is not a whole JSON entry, before Optuna reads it.

    Optuna stops at such a line with a raw decode error, or, when the last line was cut short,
    appends after it and damages the journal further; so it is checked first, in one pass.

    Args:
        path: The journal (missing: a new study, nothing to check).

    Raises:
        ConfigError: Naming the file, the line and the way out.
    """
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        for number, line in enumerate(handle, start=1):
            cut = not line.endswith(b"\n")
            try:
                entry = json.loads(line)
                whole = isinstance(entry, dict) and not cut
            except ValueError:
                whole = False
            if not whole:
                what = "is cut short (the process writing it was stopped mid-line)" if cut else "is not a journal entry"
                raise ConfigError(
                    f"{path} line {number} {what}: Optuna cannot read the study past it. Keep a copy "
                    f"(cp {path} {path}.bak), remove that line (`sed -i '{number}d' {path}`: a trial it "
                    "recorded runs again), then run the command again"
                )


@contextlib.contextmanager
def claim(folder: SweepFolder) -> Iterator[None]:
    """Hold the sweep's claim lock: one process at a time counts the trials and takes one.

    Args:
        folder: The sweep.

    Yields:
        Nothing, with the lock held.
    """
    folder.path.mkdir(parents=True, exist_ok=True)
    with open(folder.path / "claim.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def hold(path: Path) -> IO[str] | None:
    """Take a trial's lock without waiting.

    Args:
        path: The lock file.

    Returns:
        The open file holding the lock, or ``None`` when a living process holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a")  # noqa: SIM115 (held open for the trial's life)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _first_difference(old: Any, new: Any, where: str = "") -> tuple[str, str] | None:  # noqa: ANN401
    """Where two records first differ, and how: ``("seed", "seed: 0 then, 1 now")``."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in list(dict.fromkeys([*old, *new])):
            found = _first_difference(old.get(key), new.get(key), f"{where}.{key}" if where else str(key))
            if found:
                return found
        return None
    return None if old == new else (where, f"{where}: {json.dumps(old)} then, {json.dumps(new)} now")


@dataclass(frozen=True)
class StudyWords:
    """How a command's messages name its study and the options that make one.

    Attributes:
        noun: The study (``study``; ``cross-validation study``).
        section: The command's options for it: ``sweep`` (``--sweep.name``), ``cv``.
        options: A spec field set by another option than ``--<section>.<field>`` (``parameters``
            to ``folds`` for cross-validation, whose trials are its folds).
    """

    noun: str = "study"
    section: str = "sweep"
    options: Mapping[str, str] = field(default_factory=dict)

    def option(self, name: str) -> str:
        """The option that sets a spec field (``seed``: ``--sweep.seed``)."""
        return f"--{self.section}.{self.options.get(name, name)}"


SWEEP_WORDS = StudyWords()
"""A sweep's: ``--sweep.name``."""


def open_study(
    folder: SweepFolder, spec: SweepSpec, base: dict[str, Any], words: StudyWords = SWEEP_WORDS
) -> optuna.Study:
    """Create the study, or load it and check it is the one this command describes.

    Args:
        folder: The sweep.
        spec: The sweep's spec.
        base: The configuration every trial starts from (written to ``base.yaml``).
        words: How messages name the study and its options (a sweep's by default).

    Returns:
        The study.

    Raises:
        ConfigError: When the folder holds a study of another search space, metric or
            configuration (the first difference named, with the option that sets it), or a
            damaged journal; either way before anything is written.
    """
    if spec.storage != "sqlite":
        check_journal(folder.journal)  # a damaged study is refused before anything in the folder is written
    with claim(folder):
        if folder.spec_file.exists():
            stored = json.loads(folder.spec_file.read_text())
            stored.pop("n_trials", None)  # may grow: asking for more trials carries the study on
            for part, old, new in (
                ("spec", stored, spec.study_record()),
                ("configuration", yaml.safe_load(folder.base_config.read_text()), base),
            ):
                differs = _first_difference(old, new)
                if differs:
                    where, how = differs
                    what = part if part == "configuration" else words.option(where.split(".")[0])
                    raise ConfigError(
                        f"{folder.path} holds a {words.noun} started with another {what} ({how}); run the command "
                        f"that started it to carry it on, or give another {words.option('name')} for a new study"
                    )
        else:
            write_text(folder.base_config, yaml.safe_dump(base, sort_keys=False))
        record = {**spec.study_record(), "n_trials": spec.n_trials}
        write_text(folder.spec_file, json.dumps(record, indent=2) + "\n")
        return optuna.create_study(storage=folder.storage(spec.storage), study_name=spec.name,
                                   direction=spec.direction, pruner=pruner_for(spec), load_if_exists=True)  # fmt: skip


def load_study(folder: SweepFolder) -> tuple[optuna.Study, SweepSpec]:
    """Open the study of an existing sweep folder, for its report.

    Args:
        folder: The sweep.

    Returns:
        The study and its spec (with the ``n_trials`` last asked for).

    Raises:
        ConfigError: When the folder holds no sweep.
    """
    try:
        record = json.loads(folder.spec_file.read_text())
    except (OSError, ValueError):
        raise ConfigError(
            f"{folder.path} holds no sweep (no readable sweep.json); give the folder `lit-nn sweep` printed, "
            "<run.root>/<experiment>/sweeps/<name>"
        ) from None
    spec = spec_from_record(record)
    return optuna.load_study(study_name=spec.name, storage=folder.storage(spec.storage)), spec


@dataclass
class Claimed:
    """A trial this process runs.

    Attributes:
        trial: The Optuna trial.
        values: Its parameters' values.
        run_dir: Its run folder (existing when it is carried on).
        lock: The open lock file; closing it lets the trial go.
        carried_on: Whether an interrupted trial is taken over.
    """

    trial: optuna.Trial
    values: dict[str, Any]
    run_dir: Path
    lock: IO[str]
    carried_on: bool

    def release(self) -> None:
        """Let the trial go (its lock)."""
        self.lock.close()


def worker_name() -> str:
    """Who runs a trial: host, process id, and the SLURM array task when there is one.

    Returns:
        For example ``node7:12345`` or ``node7:12345 (array task 3)``.
    """
    name = f"{socket.gethostname()}:{os.getpid()}"
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{name} (array task {task})" if task else name


def next_trial(study: optuna.Study, folder: SweepFolder, spec: SweepSpec) -> Claimed | None:
    """Take the next trial: an interrupted one first, else a new one while the study has fewer than asked.

    Args:
        study: The study.
        folder: The sweep.
        spec: The sweep's spec (``n_trials``, the search space, the sampler).

    Returns:
        The trial, its lock held; ``None`` when every trial is finished or taken. Trials queued
        with fixed values (``enqueue_trial``) are taken first, in order.
    """
    with claim(folder):
        trials = study.get_trials(deepcopy=False)
        for frozen in trials:
            if frozen.state != TrialState.RUNNING:
                continue
            lock = hold(folder.lock_file(frozen.number))
            if lock is None:
                continue  # a living process runs it
            study.sampler = sampler_for(spec, frozen.number)  # one stopped before its values were drawn draws them now
            trial = trial_by_id(study, frozen)
            run_dir = Path(frozen.user_attrs.get(RUN_DIR_ATTR) or folder.path / folder.run_name(frozen.number))
            if runs.resume_checkpoint(run_dir) is None:
                run_dir = folder.path / folder.run_name(frozen.number)  # nothing to resume: a fresh run
            return _claimed(trial, spec, run_dir, lock, carried_on=True)
        limit = min(spec.n_trials, spec.grid_size()) if spec.sampler == "grid" else spec.n_trials
        taken = sum(t.state != TrialState.WAITING for t in trials)  # queued ones (a cross-validation's folds) wait
        if taken >= limit:
            return None
        study.sampler = sampler_for(spec, taken)
        trial = study.ask()
        lock = hold(folder.lock_file(trial.number))
        if lock is None:  # cannot happen while the claim is held; stay safe
            return None
        return _claimed(trial, spec, folder.path / folder.run_name(trial.number), lock, carried_on=False)


def _claimed(trial: optuna.Trial, spec: SweepSpec, run_dir: Path, lock: IO[str], carried_on: bool) -> Claimed:
    values = suggest(trial, spec.parameters)  # inside the claim: a draw sees every trial taken before it
    trial.set_user_attr(RUN_DIR_ATTR, str(run_dir))
    trial.set_user_attr(WORKER_ATTR, worker_name())
    return Claimed(trial, values, run_dir, lock, carried_on)


def delete_if_empty(study: optuna.Study, folder: SweepFolder, spec: SweepSpec) -> bool:
    """Remove a study none of whose trials finished, with its records, so a corrected command starts afresh.

    Args:
        study: The study.
        folder: The sweep.
        spec: The sweep's spec (its storage).

    Returns:
        Whether it was removed.
    """
    with claim(folder):
        if any(t.state in FINISHED for t in study.get_trials(deepcopy=False)):
            return False
        optuna.delete_study(study_name=study.study_name, storage=folder.storage(spec.storage))
        for path in (folder.spec_file, folder.base_config):
            path.unlink(missing_ok=True)
        return True
