"""Multiclass classification: one logit per class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from lit_nn.errors import InvalidArgumentsError
from lit_nn.tasks.base import BaseTask


class MulticlassClassificationTask(BaseTask):
    """``num_classes`` classes with one logit each; ``cross_entropy`` loss by default.

    Metrics: ``acc``, ``f1_macro`` and, with more than five classes, ``top5_acc``.

    Args:
        num_classes: Number of classes (the CLI takes it from the datamodule).
        **kwargs: :class:`~lit_nn.tasks.base.BaseTask` arguments.
    """

    default_loss = "cross_entropy"
    size_argument = "num_classes"

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
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
            metrics["top5_acc"] = MulticlassAccuracy(num_classes=c, top_k=5, average="micro")
        # No compute groups: top-1 and top-5 accuracy update differently but look alike after a
        # first batch that is all right, and torchmetrics would then merge them for good.
        return MetricCollection(metrics, compute_groups=False)

    def check_batch(self, batch: Sequence[Tensor]) -> None:
        """Labels must be class indices."""
        self.check_labels(batch[1], self.hparams.num_classes)

    def step(self, batch: Sequence[Tensor], metrics: MetricCollection) -> tuple[Tensor, Tensor]:
        """Loss and metrics on logits (returned as the predictions)."""
        x, y = batch
        logits = self(x)
        loss = self.criterion(logits, y)
        metrics.update(logits.detach(), y)
        return loss, logits.detach()

    def predict_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """The most likely label and every class's probability.

        Args:
            x: ``(batch, *input_shape)``.

        Returns:
            ``{"label": (batch,), "probabilities": (batch, num_classes)}``.
        """
        probabilities = self(x).softmax(dim=-1)
        return {"label": probabilities.argmax(dim=-1), "probabilities": probabilities}
