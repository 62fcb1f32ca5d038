"""One stage's loss mean and metrics: updated in groups of batches, logged once per epoch.

torchmetrics pays a fixed cost per ``update`` call (argument checks, state bookkeeping, and on an
accelerator a host sync); updating once per :attr:`StageMetrics.batches` batches, with the
batches concatenated, keeps the same counts and sums for a fraction of it (docs/performance.md).
:class:`StageMetricsSchedule`, the one callback a task adds, flushes, discards and logs the
queues at the moments Lightning reads them.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor, nn
from torchmetrics import MeanMetric, MetricCollection

from lit_nn.skip_unused_hooks import skip_unused_batch_hooks


class StageMetrics(nn.Module):
    """The loss mean and the prefixed metric collection of one stage (``train/``, ``val/``, ``test/``).

    Args:
        metrics: The task's metrics without prefix (cloned here).
        prefix: ``"train/"``, ``"val/"`` or ``"test/"``.
        batches: Batches per update of the metrics.
    """

    def __init__(self, metrics: MetricCollection, prefix: str, batches: int = 16) -> None:
        super().__init__()
        if batches < 1:
            raise ValueError(f"batches must be 1 or more, got {batches}")
        self.prefix = prefix
        self.batches = batches
        self.loss = MeanMetric()
        self.metrics = metrics.clone(prefix=prefix)
        self._losses: list[tuple[Tensor, int]] = []
        self._outputs: list[tuple[Tensor, Tensor]] = []
        self.fresh = True
        """No batch of this epoch queued yet (set by :meth:`discard`, cleared by :meth:`update`)."""

    def update(self, loss: Tensor, preds: Tensor, target: Tensor) -> None:
        """Queue one batch; the queue runs as one update every :attr:`batches` batches.

        Args:
            loss: The batch's mean loss (a scalar; detached here).
            preds: Predictions as the metrics take them, detached.
            target: The batch's targets (its length is the loss's weight).
        """
        self.fresh = False
        self._losses.append((loss.detach(), len(target)))
        self._outputs.append((preds, target))
        if len(self._outputs) >= self.batches:
            self.flush()

    def flush_loss(self) -> None:
        """Run the queued loss updates now (before something reads the epoch's mean)."""
        if self._losses:
            values = torch.stack([loss for loss, _ in self._losses])
            weights = torch.tensor([n for _, n in self._losses], dtype=torch.get_default_dtype(), device=values.device)
            self.loss.update(values, weights)
            self._losses.clear()

    def flush(self) -> None:
        """Run every queued update now."""
        self.flush_loss()
        if self._outputs:
            preds, target = zip(*self._outputs, strict=True)
            self.metrics.update(_join(preds), _join(target))
            self._outputs.clear()

    def discard(self) -> None:
        """Start an epoch: forget queued updates (left over by an interrupted epoch)."""
        self._losses.clear()
        self._outputs.clear()
        self.fresh = True

    def log(self, module: Any, loss_name: str | None = "loss", bar_metric: str | None = None) -> None:  # noqa: ANN401
        """Log the epoch's loss mean and metrics through ``module.log`` (Lightning computes, syncs and resets them).

        Args:
            module: The LightningModule these metrics belong to.
            loss_name: The loss's name after the prefix; ``None`` leaves the loss out (logged elsewhere).
            bar_metric: A metric name (without prefix) to show in the progress bar too.
        """
        self.flush()
        if loss_name is not None and self.loss.update_called:
            module.log(f"{self.prefix}{loss_name}", self.loss, prog_bar=self.prefix == "val/")
        if any(m.update_called for m in self.metrics.values()):
            for name, metric in self.metrics.items():
                module.log(name, metric, prog_bar=name == f"{self.prefix}{bar_metric}")
        else:
            self.metrics.reset()


class StageMetricsSchedule(Callback):
    """When a task's :class:`StageMetrics` discard, flush and log: the one place that says so.

    A task returns it from ``configure_callbacks`` (any Trainer then runs it), reading the
    stages ``train_stage``, ``val_stage`` and ``test_stage`` and the ``progress_metric`` of the
    module it is attached to. Lightning runs it after the other callbacks but before the
    checkpoint callbacks, and its hooks before the module's own, so whatever reads an epoch's
    metrics (checkpoints, early stopping, the module) reads them up to date.
    """

    def __init__(self) -> None:
        skip_unused_batch_hooks([self])  # it runs after lit_nn skipped the trainer's own callbacks' hooks

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start the epoch with nothing queued."""
        pl_module.train_stage.discard()

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,  # noqa: ANN401
    ) -> None:
        """Bring the epoch's loss up to date when the epoch may end, before anything reads it."""
        if training_epoch_may_end(trainer):
            pl_module.train_stage.flush_loss()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Log the epoch's training metrics (the loss mean is logged by the step as ``train/loss_epoch``)."""
        pl_module.train_stage.log(pl_module, loss_name=None)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Bring the training loss up to date before a validation that may end the epoch early."""
        pl_module.train_stage.flush_loss()

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start with nothing queued."""
        pl_module.val_stage.discard()

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Log the validation loss and metrics."""
        pl_module.val_stage.log(pl_module, bar_metric=pl_module.progress_metric)

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start with nothing queued."""
        pl_module.test_stage.discard()

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Log the test loss and metrics."""
        pl_module.test_stage.log(pl_module)


def training_epoch_may_end(trainer: Any) -> bool:  # noqa: ANN401 (a Trainer)
    """Whether the training epoch can end after the current batch (the epoch's loss must then be up to date).

    Args:
        trainer: The trainer, inside a training batch.

    Returns:
        True on the epoch's last batch, on the last step of training, or once a stop is requested.
    """
    if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch or trainer.should_stop:
        return True
    return 0 <= trainer.max_steps <= trainer.global_step + 1


def _join(tensors: tuple[Tensor, ...]) -> Tensor:
    return torch.stack(tensors) if tensors[0].dim() == 0 else torch.cat(tensors)
