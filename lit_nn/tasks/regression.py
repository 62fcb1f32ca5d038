"""Regression: predict one or more real values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchmetrics import MeanAbsoluteError, MeanSquaredError, Metric, MetricCollection, R2Score

from lit_nn.errors import InvalidArgumentsError
from lit_nn.tasks.base import BaseTask
from lit_nn.tasks.trust_metrics import IntervalCoverage, IntervalWidth


class RegressionTask(BaseTask):
    """Regression with ``mse`` by default; metrics ``mse``, ``rmse``, ``mae`` and ``r2``.

    The backbone learns standardised targets when the datamodule offers ``target_stats``
    (training-split mean and standard deviation, as the built-in ones do); the statistics are
    stored in the model, so metrics and predictions are in the data's own units. With
    ``--conformal`` it also answers an interval per target (``lower``, ``upper``) and its test
    reports their ``coverage`` and ``interval_width``.

    Args:
        num_targets: Number of values to predict (the CLI takes it from the datamodule).
        **kwargs: :class:`~lit_nn.tasks.base.BaseTask` arguments.
    """

    kind = "regression"
    default_loss = "mse"
    progress_metric = "r2"
    size_argument = "num_targets"
    conformal_applies = True
    conformal_answers = "intervals"

    def __init__(self, num_targets: int = 1, **kwargs: Any) -> None:
        if num_targets < 1:
            raise InvalidArgumentsError(f"num_targets must be at least 1, got {num_targets}")
        super().__init__(**kwargs)
        self.register_buffer("target_mean", torch.zeros(num_targets))
        self.register_buffer("target_std", torch.ones(num_targets))

    @property
    def output_size(self) -> int:
        """One output per target."""
        return self.hparams.num_targets

    @property
    def calibrated_columns(self) -> int:
        """One conformal quantile per target."""
        return self.hparams.num_targets

    def build_metrics(self) -> MetricCollection:
        """Regression metrics in the targets' units.

        Returns:
            ``mse``, ``rmse``, ``mae`` and ``r2``.
        """
        return MetricCollection(
            {
                "mse": MeanSquaredError(),
                "rmse": MeanSquaredError(squared=False),
                "mae": MeanAbsoluteError(),
                "r2": R2Score(),
            }
        )

    def setup(self, stage: str) -> None:
        """Take the target statistics from the datamodule before fitting.

        Args:
            stage: Lightning's stage.
        """
        super().setup(stage)
        stats = self.datamodule_attribute("target_stats")
        if stage == "fit" and stats is not None:
            mean, std = (torch.as_tensor(v, dtype=self.target_mean.dtype).reshape(-1) for v in stats)
            self.target_mean.copy_(mean)
            self.target_std.copy_(std)

    def predict_values(self, x: Tensor) -> Tensor:
        """Predict in the targets' units.

        Args:
            x: ``(batch, *input_shape)``.

        Returns:
            ``(batch, num_targets)``.
        """
        return self(x) * self.target_std + self.target_mean

    def model_step(self, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Loss on standardised targets; predictions and targets in the targets' units."""
        x, y = batch
        y = y.reshape(len(y), -1).to(self.target_mean.dtype)
        out = self(x)
        loss = self.criterion(out, (y - self.target_mean) / self.target_std)
        prediction = out.detach() * self.target_std + self.target_mean
        if self.hparams.num_targets == 1:
            prediction, y = prediction.squeeze(1), y.squeeze(1)
        return loss, prediction, y

    def predict_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """Predicted values and, when calibrated, their conformal intervals.

        Args:
            x: ``(batch, *input_shape)``.

        Returns:
            ``{"prediction": (batch, num_targets)}`` in the targets' units, and ``"lower"`` and
            ``"upper"`` of the same shape with ``--conformal``.
        """
        prediction = self.predict_values(x)
        if not self.calibration.conformal:
            return {"prediction": prediction}
        quantile = self.calibration.quantile
        return {"prediction": prediction, "lower": prediction - quantile, "upper": prediction + quantile}

    def calibration_outputs(self, x: Tensor) -> Tensor:
        """Predictions in the targets' units, ``(batch, num_targets)``."""
        return self.predict_values(x)

    def conformal_scores(self, predictions: Tensor, targets: Tensor) -> Tensor:
        """The absolute residuals ``|y - prediction|``, per target.

        Args:
            predictions: ``(n, num_targets)``.
            targets: Their true values.

        Returns:
            ``(n, num_targets)`` scores.
        """
        return (targets.reshape(predictions.shape).to(predictions.dtype) - predictions).abs()

    def trust_metrics(self) -> dict[str, Metric]:
        """With conformal intervals: their ``coverage`` and mean ``interval_width``.

        Returns:
            Metric name to metric.
        """
        if not self.calibration.conformal:
            return {}
        quantile = self.calibration.quantile
        return {"coverage": IntervalCoverage(quantile), "interval_width": IntervalWidth(quantile)}

    def output_descriptions(self) -> dict[str, str]:
        """The predicted values, and the intervals when calibrated.

        Returns:
            Output name to description.
        """
        return {
            "prediction": "float32 (N, targets): values in the targets' units",
            **self.calibration.interval_description(),
        }

    def output_columns(self, name: str, value: Tensor, class_names: Sequence[str] | None) -> dict[str, Any]:
        """``prediction`` (``lower``, ``upper``), or ``prediction_<i>`` … per target when there are several.

        Args:
            name: The output's name.
            value: One sample's value.
            class_names: Unused (regression has no classes).

        Returns:
            Column name to cell.
        """
        if name in ("prediction", "lower", "upper") and value.dim() == 1 and len(value) > 1:
            return {f"{name}_{i}": float(v) for i, v in enumerate(value)}
        return super().output_columns(name, value, class_names)

    def plot_predictions(
        self,
        preds: Tensor,
        targets: Tensor,
        path: Callable[[str], Path],
        title: str,
        class_names: Sequence[str] | None,
    ) -> list[Path]:
        """Predicted against true values, the residuals and, with conformal intervals, the intervals.

        Args:
            preds: Predictions in the targets' units.
            targets: True values.
            path: A plot's name to its file.
            title: The figures' title.
            class_names: Unused.

        Returns:
            The files written.
        """
        from lit_nn import plotting, reliability

        paths = plotting.regression(preds, targets, path("predicted_vs_true"), path("residuals"), title)
        if self.calibration.conformal:
            paths.append(reliability.intervals(preds, targets, self.calibration.quantile, path("intervals"), title))
        return paths
