"""Stop at the first NaN or infinite training loss, before it reaches a checkpoint."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from lit_nn.errors import LitNNError


class NonFiniteLossError(LitNNError):
    """The training loss became NaN or infinite."""


class StopOnNonFiniteLoss(Callback):
    """Raise :class:`NonFiniteLossError` when a training loss is NaN or infinite.

    The losses of the last steps are kept (detached, on their device) and read together every
    ``check_every_n_steps`` steps, before every validation and before every checkpoint is written:
    one host sync per check, none per step on an accelerator. A checkpoint is therefore never
    written after a non-finite loss, and the error names the first bad step even when it is read
    later.

    Args:
        check_every_n_steps: Read the losses every N steps; ``None``: every step on the CPU, where
            reading costs nothing, and every ``trainer.log_every_n_steps`` on an accelerator.
    """

    def __init__(self, check_every_n_steps: int | None = None) -> None:
        if check_every_n_steps is not None and check_every_n_steps < 1:
            raise ValueError(f"check_every_n_steps must be 1 or more, got {check_every_n_steps}")
        self.check_every_n_steps = check_every_n_steps
        self._losses: list[torch.Tensor] = []
        self._where: list[tuple[int, int, int]] = []  # (optimiser step, epoch, batch) of each kept loss

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,  # noqa: ANN401
        batch: Any,  # noqa: ANN401
        batch_idx: int,
    ) -> None:
        """Keep this step's loss; read the kept ones when it is time."""
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        every = self.check_every_n_steps or (1 if loss.device.type == "cpu" else trainer.log_every_n_steps)
        if every == 1 and not self._losses:  # read now, nothing to keep
            value = float(loss)
            if not math.isfinite(value):
                self._stop(trainer, value, (trainer.global_step, trainer.current_epoch, batch_idx))
            return
        self._losses.append(loss.detach().reshape(()))
        self._where.append((trainer.global_step, trainer.current_epoch, batch_idx))
        if len(self._losses) >= every:
            self.check(trainer)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Check before validating weights that a bad step may have spoiled."""
        self.check(trainer)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        """Refuse to write a checkpoint after a bad step (raised before the file is opened)."""
        self.check(trainer)

    def check(self, trainer: Trainer) -> None:
        """Read the kept losses; raise at the first non-finite one.

        Args:
            trainer: The trainer.

        Raises:
            NonFiniteLossError: Naming the step, the epoch and the likely causes.
        """
        if not self._losses:
            return
        losses = self._losses
        values = [float(losses[0])] if len(losses) == 1 else torch.stack(losses).float().tolist()  # one read
        where, self._losses, self._where = self._where, [], []
        bad = next((i for i, value in enumerate(values) if not math.isfinite(value)), None)
        if bad is not None:
            self._stop(trainer, values[bad], where[bad])

    def _stop(self, trainer: Trainer, value: float, where: tuple[int, int, int]) -> None:
        step, epoch, batch = where
        lr = trainer.optimizers[0].param_groups[0].get("lr") if trainer.optimizers else None
        checkpoint = trainer.checkpoint_callback
        last = getattr(checkpoint, "last_model_path", "") or getattr(checkpoint, "best_model_path", "")
        kept = f"the last good checkpoint, {last}, is untouched" if last else "no checkpoint had been written yet"
        hparams = getattr(trainer.lightning_module, "hparams", None) or {}
        option = "--optimizer.lr" if str(hparams.get("optimizer", "")).startswith("torch.") else "--model.lr"
        rate = f"a learning rate too high (it is {lr:g}: try 10 times lower with {option})" if lr else "the lr"
        raise NonFiniteLossError(
            f"the training loss became {value} at epoch {epoch}, batch {batch} (optimiser step {step}); "
            f"training stopped and {kept}. Likely causes: {rate}, NaN or infinite values in the data, or a loss "
            "that does not suit the targets; --trainer.gradient_clip_val can also help"
        )
