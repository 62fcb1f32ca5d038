"""Multi-label classification: any number of labels per sample, one logit each.

A fourth task kind, added from outside lit_nn: everything that plots, prediction files, exports
and the server need to know about it is said here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import MultilabelAccuracy, MultilabelAUROC, MultilabelF1Score

from lit_nn.errors import InvalidArgumentsError
from lit_nn.tasks import BaseTask
from lit_nn.tasks.labels import LabelError


class MultilabelTask(BaseTask):
    """``num_labels`` independent yes/no labels; ``bce_with_logits`` on each by default.

    Metrics: ``acc`` (share of labels right, at ``threshold``), ``f1_macro`` and ``auroc`` (macro).

    Args:
        num_labels: Number of labels (the CLI takes it from the datamodule).
        threshold: Probability at or above which a label is set.
        **kwargs: :class:`~lit_nn.tasks.base.BaseTask` arguments.
    """

    kind = "multilabel"
    default_loss = "bce_with_logits"
    size_argument = "num_labels"

    def __init__(self, num_labels: int, threshold: float = 0.5, **kwargs: Any) -> None:
        if num_labels < 1:
            raise InvalidArgumentsError(f"num_labels must be at least 1, got {num_labels}")
        if not 0.0 < threshold < 1.0:
            raise InvalidArgumentsError(f"threshold must be between 0 and 1, got {threshold}")
        super().__init__(**kwargs)

    @property
    def output_size(self) -> int:
        """One logit per label."""
        return self.hparams.num_labels

    def build_metrics(self) -> MetricCollection:
        """Multi-label metrics at the threshold.

        Returns:
            ``acc`` (micro), ``f1_macro`` and ``auroc`` (macro).
        """
        n, t = self.hparams.num_labels, self.hparams.threshold
        return MetricCollection(
            {
                "acc": MultilabelAccuracy(num_labels=n, threshold=t, average="micro"),
                "f1_macro": MultilabelF1Score(num_labels=n, threshold=t, average="macro"),
                "auroc": MultilabelAUROC(num_labels=n, average="macro"),
            }
        )

    def check_batch(self, batch: Sequence[Tensor]) -> None:
        """Targets must be 0/1 flags, one per label."""
        y = batch[1]
        if y.dim() != 2 or y.shape[1] != self.hparams.num_labels or not ((y == 0) | (y == 1)).all():
            raise LabelError(
                f"MultilabelTask needs targets of 0/1 flags of shape (batch, {self.hparams.num_labels}), "
                f"got shape {tuple(y.shape)}"
            )

    def model_step(self, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Loss on logits; the metrics take probabilities."""
        x, y = batch
        logits = self(x)
        return self.criterion(logits, y.to(logits.dtype)), torch.sigmoid(logits.detach()), y.long()

    def predict_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """Every label's probability and whether it is set.

        Args:
            x: ``(batch, *input_shape)``.

        Returns:
            ``{"labels": (batch, num_labels), "probabilities": (batch, num_labels)}``.
        """
        probabilities = torch.sigmoid(self(x))
        return {"labels": (probabilities >= self.hparams.threshold).long(), "probabilities": probabilities}

    # what the outputs mean --------------------------------------------------------------------

    def output_descriptions(self) -> dict[str, str]:
        """The flags and the probabilities.

        Returns:
            Output name to description.
        """
        return {
            "labels": "int64 (N, labels): 1 where the label's probability is at least the threshold",
            "probabilities": "float32 (N, labels): each label's probability, independently",
        }

    def export_metadata(self) -> dict[str, Any]:
        """The threshold the flags are taken at.

        Returns:
            ``{"threshold": …}``.
        """
        return {"threshold": float(self.hparams.threshold)}

    def _names(self, class_names: Sequence[str] | None) -> list[str]:
        return list(class_names or [str(i) for i in range(self.hparams.num_labels)])

    def output_columns(self, name: str, value: Tensor, class_names: Sequence[str] | None) -> dict[str, Any]:
        """``label_<name>`` (0/1) and ``p_<name>`` per label.

        Args:
            name: The output's name.
            value: One sample's value.
            class_names: Label names, or ``None``.

        Returns:
            Column name to cell.
        """
        prefix = {"labels": "label_", "probabilities": "p_"}[name]
        return {f"{prefix}{label}": v.item() for label, v in zip(self._names(class_names), value, strict=True)}

    def target_columns(self, value: Tensor, class_names: Sequence[str] | None) -> dict[str, Any]:
        """``target_<name>`` (0/1) per label.

        Args:
            value: One sample's flags.
            class_names: Label names, or ``None``.

        Returns:
            Column name to cell.
        """
        return {f"target_{label}": int(v) for label, v in zip(self._names(class_names), value, strict=True)}

    def answers(self, outputs: Mapping[str, Tensor], class_names: Sequence[str] | None) -> list[dict[str, Any]]:
        """Flags and probabilities per sample, and the names of the labels set.

        Args:
            outputs: A batch's outputs.
            class_names: Label names, or ``None``.

        Returns:
            ``{"labels": [...], "probabilities": [...], "label_names": [...]}`` per sample.
        """
        names = self._names(class_names)
        flags, probabilities = outputs["labels"].tolist(), outputs["probabilities"].tolist()
        return [
            {"labels": f, "probabilities": p, "label_names": [n for n, on in zip(names, f, strict=True) if on]}
            for f, p in zip(flags, probabilities, strict=True)
        ]

    def plot_predictions(
        self,
        preds: Tensor,
        targets: Tensor,
        path: Callable[[str], Path],
        title: str,
        class_names: Sequence[str] | None,
    ) -> list[Path]:
        """ROC and precision-recall over every (sample, label) decision (micro-averaged).

        Args:
            preds: Probabilities ``(N, num_labels)``.
            targets: Flags ``(N, num_labels)``.
            path: A plot's name to its file.
            title: The figures' title.
            class_names: Unused.

        Returns:
            The files written.
        """
        from lit_nn import plotting

        return plotting.roc_and_pr(preds.flatten(), targets.flatten(), path("roc"), path("pr"), f"{title}, all labels")
