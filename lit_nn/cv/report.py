"""A cross-validation study's report: per-fold and mean ± std metrics, out-of-fold predictions, the baseline.

Written into the study's folder: ``folds.csv`` (a row per fold: the network's held-out metrics,
each baseline's), ``oof.csv`` (every sample predicted once per repeat, by the model that did not
train on it, with its fold), ``summary.json`` and ``cv.png``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from lit_nn import runs
from lit_nn.atomic import write_text
from lit_nn.cv.baseline import FLOORS
from lit_nn.cv.compare import mean_interval, paired, verdict
from lit_nn.cv.figure import INTERVAL, draw
from lit_nn.cv.numbers import significant
from lit_nn.cv.scores import Columns, concatenated, ensemble, read_table, scores, write_table
from lit_nn.cv.study import FOLD_KEY, CVFolder
from lit_nn.sweeps.study import REASON_ATTR, RUN_DIR_ATTR
from lit_nn.wandb_runs import upload_line

METRICS_ATTR = "metrics"
"""A fold trial's held-out metrics (without the ``test/`` prefix)."""
TEST_METRICS_ATTR = "test_metrics"
"""A fold trial's metrics on the datamodule's test split (``--cv.test``)."""
OOF_FILE, FOLDS_TABLE, SUMMARY_FILE, FIGURE_FILE = "oof.csv", "folds.csv", "summary.json", "cv.png"


@dataclass
class Study:
    """What a report is made of.

    Attributes:
        folder: The study's folder.
        trials: Its trials, one per fold.
        metric: The metric it is judged by (``acc``).
        higher_is_better: Its direction.
        baselines: Baseline name to metrics per fold (every fold, in order).
        test_share: Held-out over training samples of a fold.
        with_test: Whether each fold was also evaluated on the test split.
        copies: Per fold, how many held-out samples are exact copies of one it trained on (0:
            copies are folded together; ``None`` entries where the data has no content keys).
    """

    folder: CVFolder
    trials: Sequence[FrozenTrial]
    metric: str
    higher_is_better: bool
    baselines: Mapping[str, Sequence[Mapping[str, float]]] = field(default_factory=dict)
    test_share: float = 0.25
    with_test: bool = False
    copies: Sequence[int | None] = ()


@dataclass
class Report:
    """What a report shows.

    Attributes:
        headers: The per-fold table's columns.
        rows: Its rows (cells as text).
        lines: The summary lines, the verdict last.
        summary: What ``summary.json`` holds.
    """

    headers: list[str]
    rows: list[list[str]]
    lines: list[str]
    summary: dict[str, Any]


def fold_of(trial: FrozenTrial) -> int:
    """A fold trial's fold number, from 0.

    Args:
        trial: The trial.

    Returns:
        Its ``fold`` parameter.
    """
    return int(trial.params.get(FOLD_KEY, trial.number))


def _stats(rows: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    spread = (lambda values: float(np.std(values, ddof=1))) if len(rows) > 1 else (lambda values: 0.0)
    return {k: {"mean": float(np.mean([r[k] for r in rows])), "std": spread([r[k] for r in rows])} for k in keys}


def _in_order(keys: Sequence[str], order: Sequence[str]) -> list[str]:
    """``keys`` in the order of ``order`` (the network's metrics), any others after them."""
    return [k for k in order if k in keys] + [k for k in keys if k not in order]


def _shown(stats: Mapping[str, Mapping[str, float]], order: Sequence[str] = ()) -> str:
    return "  ".join(f"{k} {significant(stats[k]['mean'])} ± {significant(stats[k]['std'], 2)}"
                     for k in _in_order(list(stats), order))  # fmt: skip


def _numbers(metrics: Mapping[str, float], order: Sequence[str] = ()) -> str:
    return "  ".join(f"{k} {significant(metrics[k])}" for k in _in_order(list(metrics), order))


def out_of_fold(study: Study, done: Sequence[FrozenTrial], split: str = "held-out") -> list[Columns]:
    """The completed folds' prediction tables of one split, each with the fold and repeat of its rows.

    Args:
        study: The study.
        done: Its completed trials.
        split: ``held-out`` or ``test``.

    Returns:
        One table per fold that wrote one.
    """
    tables = []
    for trial in done:
        path = runs.fold_predictions(Path(trial.user_attrs[RUN_DIR_ATTR]), split)
        if path.is_file():
            table = read_table(path)
            repeat, fold = divmod(fold_of(trial), study.folder.folds)
            count = len(next(iter(table.values())))
            tables.append({"fold": [fold + 1] * count, "repeat": [repeat + 1] * count, **table})
    return tables


def _table(study: Study, trials: Sequence[FrozenTrial]) -> tuple[list[str], list[list[str]]]:
    """The per-fold table: state, the network's held-out metrics, each baseline's metric."""
    metric, folds = study.metric, study.folder.folds
    keys = list(dict.fromkeys(k for t in trials for k in t.user_attrs.get(METRICS_ATTR, {})))
    copies = ["held-out copies"] if any(c is not None for c in study.copies) else []
    headers = ["fold", "repeat", "state", *keys, *(f"{name}: {metric}" for name in study.baselines), *copies, "reason"]
    rows = []
    for trial in trials:
        repeat, fold = divmod(fold_of(trial), folds)
        metrics = trial.user_attrs.get(METRICS_ATTR, {})
        baseline = [per_fold[fold_of(trial)].get(metric) for per_fold in study.baselines.values()]
        cells = [fold + 1, repeat + 1, trial.state.name.lower(), *(metrics.get(k) for k in keys), *baseline,
                 *([study.copies[fold_of(trial)]] if copies else [])]  # fmt: skip
        rows.append([("" if c is None else significant(c) if isinstance(c, float) else str(c)) for c in cells]
                    + [str(trial.user_attrs.get(REASON_ATTR, ""))])  # fmt: skip
    return headers, rows


def write(study: Study) -> Report:
    """Write the report files and say what they show.

    Args:
        study: The study.

    Returns:
        The report.
    """
    folder, metric = study.folder, study.metric
    trials = sorted(study.trials, key=fold_of)
    done = [t for t in trials if t.state == TrialState.COMPLETE and metric in t.user_attrs.get(METRICS_ATTR, {})]
    headers, rows = _table(study, trials)
    write_table(folder.path / FOLDS_TABLE, dict(zip(headers, zip(*rows, strict=True), strict=True)) if rows else {})
    count = folder.folds * folder.repeats
    running = sum(t.state == TrialState.RUNNING for t in trials)  # in another process (SLURM, a worker), or killed
    rest = count - len(done) - running
    lines = ["; ".join([f"{len(done)} of {count} folds complete",
                        *([f"{running} running in another process or interrupted"] if running else []),
                        *([f"{rest} failed or not run yet"] if rest else [])])
             + ("" if len(done) == count else " (run the same command to carry on)")]  # fmt: skip
    summary: dict[str, Any] = {"metric": metric, "folds": folder.folds, "repeats": folder.repeats,
                               "complete": len(done)}  # fmt: skip
    if done:
        lines += _findings(study, done, summary)
    upload = upload_line(folder.path, runs.FOLDS, "fold")
    lines += [upload] if upload else []
    write_text(folder.path / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    return Report(headers, rows, lines, summary)


def _findings(study: Study, done: Sequence[FrozenTrial], summary: dict[str, Any]) -> list[str]:
    """The lines of a study with completed folds; files written on the way."""
    folder, metric = study.folder, study.metric
    ours = [t.user_attrs[METRICS_ATTR][metric] for t in done]
    summary["network"] = _stats([t.user_attrs[METRICS_ATTR] for t in done])
    order = list(summary["network"])
    lines = [f"Network, held-out folds (mean ± std): {_shown(summary['network'])}"]
    theirs = {name: [per_fold[fold_of(t)] for t in done] for name, per_fold in study.baselines.items()}
    summary["baselines"] = {name: _stats(rows) for name, rows in theirs.items()}
    lines += [f"{name.capitalize()}, same folds: {_shown(stats, order)}"
              for name, stats in summary["baselines"].items()]  # fmt: skip
    tables = out_of_fold(study, done)
    if tables:
        oof = concatenated(tables)
        write_table(folder.path / OOF_FILE, oof)
        repeats = sorted(set(oof["repeat"]))
        summary["out_of_fold"] = [scores({k: [v for v, r in zip(cells, oof["repeat"], strict=True) if r == repeat]
                                          for k, cells in oof.items()}) for repeat in repeats]  # fmt: skip
        lines.append(f"Out-of-fold predictions ({len(oof['fold'])} rows, each sample once per repeat): "
                     f"{folder.path / OOF_FILE}: {_numbers(summary['out_of_fold'][0], order)}"
                     + (" (first repeat)" if len(repeats) > 1 else ""))  # fmt: skip
    if study.with_test:
        lines += _test_lines(study, done, summary, order)
    baseline_values = {name: [m[metric] for m in rows] for name, rows in theirs.items()}
    drawn = {name: v for name, v in baseline_values.items() if name not in FLOORS} or baseline_values
    floors = {name: float(np.mean(v)) for name, v in baseline_values.items() if name not in drawn}
    figure = draw(ours, drawn, metric, folder.path / FIGURE_FILE, study.test_share, study.higher_is_better, floors)
    lines.append(f"Figure: {figure}   Table: {folder.path / FOLDS_TABLE}")
    mean, half = mean_interval(ours, study.test_share)
    lines.append(f"Estimate: held-out {metric} {significant(mean)} ({INTERVAL}: {significant(mean)} ± "
                 f"{significant(half, 2)} over {len(ours)} folds)")  # fmt: skip
    summary["estimate"] = {"mean": mean, "half_width": half}
    summary["comparisons"] = []
    for name, values in baseline_values.items():
        if len(ours) < 2:
            break
        result = paired(ours, values, name, metric, study.higher_is_better, study.test_share)
        summary["comparisons"].append({"baseline": name, "mean_difference": result.mean, "p_value": result.p_value,
                                       "differences": list(result.differences), "better": result.better})  # fmt: skip
        lines.append(verdict(result, ours, values))
    return lines


def _test_lines(study: Study, done: Sequence[FrozenTrial], summary: dict[str, Any], order: Sequence[str]) -> list[str]:
    """The test split's lines: each fold's model on it (mean ± std), and the folds' ensemble; metrics in ``order``."""
    per_fold = [t.user_attrs[TEST_METRICS_ATTR] for t in done if TEST_METRICS_ATTR in t.user_attrs]
    lines = []
    if per_fold:
        summary["test"] = _stats(per_fold)
        lines.append(f"Test split, each fold's model (mean ± std): {_shown(summary['test'], order)}")
    tables = out_of_fold(study, done, "test")
    if tables:
        summary["test_ensemble"] = scores(ensemble(tables))
        lines.append(f"Test split, the {len(tables)} folds' models averaged: "
                     f"{_numbers(summary['test_ensemble'], order)}")  # fmt: skip
    return lines
