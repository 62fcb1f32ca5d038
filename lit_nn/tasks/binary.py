"""Binary classification: one logit per sample."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, BinaryF1Score, BinaryPrecision, BinaryRecall

from lit_nn.errors import InvalidArgumentsError
from lit_nn.tasks.base import BaseTask
from lit_nn.tasks.labels import check_labels, kind_mismatch, single_class


class BinaryClassificationTask(BaseTask):
    """Two classes with one logit; ``bce_with_logits`` loss by default.

    Metrics: ``acc``, ``precision``, ``recall``, ``f1`` (at ``threshold``) and ``auroc``.

    Args:
        num_classes: Must be 2 (it is here so the CLI can link the datamodule's count and catch
            data with more classes).
        threshold: Probability at or above which a sample is labelled 1.
        **kwargs: :class:`~lit_nn.tasks.base.BaseTask` arguments.
    """

    kind = "binary"
    default_loss = "bce_with_logits"
    size_argument = "num_classes"

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

    def output_descriptions(self) -> dict[str, str]:
        """The label and the probability of class 1.

        Returns:
            Output name to description.
        """
        return {
            "label": "int64 (N,): the predicted class index (class_names[label])",
            "probability": "float32 (N,): the probability of class 1",
        }

    def export_metadata(self) -> dict[str, Any]:
        """The threshold the label is taken at.

        Returns:
            ``{"threshold": …}``.
        """
        return {"threshold": float(self.hparams.threshold)}

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
        return super().output_columns(name, value, class_names)

    def plot_predictions(
        self,
        preds: Tensor,
        targets: Tensor,
        path: Callable[[str], Path],
        title: str,
        class_names: Sequence[str] | None,
    ) -> list[Path]:
        """The confusion matrix at the threshold, ROC and precision-recall curves.

        Args:
            preds: Probabilities of class 1 ``(N,)``.
            targets: Labels ``(N,)``.
            path: A plot's name to its file.
            title: The figures' title.
            class_names: Class names, or ``None``.

        Returns:
            The files written.
        """
        from lit_nn import plotting

        labels = (preds >= float(self.hparams.threshold)).long()
        names = list(class_names or ["0", "1"])
        paths = [plotting.confusion_matrix(labels, targets, names, path("confusion_matrix"), title)]
        return paths + plotting.roc_and_pr(preds, targets, path("roc"), path("pr"), title)
