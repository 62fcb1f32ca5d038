"""The ``cv:`` section of ``lit-nn cv`` (``--cv.KEY``), checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lit_nn.errors import ConfigError

DEFAULT_METRIC = {"regression": "mse", "binary": "acc", "multiclass": "acc"}
"""The held-out metric a study is judged by when ``cv.metric`` names none, per task kind."""
LOWER_IS_BETTER = ("loss", "mse", "rmse", "mae")
"""Metric names (last part) where smaller is better."""


@dataclass
class CVOptions:
    """The ``cv:`` section of a config (``--cv.NAME`` on the command line).

    Attributes:
        folds: K: the samples outside the test split are cut into K folds, each held out once.
        repeats: Iterated K-fold: the partition is drawn again, reshuffled, this many times.
        groups: A CSV column whose rows stay in one fold (a patient's scans, a user's sessions).
        test: Also evaluate each fold's model, and the folds' ensemble, on the datamodule's test split.
        seed: Seed of the folds; default: the datamodule's seed.
        name: The study's folder under ``<run.root>/<experiment>/cv/``; the same command carries it on.
        metric: The held-out metric the study is judged by and compared with the baseline
            (``acc`` for classification, ``mse`` for regression by default).
        storage: Optuna's storage that records which fold ran: ``journal`` or ``sqlite``.
    """

    folds: int = 5
    repeats: int = 1
    groups: str | None = None
    test: bool = False
    seed: int | None = None
    name: str = "cv"
    metric: str | None = None
    storage: Literal["journal", "sqlite"] = "journal"


def check_options(options: CVOptions) -> None:
    """Refuse a section that cannot describe a study, before anything is made.

    Args:
        options: The section.

    Raises:
        ConfigError: For fewer than 2 folds or 1 repeat, or a name that cannot name a folder.
    """
    if not isinstance(options.folds, int) or options.folds < 2:
        raise ConfigError(f"--cv.folds must be 2 or more (each fold is held out once), got {options.folds!r}")
    if not isinstance(options.repeats, int) or options.repeats < 1:
        raise ConfigError(f"--cv.repeats must be 1 or more, got {options.repeats!r}")
    name = str(options.name or "")
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise ConfigError(f"--cv.name: {name!r} cannot name a folder; give a plain name such as breast-cancer-5")


def metric_of(options: CVOptions, kind: str) -> tuple[str, str]:
    """The metric a study is judged by, and whether larger is better.

    Args:
        options: The section.
        kind: The task's kind (``regression``, ``binary``, ``multiclass`` …).

    Returns:
        The metric's name without a stage (``acc``) and ``maximize`` or ``minimize``.
    """
    metric = (options.metric or DEFAULT_METRIC.get(kind, "loss")).split("/")[-1]
    return metric, "minimize" if metric in LOWER_IS_BETTER else "maximize"
