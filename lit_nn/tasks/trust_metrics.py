"""Test metrics of how far a task's answers can be trusted: calibration error, coverage, set size, interval width.

Added to the test stage when testing starts (:meth:`lit_nn.tasks.base.BaseTask.trust_metrics`),
for the calibration the tested checkpoint holds. The expected calibration error is torchmetrics'
``CalibrationError`` (15 equal-width bins, L1); coverage is the share of test samples whose
conformal set or interval holds the true answer.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.classification import MulticlassCalibrationError

from lit_nn.tasks.calibration import binary_log_odds, class_log_odds, prediction_sets


class LogitCalibrationError(MulticlassCalibrationError):
    """``MulticlassCalibrationError`` of logits: softmax first, whatever their range.

    torchmetrics softmaxes only inputs outside [0, 1]; logits that happen to lie inside would be
    taken for probabilities.
    """

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Count a batch.

        Args:
            preds: Logits ``(N, classes)``.
            target: Labels ``(N,)``.
        """
        super().update(preds.float().softmax(dim=-1), target)


class SampleMean(Metric):
    """The mean over test samples of one value per sample (:meth:`values`)."""

    full_state_update = False
    higher_is_better: bool | None = None

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    @abstractmethod
    def values(self, preds: Tensor, target: Tensor) -> Tensor:
        """One value per sample (or per sample and target)."""

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch's values.

        Args:
            preds: The predictions the task's metrics take.
            target: The targets.
        """
        values = self.values(preds, target).to(torch.float64)
        self.total += values.sum()
        self.count += values.numel()

    def compute(self) -> Tensor:
        """The mean.

        Returns:
            The mean value (NaN before any update).
        """
        return (self.total / self.count).float()


class SetMetric(SampleMean):
    """A mean over a classifier's conformal sets, from the predictions its test metrics take.

    Args:
        quantile: The conformal quantile (``task.calibration.quantile``).
        binary: Predictions are probabilities of class 1 ``(N,)``; otherwise logits ``(N, classes)``.
    """

    def __init__(self, quantile: Tensor, binary: bool) -> None:
        super().__init__()
        self.quantile, self.binary = quantile.detach().clone(), binary

    def sets(self, preds: Tensor) -> Tensor:
        """The prediction sets of a batch.

        Args:
            preds: The test metrics' predictions.

        Returns:
            ``(N, classes)`` booleans.
        """
        # a binary task's metrics take probabilities: its logit comes back from them in float64 (exact
        # unless the set's edge lies where float32 rounds the probability to 1, beyond log-odds ±17)
        log_odds = binary_log_odds(torch.logit(preds.double())) if self.binary else class_log_odds(preds.float())
        return prediction_sets(log_odds, self.quantile.to(preds.device))


class SetCoverage(SetMetric):
    """The share of samples whose conformal set holds the true class."""

    higher_is_better = True

    def values(self, preds: Tensor, target: Tensor) -> Tensor:
        """1 where the set holds the label, else 0."""
        return self.sets(preds).gather(1, target.long().reshape(-1, 1)).float()


class SetSize(SetMetric):
    """The mean number of classes in a conformal set."""

    higher_is_better = False

    def values(self, preds: Tensor, target: Tensor) -> Tensor:
        """Each set's size."""
        return self.sets(preds).sum(dim=1).float()


class IntervalMetric(SampleMean):
    """A mean over a regressor's conformal intervals ``prediction ± q``.

    Args:
        quantile: The conformal quantiles, one per target.
    """

    def __init__(self, quantile: Tensor) -> None:
        super().__init__()
        self.quantile = quantile.detach().clone()

    def half_widths(self, preds: Tensor) -> Tensor:
        """``q`` shaped like the predictions."""
        q = self.quantile.to(preds.device)
        return q.reshape(1, -1).expand(len(preds), -1).reshape(preds.shape)


class IntervalCoverage(IntervalMetric):
    """The share of (sample, target) pairs whose interval holds the true value."""

    higher_is_better = True

    def values(self, preds: Tensor, target: Tensor) -> Tensor:
        """1 where ``|target - prediction| <= q``."""
        return ((target.reshape(preds.shape) - preds).abs() <= self.half_widths(preds)).float()


class IntervalWidth(IntervalMetric):
    """The mean width ``2q`` of the intervals, in the targets' units."""

    higher_is_better = False

    def values(self, preds: Tensor, target: Tensor) -> Tensor:
        """Each interval's width."""
        return 2 * self.half_widths(preds)
