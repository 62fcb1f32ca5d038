"""Binary classification: one logit per sample."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, BinaryF1Score, BinaryPrecision, BinaryRecall

from lit_nn.errors import InvalidArgumentsError
from lit_nn.tasks.base import BaseTask
from lit_nn.tasks.labels import check_labels


class BinaryClassificationTask(BaseTask):
    """Two classes with one logit; ``bce_with_logits`` loss by default.

    Metrics: ``acc``, ``precision``, ``recall``, ``f1`` (at ``threshold``) and ``auroc``.

    Args:
        num_classes: Must be 2 (it is here so the CLI can link the datamodule's count and catch
            data with more classes).
        threshold: Probability at or above which a sample is labelled 1.
        **kwargs: :class:`~lit_nn.tasks.base.BaseTask` arguments.
    """

    default_loss = "bce_with_logits"
    size_argument = "num_classes"

    def __init__(self, num_classes: int = 2, threshold: float = 0.5, **kwargs: Any) -> None:
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
        check_labels(batch[1], 2)

    def model_step(self, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Loss on logits; the metrics take probabilities."""
        x, y = batch
        logits = self(x).squeeze(-1)
        return self.criterion(logits, y), torch.sigmoid(logits.detach()), y

    def predict_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """The label at the threshold and the probability of class 1.

        Args:
            x: ``(batch, *input_shape)``.

        Returns:
            ``{"label": (batch,), "probability": (batch,)}``.
        """
        probability = torch.sigmoid(self(x).squeeze(-1))
        return {"label": (probability >= self.hparams.threshold).long(), "probability": probability}
