"""Write ``predict`` outputs to a CSV file: one row per sample, probabilities per class."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

from lit_nn.atomic import write_text


class CSVPredictionWriter(BasePredictionWriter):
    """Collect what ``predict_step`` returns and write it as CSV when prediction ends.

    Columns: ``id`` (the datamodule's ``predict_ids`` when it has them: source row numbers or
    file paths; else the position), ``target`` when the batches carry one, then
    ``prediction`` (regression, one column per target) or ``label`` and ``p_<class>`` per class
    (classification; class names from the datamodule's ``class_names`` when it has them).

    Args:
        path: The CSV file to write (its folder is created). With several processes each rank
            writes ``<stem>.rank<N>.csv``.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(write_interval="batch")
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start a new table."""
        self.rows = []

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: Any,  # noqa: ANN401 (what predict_step returned)
        batch_indices: Any,  # noqa: ANN401
        batch: Any,  # noqa: ANN401
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        """Turn one batch of predictions into rows."""
        datamodule = trainer.datamodule
        ids = getattr(datamodule, "predict_ids", None)
        names = getattr(datamodule, "class_names", None)
        columns = {k: v.detach().cpu() for k, v in prediction.items()}
        count = len(next(iter(columns.values())))
        positions = list(batch_indices) if batch_indices is not None else range(len(self.rows), len(self.rows) + count)
        targets = batch[1].detach().cpu() if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
        for i, position in enumerate(positions):
            row: dict[str, Any] = {"id": ids[position] if ids is not None else position}
            if targets is not None:
                row["target"] = _value(targets[i], names)
            for key, value in columns.items():
                row.update(_expand(key, value[i], names))
            self.rows.append(row)

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write the collected rows."""
        path = self.path
        if trainer.world_size > 1:
            path = path.with_name(f"{path.stem}.rank{trainer.global_rank}{path.suffix}")
        table = io.StringIO(newline="")
        writer = csv.DictWriter(table, fieldnames=list(self.rows[0]) if self.rows else ["id"])
        writer.writeheader()
        writer.writerows(self.rows)
        self.written = write_text(path, table.getvalue())


def _value(value: torch.Tensor, names: list[str] | None) -> Any:  # noqa: ANN401
    if value.dim() == 0 and not value.is_floating_point() and names is not None:
        return names[int(value)]
    return value.item() if value.dim() == 0 else value.tolist()


def _expand(key: str, value: torch.Tensor, names: list[str] | None) -> dict[str, Any]:
    if key == "probabilities":
        labels = names or [str(i) for i in range(len(value))]
        return {f"p_{label}": float(p) for label, p in zip(labels, value, strict=True)}
    if key == "probability":  # binary: the probability of class 1, spelt out for both classes
        labels = names or ["0", "1"]
        return {f"p_{labels[0]}": 1.0 - float(value), f"p_{labels[1]}": float(value)}
    if key == "prediction" and value.dim() == 1 and len(value) > 1:
        return {f"prediction_{i}": float(v) for i, v in enumerate(value)}
    return {key: _value(value.squeeze(), names)}
