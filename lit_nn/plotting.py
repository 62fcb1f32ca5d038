"""Figures people would rather look at than read: confusion matrices, ROC/PR, residuals, curves.

Each function takes plain tensors or lists and writes one PNG file. matplotlib is imported here
only, with the non-interactive Agg backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import torch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from torch import Tensor  # noqa: E402

from lit_nn.atomic import atomic_write  # noqa: E402
from lit_nn.curves_reading import read_curves  # noqa: E402


def save_figure(figure: plt.Figure, path: Path, lay_out: bool = True) -> Path:
    """Write a figure as a PNG, atomically, and close it.

    Args:
        figure: The figure.
        path: The PNG file.
        lay_out: Fit the axes to the figure first; ``False`` for a figure laid out already (with
            a colour bar of its own, as Optuna's are), which is cropped to what it draws instead.

    Returns:
        ``path``.
    """
    if lay_out:
        figure.tight_layout()
    with atomic_write(path) as handle:  # a half-written PNG never replaces a whole one
        figure.savefig(handle, dpi=100, format="png", bbox_inches=None if lay_out else "tight")
    plt.close(figure)
    return path


def confusion_counts(labels: Tensor, targets: Tensor, num_classes: int) -> Tensor:
    """Count each (true, predicted) pair.

    Args:
        labels: Predicted class indices ``(N,)``.
        targets: True class indices ``(N,)``.
        num_classes: Number of classes.

    Returns:
        ``(num_classes, num_classes)`` counts, true classes in rows.
    """
    flat = targets.long() * num_classes + labels.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


MAX_DRAWN_CLASSES = 40
"""A confusion matrix draws at most this many classes: those most often confused, the others left out."""
MAX_ANNOTATED_CLASSES = 25
"""Above this many drawn classes, the cells are shaded without their counts written in."""
MAX_FIGURE_INCHES = 16.0


def most_confused(labels: Tensor, targets: Tensor, num_classes: int, keep: int) -> Tensor:
    """The classes most often involved in a mistake, as the true or the predicted class.

    Args:
        labels: Predicted class indices ``(N,)``.
        targets: True class indices ``(N,)``.
        num_classes: Number of classes.
        keep: How many to return.

    Returns:
        Up to ``keep`` class indices in increasing order (ties broken by the number of samples).
    """
    labels, targets = labels.long(), targets.long()
    wrong = labels != targets
    mistakes = torch.bincount(targets[wrong], minlength=num_classes) + torch.bincount(
        labels[wrong], minlength=num_classes
    )
    score = mistakes.double() * (len(targets) + 1) + torch.bincount(targets, minlength=num_classes).double()
    return torch.topk(score, min(keep, num_classes)).indices.sort().values


def confusion_matrix(labels: Tensor, targets: Tensor, names: Sequence[str], path: Path, title: str) -> Path:
    """Counts of true (rows) against predicted (columns) classes, shaded by row share.

    With more than :data:`MAX_DRAWN_CLASSES` classes, the most confused ones are drawn and the
    title says how many were left out; above :data:`MAX_ANNOTATED_CLASSES`, the counts are not
    written in the cells. Memory grows with the samples and the classes drawn, not the square of
    the class count.

    Args:
        labels: Predicted class indices ``(N,)``.
        targets: True class indices ``(N,)``.
        names: Class names.
        path: PNG file to write.
        title: Figure title.

    Returns:
        ``path``.
    """
    n = len(names)
    labels, targets = labels.long(), targets.long()
    drawn = most_confused(labels, targets, n, MAX_DRAWN_CLASSES) if n > MAX_DRAWN_CLASSES else torch.arange(n)
    k = len(drawn)
    position = torch.full((n,), -1, dtype=torch.long)
    position[drawn] = torch.arange(k)
    rows, columns = position[targets], position[labels]
    both = (rows >= 0) & (columns >= 0)
    counts = confusion_counts(columns[both], rows[both], k)  # between the drawn classes only
    samples = torch.bincount(targets, minlength=n)[drawn]  # shares of each class's samples, drawn or not
    share = counts / samples.unsqueeze(1).clamp(min=1)
    notes = []
    if k < n:
        notes.append(f"the {k} most confused of {n} classes ({n - k} left out)")
    if k > MAX_ANNOTATED_CLASSES:
        notes.append("counts not written")
    size = min(max(4.0, 0.5 * k + 2), MAX_FIGURE_INCHES)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    if k <= MAX_ANNOTATED_CLASSES:
        for row in range(k):
            for column in range(k):
                colour = "white" if share[row, column] > 0.5 else "black"
                axes.text(
                    column, row, str(int(counts[row, column])), ha="center", va="center", color=colour, fontsize=8
                )
    full_title = f"{title}\n{'; '.join(notes)}" if notes else title
    axes.set(xticks=range(k), yticks=range(k), xlabel="predicted", ylabel="true", title=full_title)
    shown = [names[i] for i in drawn.tolist()]
    small: dict[str, Any] = {"fontsize": 6} if k > MAX_ANNOTATED_CLASSES else {}
    axes.set_xticklabels(shown, rotation=45, ha="right", **small)
    axes.set_yticklabels(shown, **small)
    return save_figure(figure, path)


def roc_and_pr(probabilities: Tensor, targets: Tensor, path_roc: Path, path_pr: Path, title: str) -> list[Path]:
    """ROC and precision-recall curves of a binary classifier.

    Args:
        probabilities: Probability of class 1 ``(N,)``.
        targets: 0/1 labels ``(N,)``.
        path_roc: PNG file for the ROC curve.
        path_pr: PNG file for the precision-recall curve.
        title: Title prefix.

    Returns:
        The two paths.
    """
    from torchmetrics.functional.classification import (
        binary_auroc,
        binary_average_precision,
        binary_precision_recall_curve,
        binary_roc,
    )

    targets = targets.long()
    fpr, tpr, _ = binary_roc(probabilities, targets)
    precision, recall, _ = binary_precision_recall_curve(probabilities, targets)
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot(fpr, tpr, label=f"AUROC {float(binary_auroc(probabilities, targets)):.3f}")
    axes.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title=f"{title}: ROC")
    axes.legend(loc="lower right")
    roc = save_figure(figure, path_roc)
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot(recall, precision, label=f"AP {float(binary_average_precision(probabilities, targets)):.3f}")
    axes.axhline(float(targets.float().mean()), color="k", linestyle="--", linewidth=0.8, label="chance")
    axes.set(xlabel="recall", ylabel="precision", title=f"{title}: precision-recall", ylim=(0, 1.02))
    axes.legend(loc="lower left")
    return [roc, save_figure(figure, path_pr)]


def regression(
    predictions: Tensor, targets: Tensor, path_scatter: Path, path_residuals: Path, title: str
) -> list[Path]:
    """Predicted against true values, and residuals against predicted values.

    Args:
        predictions: ``(N,)`` or ``(N, T)`` (the first target is drawn).
        targets: Same shape.
        path_scatter: PNG file for predicted against true.
        path_residuals: PNG file for the residuals.
        title: Title prefix.

    Returns:
        The two paths.
    """
    predictions = predictions.reshape(len(predictions), -1)[:, 0]
    targets = targets.reshape(len(targets), -1)[:, 0]
    low, high = float(min(predictions.min(), targets.min())), float(max(predictions.max(), targets.max()))
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.scatter(targets, predictions, s=8, alpha=0.6)
    axes.plot([low, high], [low, high], "k--", linewidth=0.8, label="perfect")
    axes.set(xlabel="true", ylabel="predicted", title=f"{title}: predicted against true")
    axes.legend(loc="upper left")
    scatter = save_figure(figure, path_scatter)
    figure, axes = plt.subplots(figsize=(5, 4))
    axes.scatter(predictions, targets - predictions, s=8, alpha=0.6)
    axes.axhline(0, color="k", linestyle="--", linewidth=0.8)
    axes.set(xlabel="predicted", ylabel="true − predicted", title=f"{title}: residuals")
    return [scatter, save_figure(figure, path_residuals)]


def curves(history: Sequence[Mapping[str, float]], path: Path) -> Path:
    """Loss curves (train and validation), then each validation metric on an axis of its own.

    The loss axis carries the reading of :func:`lit_nn.curves_reading.read_curves`: its verdict in
    the title, a dashed line at the best epoch and the over-fitting stretch shaded.

    Args:
        history: One mapping per epoch with ``epoch`` and logged values (every epoch of the run,
            a resumed one's earlier epochs included).
        path: PNG file to write.

    Returns:
        ``path``.
    """
    epochs = [row["epoch"] for row in history]
    metrics = sorted({k for row in history for k in row if k.startswith("val/") and k != "val/loss"})
    columns = min(3, 1 + len(metrics))
    rows = -(-(1 + len(metrics)) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    axes = list(grid.flat)
    losses = axes[0]
    for key, label in (("train/loss_epoch", "train"), ("val/loss", "validation")):
        values = [row.get(key) for row in history]
        if any(v is not None for v in values):
            losses.plot(epochs, [float("nan") if v is None else v for v in values], marker="o", label=label)
    reading = read_curves(history)  # the marks of the line ``lit-nn fit`` prints
    if reading.best_epoch is not None:
        losses.axvline(reading.best_epoch, color="tab:green", linestyle="--", linewidth=1,
                       label=f"best epoch {reading.best_epoch}")  # fmt: skip
    if reading.overfit_from is not None and reading.last_epoch is not None:
        losses.axvspan(reading.overfit_from, reading.last_epoch, color="tab:red", alpha=0.12,
                       label=f"over-fitting ({reading.overfit_epochs} epochs)")  # fmt: skip
    losses.set(xlabel="epoch", ylabel="loss", title=f"loss: {reading.verdict}" if reading.read else "loss")
    losses.legend(fontsize="small")
    for ax, key in zip(axes[1:], metrics, strict=False):
        ax.plot(epochs, [row.get(key, float("nan")) for row in history], marker="o", color="tab:green")
        ax.set(xlabel="epoch", title=f"validation {key.removeprefix('val/')}")
    for ax in axes[: 1 + len(metrics)]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[1 + len(metrics) :]:
        ax.axis("off")
    return save_figure(figure, path)


def activations(factories: Mapping[str, Callable[[], torch.nn.Module]], path: Path) -> Path:
    """Every activation and its derivative on ``[-4, 4]``, one panel each.

    Args:
        factories: Name to zero-argument factory.
        path: PNG file to write.

    Returns:
        ``path``.
    """
    columns = 4
    rows = -(-len(factories) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    x = torch.linspace(-4, 4, 401, requires_grad=True)
    for axes, (name, factory) in zip(grid.flat, factories.items(), strict=False):
        y = factory()(x)
        (gradient,) = torch.autograd.grad(y.sum(), x)
        axes.plot(x.detach(), y.detach(), label="f(x)")
        axes.plot(x.detach(), gradient, "--", label="f′(x)")
        axes.axhline(0, color="grey", linewidth=0.5)
        axes.axvline(0, color="grey", linewidth=0.5)
        axes.set_title(name)
    for axes in list(grid.flat)[len(factories) :]:
        axes.axis("off")
    grid.flat[0].legend(loc="upper left")
    return save_figure(figure, path)


def activation_statistics(history: Sequence[Mapping[str, float]], layers: Sequence[str], path: Path) -> Path:
    """Layers by measured steps: dead units, saturated outputs and the gradient reaching each layer.

    Args:
        history: One mapping per measured step with ``step`` and ``stats/<layer>/…`` values.
        layers: Layer names, first applied first (the top row).
        path: PNG file to write.

    Returns:
        ``path``.
    """
    steps = [int(row["step"]) for row in history]
    panels = [
        ("dead_fraction", "dead units (never positive on a batch)", "share", (0.0, 1.0), "Reds"),
        ("saturated_fraction", "saturated outputs (slope near zero)", "share", (0.0, 1.0), "Oranges"),
        ("grad_norm", "gradient reaching the layer", "log10 norm", None, "viridis"),
    ]
    figure, axes = plt.subplots(1, 3, figsize=(15, 1.6 + 0.45 * len(layers)), squeeze=False)
    for ax, (stat, title, unit, limits, cmap) in zip(axes[0], panels, strict=True):
        grid = torch.tensor(
            [[row.get(f"stats/{layer}/{stat}", float("nan")) for row in history] for layer in layers],
            dtype=torch.float64,
        )
        if stat == "grad_norm":
            grid = grid.clamp_min(1e-30).log10()
        if torch.isnan(grid).all():
            why = "not measured\n(ReLU-like activations only)" if stat == "dead_fraction" else "not measured"
            ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
            ax.set(title=title, xticks=[], yticks=[])
            continue
        vmin, vmax = (
            limits
            if limits is not None
            else (float(grid.nan_to_num(nan=float("inf")).min()), float(grid.nan_to_num(nan=float("-inf")).max()))
        )
        image = ax.imshow(grid.numpy(), aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        figure.colorbar(image, ax=ax, label=unit)
        every = max(1, len(steps) // 6)
        ticks = list(range(0, len(steps), every))
        if len(steps) - 1 - ticks[-1] >= every / 2:  # the last step too, unless it would crowd its neighbour
            ticks.append(len(steps) - 1)
        ax.set(title=title, xlabel="training step", xticks=ticks, xticklabels=[steps[i] for i in ticks])
        ax.set_yticks(range(len(layers)), layers)
    figure.suptitle("activation statistics: first layer at the top")
    return save_figure(figure, path)


def comparison(
    setting: str, runs: Sequence[tuple[str, Sequence[Mapping[str, float]]]], metric: str, path: Path
) -> Path:
    """Runs that differ in one setting: learning curves overlaid, final values side by side.

    Args:
        setting: The setting compared (``model.activation``).
        runs: Each value with its per-epoch history (``epoch``, ``train/loss_epoch``, ``val/…``).
        metric: The validation metric drawn beside the loss.
        path: PNG file to write.

    Returns:
        ``path``.
    """
    figure, (loss_ax, metric_ax, final_ax) = plt.subplots(1, 3, figsize=(15, 4.2))
    colours = plt.get_cmap("tab10")
    finals = []
    for i, (value, history) in enumerate(runs):
        epochs = [row["epoch"] for row in history]
        colour = colours(i % 10)
        train = [row.get("train/loss_epoch", float("nan")) for row in history]
        loss_ax.plot(epochs, [row.get("val/loss", float("nan")) for row in history], marker="o", color=colour,
                     label=f"{value} (validation)")  # fmt: skip
        loss_ax.plot(epochs, train, linestyle="--", color=colour, alpha=0.6)
        values = [row.get(metric, float("nan")) for row in history]
        metric_ax.plot(epochs, values, marker="o", color=colour, label=value)
        finals.append(values[-1] if values else float("nan"))
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss (solid: validation, dashed: train)")
    loss_ax.legend(fontsize="small")
    metric_ax.set(xlabel="epoch", title=f"validation {metric.removeprefix('val/')}")
    metric_ax.legend(fontsize="small")
    for ax in (loss_ax, metric_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    labels = [value for value, _ in runs]
    bars = final_ax.bar(labels, finals, color=[colours(i % 10) for i in range(len(runs))])
    final_ax.bar_label(bars, fmt="%.3f")
    final_ax.set(title=f"final validation {metric.removeprefix('val/')}", xlabel=setting)
    if metric in ("val/acc", "val/f1_macro", "val/auroc"):
        final_ax.set_ylim(0, 1.05)
    figure.suptitle(f"{setting}: {', '.join(labels)}")
    return save_figure(figure, path)
