"""Lightning's progress bar, redrawn a few times a second rather than after every batch."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from torch import Tensor

from lit_nn.compat import TQDMProgressBarWithUpdateHook

STAGES = ("train", "val", "test", "predict")


def shown_bar(progress: ThrottledProgressBar, stage: str) -> Any | None:  # noqa: ANN401 (a tqdm bar)
    """A stage's tqdm bar, or ``None`` before Lightning made it (its property raises ``TypeError`` then).

    Args:
        progress: The progress bar callback.
        stage: ``train``, ``val``, ``test`` or ``predict``.

    Returns:
        The bar, or ``None``.
    """
    try:
        return getattr(progress, f"{stage}_progress_bar")
    except TypeError:
        return None


class ThrottledProgressBar(TQDMProgressBarWithUpdateHook):
    """:class:`~lightning.pytorch.callbacks.TQDMProgressBar` that redraws at most every ``interval`` seconds.

    Lightning's bar redraws after every batch (twice for a training batch), which costs about as
    much as a small model's step; tqdm itself redraws at most ten times a second. This bar draws
    the same things: the first and last batch of every epoch and evaluation, the others once
    ``interval`` has passed since the previous drawing. Beside the logged metrics it shows the
    drawn step's own loss (from the training step's output) as ``train/loss``, so the model need
    not log it every step for the bar.

    Args:
        interval: Least time between two drawings, in seconds (0: every ``refresh_rate`` batches).
        refresh_rate: Draw only every N batches (Lightning's setting; 0 hides the bar).
        process_position: Lightning's setting, for several bars at once.
        leave: Keep each epoch's bar on screen.
    """

    def __init__(
        self, interval: float = 0.1, refresh_rate: int = 1, process_position: int = 0, leave: bool = False
    ) -> None:
        if interval < 0:
            raise ValueError(f"interval must be 0 or more, got {interval}")
        super().__init__(refresh_rate=refresh_rate, process_position=process_position, leave=leave)
        self.interval = interval
        self.redraw_due = True
        """Whether the current training batch will be drawn (decided when the batch starts)."""
        self._drawn = -math.inf

    def _due(self, current: int, total: int | float | None) -> bool:
        if not (self.is_enabled and (current % self.refresh_rate == 0 or current == total)):
            return False
        return current == total or time.monotonic() - self._drawn >= self.interval

    def should_update(self, current: int, total: int) -> bool:
        """Redraw a validation, test or prediction bar when it is due (see the class).

        Args:
            current: Batches done.
            total: Batches in all.

        Returns:
            True to redraw.
        """
        due = self._due(current, total)
        if due:
            self._drawn = time.monotonic()
        return due

    def on_train_epoch_start(self, trainer: Trainer, *args: Any) -> None:  # noqa: ANN401
        """Start the epoch's bar; its first batch is drawn."""
        super().on_train_epoch_start(trainer, *args)
        self._drawn = -math.inf

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start a validation bar; its first batch is drawn."""
        super().on_validation_start(trainer, pl_module)
        self._drawn = -math.inf

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start the test bar; its first batch is drawn."""
        super().on_test_start(trainer, pl_module)
        self._drawn = -math.inf

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start the prediction bar; its first batch is drawn."""
        super().on_predict_start(trainer, pl_module)
        self._drawn = -math.inf

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:  # noqa: ANN401
        """Decide whether this batch will be drawn."""
        bar = shown_bar(self, "train")
        total = bar.total if bar is not None else None
        last = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        self.redraw_due = self._due(batch_idx + 1, batch_idx + 1 if last else total)

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,  # noqa: ANN401
        batch: Any,  # noqa: ANN401
        batch_idx: int,
    ) -> None:
        """Draw the batch count and the metrics, once, when this batch is due."""
        bar = shown_bar(self, "train")
        if not self.redraw_due or bar is None:
            return
        self._drawn = time.monotonic()
        if not bar.disable:
            bar.n = batch_idx + 1
            metrics = self.get_metrics(trainer, pl_module)
            loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
            if isinstance(loss, Tensor):  # Lightning divided it by the accumulation count
                metrics["train/loss"] = loss.item() * trainer.accumulate_grad_batches
            bar.set_postfix(metrics)  # draws

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        """Take the bars off the screen, so the error message that follows starts its own line."""
        for bar in (shown_bar(self, stage) for stage in STAGES):
            if bar is not None and not bar.disable:
                bar.leave = False
                bar.close()
