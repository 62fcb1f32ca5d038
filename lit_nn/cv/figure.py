"""The study's figure: each fold's score as a point, the mean and its interval, beside the baselines'."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from lit_nn.cv.compare import mean_interval
from lit_nn.plotting import save_figure


def draw(network: Sequence[float], baselines: Mapping[str, Sequence[float]], metric: str, path: Path) -> Path:
    """Per-fold scores of the network and each baseline; and the network's per-fold difference from each.

    Args:
        network: The network's metric per fold.
        baselines: Baseline name to its metric on the same folds.
        metric: The metric's name.
        path: The PNG to write.

    Returns:
        ``path``.
    """
    rows = {"network": list(network), **{k: list(v) for k, v in baselines.items()}}
    panels = 2 if baselines else 1
    figure, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 0.9 + 0.8 * len(rows)), squeeze=False)
    scores_axis = axes[0][0]
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(network))
    for row, (name, values) in enumerate(reversed(rows.items())):
        mean, half = mean_interval(values)
        colour = "tab:blue" if name == "network" else "tab:gray"
        scores_axis.scatter(values, row + jitter[: len(values)], s=18, alpha=0.6, color=colour)
        scores_axis.errorbar([mean], [row], xerr=[[half], [half]], fmt="D", color="k", capsize=4, markersize=6)
        scores_axis.annotate(f"{mean:.4g}", (mean, row), textcoords="offset points", xytext=(0, 9), ha="center",
                             fontsize=8)  # fmt: skip
    scores_axis.set_yticks(range(len(rows)), list(reversed(rows)))
    scores_axis.set(xlabel=metric, title=f"held-out {metric} per fold (◆ mean, 95 % interval)")
    scores_axis.set_ylim(-0.6, len(rows) - 0.4)
    if baselines:
        difference_axis = axes[0][1]
        for row, others in enumerate(reversed(list(baselines.values()))):
            differences = [a - b for a, b in zip(network, others, strict=True)]
            mean, half = mean_interval(differences)
            difference_axis.scatter(differences, row + jitter[: len(differences)], s=18, alpha=0.6, color="tab:blue")
            difference_axis.errorbar([mean], [row], xerr=[[half], [half]], fmt="D", color="k", capsize=4)
        difference_axis.axvline(0, color="tab:red", linestyle="--", linewidth=1)
        difference_axis.set_yticks(range(len(baselines)), [f"network − {k}" for k in reversed(list(baselines))])
        difference_axis.set(xlabel=f"difference in {metric}", title="per fold, against each baseline")
        difference_axis.set_ylim(-0.6, len(baselines) - 0.4)
    return save_figure(figure, path)
