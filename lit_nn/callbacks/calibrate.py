"""After a fit, calibrate its checkpoints on the validation split: ``--calibrate temperature``, ``--conformal 0.1``.

The fit's best and last checkpoint files are each read back, their weights run over the
validation split, and the temperature and conformal quantile fitted to those outputs
(:func:`lit_nn.tasks.calibration.calibrate`) are written into the same file (atomically, through
the trainer's checkpoint IO), so ``test``, ``predict``, ``export`` and ``serve`` of that file apply
them. The validation split is data the weights were not trained on; it also chose the best
checkpoint, a choice among a few that barely bends the conformal guarantee (docs/calibration.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from lit_nn.checkpoints import load_checkpoint
from lit_nn.tasks.calibration import CalibrationError, calibrate, check_applies, check_level, needed_samples, too_few


def checkpoint_files(trainer: Trainer) -> list[str]:
    """The fit's best and last checkpoint files (each once).

    Args:
        trainer: The trainer after ``fit``.

    Returns:
        Their paths; none when the fit saved no checkpoint.
    """
    found: list[str] = []
    for callback in trainer.checkpoint_callbacks:
        for path in (getattr(callback, "best_model_path", ""), getattr(callback, "last_model_path", "")):
            if path and Path(path).is_file() and path not in found:
                found.append(path)
    return found


def sample_count(loader: Any) -> int | None:  # noqa: ANN401 (a DataLoader)
    """How many samples a loader's dataset holds, when it can tell.

    Args:
        loader: A ``DataLoader``.

    Returns:
        ``len(loader.dataset)``, or ``None`` (a stream).
    """
    try:
        return len(loader.dataset)
    except TypeError:
        return None


def held_out_outputs(trainer: Trainer, task: LightningModule, loader: Iterable[Any]) -> tuple[Tensor, Tensor]:
    """Run a task's :meth:`calibration_outputs` over a loader, as Lightning would feed it.

    Each batch goes through the datamodule's and the task's transfer hooks (an image datamodule
    normalises on the device) and the precision plugin, in evaluation mode without gradients.

    Args:
        trainer: The trainer (its datamodule and precision).
        task: The task, weights loaded.
        loader: The validation loader.

    Returns:
        The outputs and the targets, on the CPU.
    """
    data, precision = trainer.datamodule, trainer.precision_plugin
    outputs, targets = [], []
    training = task.training
    task.eval()
    try:
        with torch.no_grad():
            for batch in loader:
                if data is not None:
                    batch = data.on_before_batch_transfer(batch, 0)
                batch = task.on_before_batch_transfer(batch, 0)
                batch = task.transfer_batch_to_device(batch, task.device, 0)
                if data is not None:
                    batch = data.on_after_batch_transfer(batch, 0)
                batch = precision.convert_input(task.on_after_batch_transfer(batch, 0))
                with precision.forward_context():
                    outputs.append(task.calibration_outputs(batch[0]).float().cpu())
                targets.append(batch[1].cpu())
    finally:
        task.train(training)
    return torch.cat(outputs), torch.cat(targets)


class CalibrateAfterFit(Callback):
    """Fit a temperature and/or a conformal quantile on the validation split into the fit's checkpoints.

    ``lit-nn fit --calibrate temperature --conformal 0.1`` adds it. What cannot work is refused
    before training starts: a level outside (0, 1) when built, a task it does not apply to or a
    validation split too small for the level at set-up.

    Args:
        temperature: Fit a temperature (classifiers).
        level: The conformal ``alpha`` (``0.1``: sets or intervals that hold the truth 90 % of
            the time), or ``None``.
    """

    def __init__(self, temperature: bool = False, level: float | None = None) -> None:
        self.temperature = temperature
        self.level = None if level is None else check_level(level)
        self.lines: list[str] = []

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Refuse, before training, what cannot be calibrated.

        Args:
            trainer: The trainer (its datamodule is set up).
            pl_module: The task.
            stage: Lightning's stage (only ``fit`` is checked).

        Raises:
            CalibrationError: The task takes no such calibration, or the validation split is too
                small for the level.
        """
        if stage != "fit":
            return
        check_applies(pl_module, self.temperature, self.level)
        if self.level is not None and trainer.datamodule is not None:
            count = sample_count(trainer.datamodule.val_dataloader())
            if count is not None and count < needed_samples(self.level):
                raise CalibrationError(too_few(self.level, count))

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Calibrate the best and last checkpoints (rank zero; the others wait).

        Args:
            trainer: The trainer after the fit.
            pl_module: The task.
        """
        if trainer.interrupted:
            return
        if trainer.is_global_zero and trainer.datamodule is not None:
            loader = trainer.datamodule.val_dataloader()
            files = checkpoint_files(trainer)
            for path in files:
                self.lines.append(self.calibrate_file(trainer, pl_module, loader, path))
            if not files:
                self.lines.append("Not calibrated: the fit saved no checkpoint to write the calibration into")
            print("\n".join(self.lines))
        trainer.strategy.barrier("calibrated")

    def calibrate_file(self, trainer: Trainer, task: LightningModule, loader: Iterable[Any], path: str) -> str:
        """Load a checkpoint's weights into the task, calibrate them, write the calibration into the file.

        The task's own weights are put back afterwards.

        Args:
            trainer: The trainer.
            task: The task.
            loader: The validation loader.
            path: The checkpoint file.

        Returns:
            The line that says what was found.
        """
        checkpoint = load_checkpoint(path)
        current = {key: value.detach().clone() for key, value in task.state_dict().items()}
        try:
            task.load_state_dict(checkpoint["state_dict"])
            outputs, targets = held_out_outputs(trainer, task, loader)
            fitted = calibrate(task, outputs, targets, self.temperature, self.level)
            state = task.calibration.state_dict(prefix="calibration.")
            checkpoint["state_dict"].update({key: value.detach().cpu().clone() for key, value in state.items()})
            trainer.strategy.checkpoint_io.save_checkpoint(checkpoint, path)
            said = task.calibration.summary()
        finally:
            task.load_state_dict(current)
        nll = f" (validation NLL {fitted.nll[0]:.4g} -> {fitted.nll[1]:.4g})" if fitted.nll else ""
        note = f"; {fitted.note}" if fitted.note else ""
        return f"Calibrated {Path(path).name} on {fitted.samples} validation samples: {said}{nll}{note}"
