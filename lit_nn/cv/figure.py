"""The study's figure: each fold's score as a point, the mean and its interval, beside the baselines'."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from lit_nn.cv.compare import mean_interval
from lit_nn.cv.numbers import significant
from lit_nn.plotting import save_figure

INTERVAL = "corrected 95 % interval"


def draw(
    network: Sequence[float],
    baselines: Mapping[str, Sequence[float]],
    metric: str,
    path: Path,
    test_share: float,
    higher_is_better: bool,
    floors: Mapping[str, float] | None = None,
) -> Path:
    """Per-fold scores of the network and each baseline; and the network's per-fold difference from each.

    Args:
        network: The network's metric per fold.
        baselines: Baseline name to its metric on the same folds (those drawn).
        metric: The metric's name.
        path: The PNG to write.
        test_share: Held-out over training samples of a fold (the intervals' correction,
            :func:`~lit_nn.cv.compare.mean_interval`).
        higher_is_better: The metric's direction: which side of the differences favours the network.
        floors: Baselines written in the title, not drawn (the majority class far below the
            others would squeeze them): name to mean.

    Returns:
        ``path``.
    """
    rows = {"network": list(network), **{k: list(v) for k, v in baselines.items()}}
    panels, height = (2 if baselines else 1), 1.6 + 0.8 * len(rows) + 0.2 * len(floors or {})
    figure, axes = plt.subplots(1, panels, figsize=(5.6 * panels, height), squeeze=False)
    scores_axis = axes[0][0]
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(network))
    for row, (name, values) in enumerate(reversed(rows.items())):
        mean, half = mean_interval(values, test_share)
        colour = "tab:blue" if name == "network" else "tab:gray"
        scores_axis.scatter(values, row + jitter[: len(values)], s=18, alpha=0.6, color=colour)
        scores_axis.errorbar([mean], [row], xerr=[[half], [half]], fmt="D", color="k", capsize=4, markersize=6)
        scores_axis.annotate(significant(mean), (mean, row), textcoords="offset points", xytext=(0, 9), ha="center",
                             fontsize=8)  # fmt: skip
    scores_axis.set_yticks(range(len(rows)), list(reversed(rows)))
    scores_axis.set_ylim(-0.6, len(rows) - 0.4)
    low, high = scores_axis.get_xlim()
    notes = [f"{name}: {significant(mean)} ({'not drawn' if low <= mean <= high else 'off the scale'})"
             for name, mean in (floors or {}).items()]  # fmt: skip
    scores_axis.set(xlabel=metric, title="\n".join([f"held-out {metric} per fold", f"◆ mean, {INTERVAL}", *notes]))
    if baselines:
        difference_axis = axes[0][1]
        for row, others in enumerate(reversed(list(baselines.values()))):
            differences = [a - b for a, b in zip(network, others, strict=True)]
            mean, half = mean_interval(differences, test_share)
            difference_axis.scatter(differences, row + jitter[: len(differences)], s=18, alpha=0.6, color="tab:blue")
            difference_axis.errorbar([mean], [row], xerr=[[half], [half]], fmt="D", color="k", capsize=4)
        difference_axis.axvline(0, color="tab:red", linestyle="--", linewidth=1)
        difference_axis.set_yticks(range(len(baselines)), [f"network − {k}" for k in reversed(list(baselines))])
        sides = ("baseline", "network") if higher_is_better else ("network", "baseline")
        difference_axis.set(xlabel=f"difference in {metric}\n← {sides[0]} better  |  {sides[1]} better →",
                            title=f"network − baseline per fold\n◆ mean, {INTERVAL}")  # fmt: skip
        difference_axis.set_ylim(-0.6, len(baselines) - 0.4)
        difference_axis.locator_params(axis="x", nbins=6)  # differences such as -0.015 need room
    return save_figure(figure, path)
