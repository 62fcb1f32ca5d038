"""What a sweep found: a table of its trials, and Optuna's own plots of the study as PNGs."""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from lit_nn.atomic import write_text
from lit_nn.sweeps.space import Parameter, decoded, shown
from lit_nn.sweeps.study import REASON_ATTR, RUN_DIR_ATTR

PLOTS = {
    "history.png": "plot_optimization_history",
    "importances.png": "plot_param_importances",
    "parallel_coordinate.png": "plot_parallel_coordinate",
    "slice.png": "plot_slice",
}
"""File to the function of ``optuna.visualization.matplotlib`` that draws it."""


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best finished trial.

    Args:
        study: The study.

    Returns:
        It, or ``None`` before any trial completed.
    """
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return study.best_trial


def last_value(trial: FrozenTrial) -> float | None:
    """A trial's value, or for a pruned or running one the last value it reported.

    Args:
        trial: The trial.

    Returns:
        The value, or ``None`` when it has none.
    """
    if trial.value is not None:
        return trial.value
    if trial.intermediate_values:
        return trial.intermediate_values[max(trial.intermediate_values)]
    return None


def table(study: optuna.Study, parameters: Sequence[Parameter], metric: str) -> tuple[list[str], list[list[str]]]:
    """The trials as rows: number, state, value, epochs, every parameter, time, and run folder or reason.

    Args:
        study: The study.
        parameters: The search space.
        metric: The metric optimised (the value column's title).

    Returns:
        ``(headers, rows)``; the best trial's state reads ``best``.
    """
    best = best_trial(study)
    keys = [p.key for p in parameters]
    headers = ["trial", "state", metric, "epochs", *keys, "seconds", "run folder (or why it failed)"]
    rows = []
    for trial in study.get_trials(deepcopy=False):
        value = last_value(trial)
        state = "best" if best is not None and trial.number == best.number else trial.state.name.lower()
        seconds = trial.duration.total_seconds() if trial.duration else None
        values = decoded(trial.params, parameters)
        where = trial.user_attrs.get(REASON_ATTR) or trial.user_attrs.get(RUN_DIR_ATTR) or ""
        rows.append([
            str(trial.number), state, "-" if value is None or math.isnan(value) else f"{value:.4f}",
            str(len(trial.intermediate_values)), *(shown(values[key]) if key in values else "-" for key in keys),
            "-" if seconds is None else f"{seconds:.1f}", where,
        ])  # fmt: skip
    return headers, rows


def write_csv(path: Path, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    """Write the table as CSV.

    Args:
        path: The file.
        headers: Column titles.
        rows: The rows.

    Returns:
        ``path``.
    """
    buffer = io.StringIO()
    csv.writer(buffer).writerows([headers, *rows])
    write_text(path, buffer.getvalue())
    return path


def _figure(drawn: Any) -> Any:  # noqa: ANN401 (Axes, or an array of them)
    first = drawn.flat[0] if hasattr(drawn, "flat") else drawn
    return first.get_figure()


def _readable_slices(figure: Any) -> None:  # noqa: ANN401 (a Figure)
    """Slanted tick labels, and no minor ones on log axes, so the panels' labels do not run into each other."""
    from matplotlib.ticker import NullFormatter

    for axes in figure.axes:
        if axes.get_label() == "<colorbar>":
            continue
        axes.tick_params(axis="x", labelrotation=30, labelsize=8)
        for label in axes.get_xticklabels():
            label.set_horizontalalignment("right")
        if axes.get_xscale() == "log":
            axes.xaxis.set_minor_formatter(NullFormatter())


def plots(study: optuna.Study, folder: Path) -> tuple[list[Path], list[str]]:
    """Draw Optuna's plots of the study: optimisation history, parameter importances, parallel coordinates, slices.

    Args:
        study: The study.
        folder: Where the PNGs go.

    Returns:
        The files written, and for each plot not drawn, why (importances need two completed trials).
    """
    from optuna.visualization import matplotlib as drawing

    from lit_nn.plotting import save_figure

    written, skipped = [], []
    complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    for name, function in PLOTS.items():
        needs = 2 if name == "importances.png" else 1
        if complete < needs:
            skipped.append(f"{name}: needs {'two completed trials' if needs == 2 else 'a completed trial'}")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental" (the matplotlib backend) and the like
            try:
                figure = _figure(getattr(drawing, function)(study))
            except (ValueError, RuntimeError) as exc:  # e.g. importances of parameters that never varied
                skipped.append(f"{name}: {exc}")
                continue
        axes = len(study.best_trial.params) + 1  # a parallel coordinate per parameter and one for the value
        width = {"parallel_coordinate.png": 2.0 * axes, "slice.png": 3.6 * (axes - 1)}.get(name, 8)
        if name == "slice.png":
            _readable_slices(figure)
        figure.set_size_inches(max(figure.get_size_inches()[0], width), max(figure.get_size_inches()[1], 5))
        written.append(save_figure(figure, folder / name, lay_out=False))
    return written, skipped
