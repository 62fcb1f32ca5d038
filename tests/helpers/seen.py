"""A callback that writes, per rank and epoch, the training samples it was given (for the streaming DDP check)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer


class SeenSamples(Callback):
    """Write ``<folder>/rank<R>-epoch<E>.json``: a key of every training sample's features, in order.

    Args:
        folder: Where to write.
    """

    def __init__(self, folder: str) -> None:
        self.folder, self.keys = Path(folder), []

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        """Key each sample of the batch."""
        self.keys += [hashlib.sha256(row.cpu().numpy().tobytes()).hexdigest()[:16] for row in batch[0]]

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write the epoch's keys."""
        self._write(trainer)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write the keys of an epoch stopped part-way (``max_steps``), as ``…-part.json``."""
        if self.keys:
            self._write(trainer, "-part")

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        """Write the keys of an epoch stopped by a signal (SIGTERM, Ctrl-C), as ``…-part.json``."""
        if self.keys:
            self._write(trainer, "-part")

    def _write(self, trainer: Trainer, suffix: str = "") -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"rank{trainer.global_rank}-epoch{trainer.current_epoch}{suffix}.json"
        (self.folder / name).write_text(json.dumps(self.keys))
        self.keys = []
