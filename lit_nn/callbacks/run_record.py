"""What a checkpoint needs besides the model's weights: its data, and what the run trains."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

RECORD_KEY = "lit_nn"
"""The checkpoint key this callback writes."""


class RecordRun(Callback):
    """Write a record into every checkpoint, so the checkpoint alone rebuilds model and data.

    Lightning stores the model's hyperparameters; the datamodule's only when it called
    ``save_hyperparameters()``. This record holds the datamodule's class path and arguments as the
    command resolved them (data paths made absolute), for any datamodule, and the run's identity
    (task, backbone, activation, data) that ``--ckpt_path best|last`` matches.

    Args:
        record: Plain values only (a checkpoint loads with ``weights_only=True``).
    """

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = copy.deepcopy(dict(record))

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        """Add the record."""
        checkpoint[RECORD_KEY] = copy.deepcopy(self.record)
