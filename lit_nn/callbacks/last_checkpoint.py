"""``last.ckpt`` at the end of every epoch, whatever the monitored metric did."""

from __future__ import annotations

import time
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from lit_nn.compat import checkpoint_written_or_not_due, save_last_checkpoint
from lit_nn.errors import ConfigError


class LastEpochCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` whose ``last`` checkpoint is the last finished epoch.

    Lightning 2.6 writes ``last.ckpt`` only in a step where it also writes a top-k checkpoint, so
    after a kill ``--ckpt_path last`` went back to the last *improvement* and trained again every
    epoch since. This callback also writes it at the end of every epoch where nothing was written
    (after validation, so the best score it records is current), and, with
    ``last_every_minutes``, during an epoch once that many minutes have passed since it was last
    written. Every write goes through the trainer's checkpoint IO (lit_nn's is atomic), and the
    best checkpoints are chosen exactly as ``ModelCheckpoint`` chooses them.

    Its state is stored under ``ModelCheckpoint``'s own key, so checkpoints written before this
    class existed resume the same way and readers of that state (a sweep's recorded score) find it.

    Args:
        *args: ``ModelCheckpoint``'s arguments.
        last_every_minutes: Also write ``last.ckpt`` during an epoch when this many minutes have
            passed since it was last written (for long epochs); ``None``: only at the end of epochs.
            Unlike ``train_time_interval`` it leaves the best checkpoints to the end of epochs.
        **kwargs: ``ModelCheckpoint``'s keyword arguments.

    Raises:
        ConfigError: If ``last_every_minutes`` is not positive.
    """

    def __init__(self, *args: Any, last_every_minutes: float | None = None, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        if last_every_minutes is not None and not last_every_minutes > 0:
            raise ConfigError(
                f"--checkpoint.last_every_minutes must be a positive number of minutes, not {last_every_minutes}; "
                "leave it out to write last.ckpt only at the end of each epoch"
            )
        self.last_every_minutes = last_every_minutes
        self._last_written = time.monotonic()

    @property
    def state_key(self) -> str:
        """``ModelCheckpoint``'s key for the same settings, so its state is found whichever class wrote it."""
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start the clock of ``last_every_minutes``."""
        super().on_train_start(trainer, pl_module)
        self._last_written = time.monotonic()

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """Write ``last.ckpt`` when ``last_every_minutes`` have passed since it was last written."""
        super().on_train_batch_end(trainer, pl_module, *args, **kwargs)
        if self.last_every_minutes is None:
            return
        due = time.monotonic() - self._last_written >= self.last_every_minutes * 60
        if trainer.strategy.broadcast(due):  # every rank decides as rank 0 does
            self._write_last(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write ``last.ckpt`` for the epoch just finished, unless it was written at this step already."""
        super().on_train_epoch_end(trainer, pl_module)
        self._write_last(trainer)
        self._last_written = time.monotonic()  # written now, by this class or at validation's end

    def _write_last(self, trainer: Trainer) -> None:
        if self.save_last and not checkpoint_written_or_not_due(self, trainer):
            save_last_checkpoint(self, trainer)
            self._last_written = time.monotonic()
