"""Binary classification: one logit per sample."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryCalibrationError,
    BinaryF1Score,
    BinaryPrecision,
    BinaryRecall,
)

from lit_nn.errors import InvalidArgumentsError
from lit_nn.tasks.base import BaseTask
from lit_nn.tasks.calibration import binary_log_odds, class_scores, prediction_sets
from lit_nn.tasks.labels import check_labels, kind_mismatch, single_class
from lit_nn.tasks.outputs import set_columns
from lit_nn.tasks.trust_metrics import SetCoverage, SetSize


class BinaryClassificationTask(BaseTask):
    """Two classes with one logit; ``bce_with_logits`` loss by default.

    Metrics: ``acc``, ``precision``, ``recall``, ``f1`` (at ``threshold``) and ``auroc``; when
    testing, ``ece`` too, and ``coverage`` and ``set_size`` of the conformal sets when it has them.
    A temperature (``--calibrate temperature``) divides the logit in every evaluation; the label
    stays the uncalibrated probability's at ``threshold`` (so no label changes), which is the
    calibrated probability at :meth:`decision_threshold`.

    Args:
        num_classes: Must be 2 (it is here so the CLI can link the datamodule's count and catch
            data with more classes).
        threshold: Probability at or above which a sample is labelled 1.
        **kwargs: :class:`~lit_nn.tasks.base.BaseTask` arguments.
    """

    kind = "binary"
    default_loss = "bce_with_logits"
    size_argument = "num_classes"
    temperature_scaled = True
    conformal_applies = True

    def __init__(self, num_classes: int = 2, threshold: float = 0.5, **kwargs: Any) -> None:
        if num_classes is None:  # linked from a datamodule whose targets are not class labels
            raise InvalidArgumentsError(kind_mismatch("BinaryClassificationTask", "num_classes", None))
        if num_classes == 1:
            raise InvalidArgumentsError(single_class("the data"))
        if num_classes != 2:
            raise InvalidArgumentsError(
                f"BinaryClassificationTask has 2 classes, the data has {num_classes}; use MulticlassClassificationTask"
            )
        if not 0.0 < threshold < 1.0:
            raise InvalidArgumentsError(f"threshold must be between 0 and 1, got {threshold}")
        super().__init__(**kwargs)

    @property
    def output_size(self) -> int:
        """One logit."""
        return 1

    def build_metrics(self) -> MetricCollection:
        """Binary metrics at the decision threshold (AUROC over all thresholds).

        Returns:
            ``acc``, ``precision``, ``recall``, ``f1`` and ``auroc``.
        """
        t = self.hparams.threshold
        return MetricCollection(
            {
                "acc": BinaryAccuracy(threshold=t),
                "precision": BinaryPrecision(threshold=t),
                "recall": BinaryRecall(threshold=t),
                "f1": BinaryF1Score(threshold=t),
                "auroc": BinaryAUROC(),
            }
        )

    def check_batch(self, batch: Sequence[Tensor]) -> None:
        """Labels must be 0 or 1."""
        check_labels(batch[1], 2, fix="use --model MulticlassClassificationTask for more than two classes")

    def model_step(self, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Loss on the (temperature-scaled) logits; the metrics take probabilities."""
        x, y = batch
        logits = self(x).squeeze(-1) / self.calibration.temperature
        return self.criterion(logits, y), torch.sigmoid(logits.detach()), y

    def decision_threshold(self) -> float:
        """The calibrated probability at which the label turns 1: ``threshold`` seen through the temperature.

        Returns:
            ``sigmoid(logit(threshold) / T)`` (``threshold`` itself when uncalibrated).
        """
        t, temperature = float(self.hparams.threshold), float(self.calibration.temperature.item())
        if temperature == 1.0:
            return t
        return 1.0 / (1.0 + math.exp(-math.log(t / (1.0 - t)) / temperature))

    def on_test_start(self) -> None:
        """Score the labels at :meth:`decision_threshold`, as :meth:`predict_outputs` labels them."""
        super().on_test_start()
        for metric in self.test_stage.metrics.values():
            if isinstance(getattr(metric, "threshold", None), float):
                metric.threshold = self.decision_threshold()

    def predict_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """The label at the threshold, the probability of class 1 and, when calibrated, the conformal set.

        Args:
            x: ``(batch, *input_shape)``.

        Returns:
            ``{"label": (batch,), "probability": (batch,)}``, and ``"prediction_set": (batch, 2)``
            booleans with ``--conformal``.
        """
        logit = self(x).squeeze(-1)
        scaled = logit / self.calibration.temperature
        outputs = {
            "label": (torch.sigmoid(logit) >= self.hparams.threshold).long(),
            "probability": torch.sigmoid(scaled),
        }
        if self.calibration.conformal:
            outputs["prediction_set"] = prediction_sets(binary_log_odds(scaled), self.calibration.quantile)
        return outputs

    def calibration_outputs(self, x: Tensor) -> Tensor:
        """The raw logits, ``(batch,)``."""
        return self(x).squeeze(-1)

    def temperature_nll(self, logits: Tensor, targets: Tensor) -> Tensor:
        """The negative log-likelihood a temperature is fitted to (binary cross-entropy).

        Args:
            logits: ``(n,)``, already divided by the temperature.
            targets: ``(n,)`` labels.

        Returns:
            The mean.
        """
        return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))

    def conformal_scores(self, logits: Tensor, targets: Tensor) -> Tensor:
        """The log-odds against the true class under the calibration's temperature (:func:`binary_log_odds`).

        Args:
            logits: Raw ``(n,)`` logits.
            targets: ``(n,)`` labels.

        Returns:
            ``(n,)`` scores.
        """
        return class_scores(binary_log_odds(logits / self.calibration.temperature.to(logits.device)), targets)

    def trust_metrics(self) -> dict[str, Metric]:
        """``ece`` (of the probability of class 1) and, with conformal sets, their ``coverage`` and ``set_size``.

        Returns:
            Metric name to metric.
        """
        metrics: dict[str, Metric] = {"ece": BinaryCalibrationError(n_bins=15)}
        if self.calibration.conformal:
            quantile = self.calibration.quantile
            metrics.update(coverage=SetCoverage(quantile, binary=True), set_size=SetSize(quantile, binary=True))
        return metrics

    def output_descriptions(self) -> dict[str, str]:
        """The label and the probability of class 1.

        Returns:
            Output name to description.
        """
        return {
            "label": "int64 (N,): the predicted class index (class_names[label])",
            "probability": "float32 (N,): the probability of class 1",
            **self.calibration.set_description(),
        }

    def export_metadata(self) -> dict[str, Any]:
        """The threshold the label is taken at (on the probability output), and the calibration.

        Returns:
            ``{"threshold": …}`` and ``calibration`` when calibrated.
        """
        return {"threshold": self.decision_threshold(), **super().export_metadata()}

    def output_columns(self, name: str, value: Tensor, class_names: Sequence[str] | None) -> dict[str, Any]:
        """The probability of class 1, spelt out for both classes (``p_<class>``); the label by name.

        Args:
            name: The output's name.
            value: One sample's value.
            class_names: Class names, or ``None``.

        Returns:
            Column name to cell.
        """
        if name == "probability":
            labels = class_names or ["0", "1"]
            return {f"p_{labels[0]}": 1.0 - float(value), f"p_{labels[1]}": float(value)}
        if name == "prediction_set":
            return set_columns(value, class_names or ["0", "1"])
        return super().output_columns(name, value, class_names)

    def plot_predictions(
        self,
        preds: Tensor,
        targets: Tensor,
        path: Callable[[str], Path],
        title: str,
        class_names: Sequence[str] | None,
    ) -> list[Path]:
        """The confusion matrix at the threshold, ROC and precision-recall curves, the reliability diagram.

        Args:
            preds: Probabilities of class 1 ``(N,)`` (after the temperature).
            targets: Labels ``(N,)``.
            path: A plot's name to its file.
            title: The figures' title.
            class_names: Class names, or ``None``.

        Returns:
            The files written.
        """
        from lit_nn import plotting, reliability

        labels = (preds >= self.decision_threshold()).long()
        names = list(class_names or ["0", "1"])
        paths = [plotting.confusion_matrix(labels, targets, names, path("confusion_matrix"), title)]
        temperature = float(self.calibration.temperature.item())
        curves = {"uncalibrated": (torch.sigmoid(torch.logit(preds.double()) * temperature), targets)}
        if temperature != 1.0:
            curves[f"temperature {temperature:.3g}"] = (preds, targets)
        diagram = reliability.reliability_diagram(curves, path("reliability"), title, event=f"class {names[1]}")
        return [*paths, *plotting.roc_and_pr(preds, targets, path("roc"), path("pr"), title), diagram]
