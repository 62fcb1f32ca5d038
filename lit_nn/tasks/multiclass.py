"""Multiclass classification: one logit per class."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from lit_nn.errors import InvalidArgumentsError
from lit_nn.tasks.base import BaseTask
from lit_nn.tasks.calibration import class_log_odds, class_scores, prediction_sets
from lit_nn.tasks.labels import check_labels, kind_mismatch, single_class
from lit_nn.tasks.outputs import set_columns
from lit_nn.tasks.trust_metrics import LogitCalibrationError, SetCoverage, SetSize


class TopKAccuracy(MulticlassAccuracy):
    """Micro top-k accuracy: the share of samples whose label is among the ``top_k`` highest scores.

    The number ``MulticlassAccuracy(top_k=top_k, average="micro")`` gives, for under half the
    work: torchmetrics builds and compares one-hot tensors of every batch for it, where this hands
    top-1 accuracy each sample's label when it is among the ``top_k`` highest scores and the
    highest score's class otherwise.

    Args:
        num_classes: Number of classes.
        top_k: How many of the highest scores count.
        **kwargs: ``MulticlassAccuracy`` arguments.
    """

    def __init__(self, num_classes: int, top_k: int, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, average="micro", **kwargs)
        self.k = top_k

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Count the hits of a batch.

        Args:
            preds: Scores ``(N, C)`` (or labels ``(N,)``, counted as top-1).
            target: Labels ``(N,)``.
        """
        if preds.dim() == target.dim() + 1:
            top = preds.topk(min(self.k, preds.shape[1]), dim=1).indices
            hit = (top == target.unsqueeze(1)).any(dim=1)
            preds = torch.where(hit, target, top[:, 0])
        super().update(preds, target)


class MulticlassClassificationTask(BaseTask):
    """``num_classes`` classes with one logit each; ``cross_entropy`` loss by default.

    Metrics: ``acc``, ``f1_macro`` and, with more than five classes, ``top5_acc``; when testing,
    ``ece`` too, and ``coverage`` and ``set_size`` of the conformal sets when it has them. A
    temperature (``--calibrate temperature``) divides the logits in every evaluation, the test loss
    included; the predicted label is the raw logits' argmax, so it never changes.

    Args:
        num_classes: Number of classes (the CLI takes it from the datamodule).
        **kwargs: :class:`~lit_nn.tasks.base.BaseTask` arguments.
    """

    kind = "multiclass"
    default_loss = "cross_entropy"
    size_argument = "num_classes"
    temperature_scaled = True
    conformal_applies = True

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        if num_classes is None:  # linked from a datamodule whose targets are not class labels
            raise InvalidArgumentsError(kind_mismatch("MulticlassClassificationTask", "num_classes", None))
        if num_classes == 1:
            raise InvalidArgumentsError(single_class("the data"))
        if num_classes < 2:
            raise InvalidArgumentsError(f"num_classes must be at least 2, got {num_classes}")
        super().__init__(**kwargs)

    @property
    def output_size(self) -> int:
        """One logit per class."""
        return self.hparams.num_classes

    def build_metrics(self) -> MetricCollection:
        """Multiclass metrics.

        Returns:
            ``acc`` (micro), ``f1_macro`` and, for more than five classes, ``top5_acc``.
        """
        c = self.hparams.num_classes
        metrics = {
            "acc": MulticlassAccuracy(num_classes=c, average="micro"),
            "f1_macro": MulticlassF1Score(num_classes=c, average="macro"),
        }
        if c > 5:
            # acc and f1_macro check the same labels in the same update; this one need not again.
            metrics["top5_acc"] = TopKAccuracy(num_classes=c, top_k=5, validate_args=False)
        # No compute groups: top-1 and top-5 accuracy update differently but look alike after a
        # first batch that is all right, and torchmetrics would then merge them for good.
        return MetricCollection(metrics, compute_groups=False)

    def check_batch(self, batch: Sequence[Tensor]) -> None:
        """Labels must be class indices."""
        check_labels(batch[1], self.hparams.num_classes)

    def model_step(self, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Loss on the (temperature-scaled) logits; the metrics take them."""
        x, y = batch
        logits = self(x) / self.calibration.temperature
        return self.criterion(logits, y), logits.detach(), y

    def predict_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """The most likely label, every class's probability and, when calibrated, the conformal set.

        Args:
            x: ``(batch, *input_shape)``.

        Returns:
            ``{"label": (batch,), "probabilities": (batch, num_classes)}``, and
            ``"prediction_set": (batch, num_classes)`` booleans with ``--conformal``.
        """
        logits = self(x)
        scaled = logits / self.calibration.temperature
        outputs = {"label": logits.argmax(dim=-1), "probabilities": scaled.softmax(dim=-1)}
        if self.calibration.conformal:
            outputs["prediction_set"] = prediction_sets(class_log_odds(scaled), self.calibration.quantile)
        return outputs

    def temperature_nll(self, logits: Tensor, targets: Tensor) -> Tensor:
        """The negative log-likelihood a temperature is fitted to (cross-entropy of the labels).

        Args:
            logits: ``(n, num_classes)``, already divided by the temperature.
            targets: ``(n,)`` labels.

        Returns:
            The mean.
        """
        return F.cross_entropy(logits, targets.long())

    def conformal_scores(self, logits: Tensor, targets: Tensor) -> Tensor:
        """The log-odds against the true class under the calibration's temperature (:func:`class_log_odds`).

        Args:
            logits: Raw ``(n, num_classes)`` logits.
            targets: ``(n,)`` labels.

        Returns:
            ``(n,)`` scores.
        """
        temperature = self.calibration.temperature.to(logits.device)
        return class_scores(class_log_odds(logits / temperature), targets)

    def trust_metrics(self) -> dict[str, Metric]:
        """``ece`` and, with conformal sets, their ``coverage`` and ``set_size``.

        Returns:
            Metric name to metric.
        """
        metrics: dict[str, Metric] = {"ece": LogitCalibrationError(num_classes=self.hparams.num_classes, n_bins=15)}
        if self.calibration.conformal:
            quantile = self.calibration.quantile
            metrics.update(coverage=SetCoverage(quantile, binary=False), set_size=SetSize(quantile, binary=False))
        return metrics

    def output_descriptions(self) -> dict[str, str]:
        """The label and every class's probability.

        Returns:
            Output name to description.
        """
        return {
            "label": "int64 (N,): the predicted class index (class_names[label])",
            "probabilities": "float32 (N, classes): every class's probability",
            **self.calibration.set_description(),
        }

    def output_columns(self, name: str, value: Tensor, class_names: Sequence[str] | None) -> dict[str, Any]:
        """A ``p_<class>`` column per class; the label by name.

        Args:
            name: The output's name.
            value: One sample's value.
            class_names: Class names, or ``None``.

        Returns:
            Column name to cell.
        """
        if name == "probabilities":
            labels = class_names or [str(i) for i in range(len(value))]
            return {f"p_{label}": float(p) for label, p in zip(labels, value, strict=True)}
        if name == "prediction_set":
            return set_columns(value, class_names)
        return super().output_columns(name, value, class_names)

    def plot_predictions(
        self,
        preds: Tensor,
        targets: Tensor,
        path: Callable[[str], Path],
        title: str,
        class_names: Sequence[str] | None,
    ) -> list[Path]:
        """The confusion matrix of the most likely classes, and the reliability diagram (before and after scaling).

        Args:
            preds: Logits ``(N, num_classes)``, divided by the temperature.
            targets: Labels ``(N,)``.
            path: A plot's name to its file.
            title: The figures' title.
            class_names: Class names, or ``None``.

        Returns:
            The files written.
        """
        from lit_nn import plotting, reliability

        names = list(class_names or [str(i) for i in range(preds.shape[1])])
        matrix = plotting.confusion_matrix(preds.argmax(dim=1), targets, names, path("confusion_matrix"), title)
        temperature = float(self.calibration.temperature.item())
        curves = {"uncalibrated": reliability.top_label((preds * temperature).softmax(dim=1), targets)}
        if temperature != 1.0:
            curves[f"temperature {temperature:.3g}"] = reliability.top_label(preds.softmax(dim=1), targets)
        return [matrix, reliability.reliability_diagram(curves, path("reliability"), title)]
