"""How far to trust the answers, drawn: reliability diagrams of probabilities, conformal intervals of values.

The diagram bins confidences as torchmetrics' ``CalibrationError`` does (15 equal-width bins,
``bucketize`` with right-closed edges), so the expected calibration error in its legend is the
``ece`` the test reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from lit_nn.plotting import plt, save_figure

BINS = 15


def binned(confidence: Tensor, outcome: Tensor, bins: int = BINS) -> tuple[Tensor, Tensor, Tensor, float]:
    """Mean confidence, observed frequency and count per bin, and the expected calibration error.

    Args:
        confidence: ``(N,)`` predicted probabilities of an event.
        outcome: ``(N,)`` whether it happened (0 or 1).
        bins: Equal-width bins over [0, 1].

    Returns:
        ``(mean confidence, frequency, count)`` per bin (NaN where empty) and the ECE: the
        count-weighted mean of ``|frequency - confidence|``.
    """
    confidence, outcome = confidence.double().flatten(), outcome.double().flatten()
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    index = (torch.bucketize(confidence, edges, right=True) - 1).clamp(0, bins - 1)
    count = torch.zeros(bins, dtype=torch.float64).scatter_add_(0, index, torch.ones_like(confidence))
    mean = torch.zeros(bins, dtype=torch.float64).scatter_add_(0, index, confidence) / count
    frequency = torch.zeros(bins, dtype=torch.float64).scatter_add_(0, index, outcome) / count
    filled = count > 0
    ece = float(((frequency - mean).abs()[filled] * count[filled]).sum() / max(len(confidence), 1))
    return mean, frequency, count, ece


def top_label(probabilities: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """A classifier's confidence (its highest probability) and whether that class was right.

    Args:
        probabilities: ``(N, classes)``.
        targets: ``(N,)`` labels.

    Returns:
        ``(confidence, correct)``.
    """
    confidence, label = probabilities.max(dim=1)
    return confidence, (label == targets.long()).double()


def reliability_diagram(
    curves: Mapping[str, tuple[Tensor, Tensor]], path: Path, title: str, event: str = "correct"
) -> Path:
    """Observed frequency against predicted probability, per bin, for one or more calibrations.

    Each bin's point is drawn as large as its share of the samples, and the bars below count them.

    Args:
        curves: A label (``uncalibrated``, ``temperature 1.8``) to ``(confidence, outcome)``.
        path: The PNG file.
        title: Title prefix.
        event: What the probability is of (``correct`` for top-label confidence, ``class 1``).

    Returns:
        ``path``.
    """
    figure, (axes, counts) = plt.subplots(2, 1, figsize=(5, 6.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    axes.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="perfectly calibrated")
    width = 1.0 / BINS
    for i, (label, (confidence, outcome)) in enumerate(curves.items()):
        mean, frequency, count, ece = binned(confidence, outcome)
        filled = count > 0
        (line,) = axes.plot(mean[filled], frequency[filled], linewidth=1, alpha=0.7, label=f"{label}: ECE {ece:.3f}")
        # a bin's point is as large as its share of the samples: a bin of one sample is a dot
        sizes = 6 + 120 * count[filled] / count.sum()
        axes.scatter(mean[filled], frequency[filled], s=sizes, color=line.get_color(), zorder=3)
        centres = torch.linspace(width / 2, 1 - width / 2, BINS)
        shift = (i - (len(curves) - 1) / 2) * width / max(len(curves), 1)
        counts.bar(centres + shift, count, width=width / max(len(curves), 1), alpha=0.8)
    axes.set(
        xlim=(0, 1),
        ylim=(-0.03, 1.03),  # points at 0 and 1 drawn whole
        ylabel=f"observed frequency ({event})",
        title=f"{title}: reliability ({BINS} bins)",
    )
    axes.legend(loc="upper left", fontsize=8)
    counts.set(xlabel=f"predicted probability ({event})", ylabel="samples")
    counts.set_yscale("symlog")
    return save_figure(figure, path)


def intervals(predictions: Tensor, targets: Tensor, half_width: Tensor, path: Path, title: str) -> Path:
    """Conformal intervals of the first target, sorted by prediction, with the true values inside or out.

    Args:
        predictions: ``(N,)`` or ``(N, targets)``.
        targets: Same shape.
        half_width: The conformal quantile per target.
        path: The PNG file.
        title: Title prefix.

    Returns:
        ``path``.
    """
    predictions = predictions.reshape(len(predictions), -1)[:, 0].double()
    targets = targets.reshape(len(targets), -1)[:, 0].double()
    q = float(half_width.reshape(-1)[0])
    order = predictions.argsort()
    predictions, targets = predictions[order], targets[order]
    inside = (targets - predictions).abs() <= q
    rank = torch.arange(len(predictions))
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.fill_between(rank, predictions - q, predictions + q, alpha=0.25, label=f"interval ± {q:.4g}")
    axes.plot(rank, predictions, linewidth=1, label="prediction")
    axes.scatter(rank[inside], targets[inside], s=8, label=f"true, inside ({float(inside.double().mean()):.1%})")
    axes.scatter(rank[~inside], targets[~inside], s=12, marker="x", color="C3", label="true, outside")
    axes.set(xlabel="samples, by prediction", ylabel="value", title=f"{title}: conformal intervals")
    axes.legend(loc="upper left", fontsize=8)
    return save_figure(figure, path)
