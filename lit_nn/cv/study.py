"""A cross-validation study's folder, its folds, and which process runs which fold.

Layout::

    <run.root>/<experiment>/cv/<name>/
        study.journal, sweep.json, base.yaml, claim.lock, locks/   as a sweep's (lit_nn.sweeps.study)
        folds.json       the held-out samples of every fold (ids and pool positions)
        logs/fold-3.log  a fold's console output
        fold-3/          an ordinary run folder: checkpoints, logs, W&B run (grouped under <name>)
        folds.csv, oof.csv, summary.json, cv.png   the report

It is a sweep whose trials are the folds: the study holds one trial per fold, queued in order
when it is made, so trial N is fold N, and the sweep's locks decide who runs which (workers on
one machine, a SLURM array), carry on an interrupted one, and run each once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from lit_nn import runs
from lit_nn.atomic import write_text
from lit_nn.cv.options import CVOptions
from lit_nn.errors import ConfigError
from lit_nn.sweeps.space import Parameter, SweepSpec
from lit_nn.sweeps.study import StudyWords, SweepFolder, claim, open_study

FOLD_KEY = "fold"
FOLDS_FILE = "folds.json"
"""Every fold's held-out samples, beside the study."""
"""The one parameter of a study's trials: the fold's number from 0."""
WORDS = StudyWords("cross-validation study", "cv", {"parameters": "folds", "direction": "metric"})
"""How messages name a study and its options (``--cv.metric``, ``--cv.name``)."""


class CVFolder(SweepFolder):
    """The paths of one cross-validation study: a sweep folder whose runs are named for their folds.

    Args:
        path: The study's folder.
        folds: Folds per repeat.
        repeats: Repeats.
    """

    def __init__(self, path: Path, folds: int, repeats: int) -> None:
        super().__init__(path)
        self.folds, self.repeats = folds, repeats

    @property
    def folds_file(self) -> Path:
        """``folds.json``: every fold's held-out samples."""
        return self.path / FOLDS_FILE

    def fold_name(self, number: int) -> str:
        """Fold ``number``'s name (from 0): ``fold-1``, ``fold-2`` … (:func:`runs.fold_name`)."""
        return runs.fold_name(number, self.folds, self.repeats)

    def log_file(self, number: int) -> Path:
        """``logs/fold-3.log``: what fold ``number`` printed."""
        return self.path / runs.LOGS_FOLDER / f"{self.fold_name(number)}.log"

    def run_name(self, number: int) -> str:
        """A free run-folder name for fold ``number``: ``fold-3``, or ``fold-3-2`` … beside one stopped early.

        A fold stopped before its first checkpoint is trained again from the start, in a folder of
        its own beside the first (as a sweep's trial is).
        """
        name, attempt = self.fold_name(number), 1
        while (self.path / (name if attempt == 1 else f"{name}-{attempt}")).exists():
            attempt += 1
        return name if attempt == 1 else f"{name}-{attempt}"


def spec_of(options: CVOptions, metric: str, direction: str) -> SweepSpec:
    """The study's spec: one queued trial per fold, its value the held-out metric.

    Args:
        options: The ``cv`` section.
        metric: The held-out metric (``test/acc``).
        direction: ``maximize`` or ``minimize``.

    Returns:
        A sweep spec (no pruning: every fold trains to its end).
    """
    count = options.folds * options.repeats
    parameters = (Parameter(FOLD_KEY, "categorical", choices=tuple(range(count))),)
    return SweepSpec(options.name, parameters, count, "random", metric, direction, False, 0,
                     int(options.seed or 0), options.storage)  # fmt: skip


def folds_record(ids: list[object], held: list[np.ndarray], options: CVOptions, seed: int) -> dict[str, object]:
    """What ``folds.json`` holds: how the folds were made and each fold's held-out positions.

    Args:
        ids: The pool's sample ids.
        held: Held-out positions per fold.
        options: The ``cv`` section.
        seed: The folds' seed.

    Returns:
        Plain values.
    """
    return {
        "folds": options.folds,
        "repeats": options.repeats,
        "groups": options.groups,
        "seed": seed,
        "samples": len(ids),
        "held_out": [fold.tolist() for fold in held],
    }


def open_cv(folder: CVFolder, spec: SweepSpec, base: dict[str, object], record: dict[str, object]) -> optuna.Study:
    """Create the study with its folds queued, or load it and check it has these folds.

    Args:
        folder: The study's folder.
        spec: Its spec (:func:`spec_of`).
        base: The configuration every fold starts from.
        record: :func:`folds_record` of this command.

    Returns:
        The study.

    Raises:
        ConfigError: When the folder holds a study made with other folds, seed, groups or data,
            another metric or storage, or another configuration: nothing in it is changed.
    """
    if folder.folds_file.is_file():
        stored = json.loads(folder.folds_file.read_text())
        if stored != record:
            what = next(
                (f"{key}: {stored.get(key)} then, {record[key]} now" for key in record if key != "held_out"
                 and stored.get(key) != record[key]), "the same settings drew other folds (the data changed)",
            )  # fmt: skip
            raise ConfigError(
                f"{folder.path} holds a study made with other folds ({what}); run the command that started it to "
                "carry it on, or give another --cv.name for a new study"
            )
    study = open_study(folder, spec, base, WORDS)
    with claim(folder):
        if not folder.folds_file.is_file():
            write_text(folder.folds_file, json.dumps(record) + "\n")
        if not study.get_trials(deepcopy=False):
            for number in range(spec.n_trials):
                study.enqueue_trial({FOLD_KEY: number})
    return study


def stored_folds(path: Path) -> dict[str, Any]:
    """What a study's ``folds.json`` recorded (:func:`folds_record`).

    Args:
        path: The study's folder.

    Returns:
        The record.

    Raises:
        ConfigError: When the folder holds no readable ``folds.json``.
    """
    try:
        record = json.loads((path / FOLDS_FILE).read_text())
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict) or "held_out" not in record:
        raise ConfigError(
            f"{path} holds no cross-validation study (no readable {FOLDS_FILE}); give the folder `lit-nn cv` "
            "printed, <run.root>/<experiment>/cv/<name>"
        )
    return record


def held_out(folder: CVFolder) -> list[np.ndarray]:
    """Every fold's held-out positions, as ``folds.json`` recorded them.

    Args:
        folder: The study's folder.

    Returns:
        One array per fold.
    """
    return [np.asarray(fold, dtype=np.int64) for fold in stored_folds(folder.path)["held_out"]]
