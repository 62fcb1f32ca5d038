"""Write ``predict`` outputs to a CSV file: one row per sample, probabilities per class."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

from lit_nn.atomic import write_text
from lit_nn.tasks.outputs import csv_rows


class CSVPredictionWriter(BasePredictionWriter):
    """Collect what ``predict_step`` returns and write it as CSV when prediction ends.

    Columns: ``id`` (the datamodule's ``predict_ids`` when it has them: source row numbers or
    file paths; else the position), then what the task makes of the batch (its
    ``prediction_rows``): ``target`` when the batches carry one, then ``prediction`` (regression,
    one column per target) or ``label`` and ``p_<class>`` per class (classification; class
    names from the datamodule's ``class_names`` when it has them).

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
        # an iterable dataset's (LitData's) batches come with [] for indices: count them instead
        positions = list(batch_indices) if batch_indices else range(len(self.rows), len(self.rows) + count)
        targets = batch[1].detach().cpu() if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
        rows_of = getattr(pl_module, "prediction_rows", None) or csv_rows  # the task knows its columns
        for position, cells in zip(positions, rows_of(columns, targets, names), strict=True):
            self.rows.append({"id": ids[position] if ids is not None else position, **cells})

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
