"""Plots of what the model predicts, saved in the run folder and sent to W&B."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from torch import Tensor


class PredictionPlots(Callback):
    """Plots of predictions and training curves.

    The task draws the plots of its predictions (its ``plot_predictions``: confusion matrix for
    classification, ROC and precision-recall for binary, predicted against true and residuals for
    regression …); this callback collects them and adds loss and metric curves. Written to ``<run>/plots/`` as PNG
    files at the end of fitting (from the last validation epoch, and the curves of all epochs)
    and of testing, and logged as images to a W&B logger.

    Args:
        enabled: Draw anything at all (off: no prediction is kept).
        every_n_epochs: Also draw the validation plots every N epochs (0: only at the end).
        subfolder: Where the PNGs go, under the trainer's ``default_root_dir``; ``lit-nn`` gives
            each command its own (``plots/<command>-<time>``), so no command redraws another's.
    """

    def __init__(self, enabled: bool = True, every_n_epochs: int = 0, subfolder: str = "plots") -> None:
        if every_n_epochs < 0:
            raise ValueError(f"every_n_epochs must be 0 or more, got {every_n_epochs}")
        self.enabled, self.every_n_epochs, self.subfolder = enabled, every_n_epochs, subfolder
        self.history: list[dict[str, float]] = []
        self.outputs: dict[str, list[tuple[Tensor, Tensor]]] = {"val": [], "test": []}
        self.written: list[Path] = []

    # collecting ---------------------------------------------------------------------------------

    def _collect(self, stage: str, outputs: Any) -> None:  # noqa: ANN401 (what the step returned)
        if self.enabled and isinstance(outputs, dict) and "preds" in outputs:
            self.outputs[stage].append((outputs["preds"].detach().float().cpu(), outputs["target"].detach().cpu()))

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Forget the previous epoch's predictions."""
        self.outputs["val"] = []

    def on_validation_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, *args: Any) -> None:  # noqa: ANN401
        """Keep the batch's predictions."""
        self._collect("val", outputs)

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Forget earlier test predictions."""
        self.outputs["test"] = []

    def on_test_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, *args: Any) -> None:  # noqa: ANN401
        """Keep the batch's predictions."""
        self._collect("test", outputs)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Record the epoch's losses and validation metrics; draw every N epochs if asked."""
        if not self.enabled:
            return
        row = {"epoch": float(trainer.current_epoch)}
        row.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("train/loss", "val/"))})
        self.history.append(row)
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self._draw(trainer, pl_module, "val", suffix=f"-epoch{trainer.current_epoch:03d}")

    def state_dict(self) -> dict[str, Any]:
        """The epochs' losses and metrics so far, kept in checkpoints so a resumed run's curves show every epoch."""
        return {"history": [dict(row) for row in self.history]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take back the history of the run being resumed.

        Args:
            state_dict: From :meth:`state_dict`.
        """
        self.history = [{k: float(v) for k, v in row.items()} for row in state_dict.get("history", [])]

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Draw the last validation epoch's plots and the curves."""
        if not self.enabled:
            return
        self._draw(trainer, pl_module, "val")
        if trainer.is_global_zero and self.history:
            from lit_nn import plotting

            self._publish(trainer, [plotting.curves(self.history, self._folder(trainer) / "curves.png")])

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Draw the test plots."""
        if self.enabled:
            self._draw(trainer, pl_module, "test")

    # drawing ----------------------------------------------------------------------------------

    def _folder(self, trainer: Trainer) -> Path:
        return Path(trainer.default_root_dir) / self.subfolder

    def _gathered(self, pl_module: LightningModule, stage: str) -> tuple[Tensor, Tensor] | None:
        if not self.outputs[stage]:
            return None
        preds = torch.cat([p for p, _ in self.outputs[stage]])
        targets = torch.cat([t for _, t in self.outputs[stage]])
        if pl_module.trainer.world_size > 1:  # every rank holds a shard of equal size (DistributedSampler pads)
            preds = pl_module.all_gather(preds.to(pl_module.device)).flatten(0, 1).cpu()
            targets = pl_module.all_gather(targets.to(pl_module.device)).flatten(0, 1).cpu()
        return preds, targets

    def _draw(self, trainer: Trainer, pl_module: LightningModule, stage: str, suffix: str = "") -> None:
        gathered = self._gathered(pl_module, stage)
        if gathered is None or not trainer.is_global_zero:
            return
        preds, targets = gathered
        folder, title = self._folder(trainer), {"val": "validation", "test": "test"}[stage]
        draw = getattr(pl_module, "plot_predictions", None)  # the task draws what fits its kind
        if draw is None:
            return
        names = getattr(trainer.datamodule, "class_names", None)
        paths = draw(preds, targets, lambda name: folder / f"{stage}-{name}{suffix}.png", title, names)
        self._publish(trainer, paths)

    def _publish(self, trainer: Trainer, paths: list[Path]) -> None:
        self.written += paths
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                for path in paths:
                    logger.log_image(key=f"plots/{path.stem}", images=[str(path)])
