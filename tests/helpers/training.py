"""Small helpers to run real Lightning fits quickly in tests."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer

from lit_nn.registry import default_registry
from lit_nn.tasks import BinaryClassificationTask, MulticlassClassificationTask, RegressionTask


def trainer(**kwargs: Any) -> Trainer:
    """A quiet CPU trainer; keyword arguments override the defaults."""
    options = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    options.update(kwargs)
    return Trainer(**options)


def task_for(datamodule: LightningDataModule, **kwargs: Any) -> LightningModule:
    """The task matching a datamodule, sized from it (as the CLI links it); a plugin's size argument picks its task."""
    for entry in default_registry().entries("tasks"):
        size = getattr(entry.factory, "size_argument", None)
        if size not in ("num_classes", "num_targets") and hasattr(datamodule, size):
            return entry.factory(input_shape=datamodule.input_shape, **{size: getattr(datamodule, size)}, **kwargs)
    if getattr(datamodule, "task", None) == "regression" or hasattr(datamodule, "num_targets"):
        return RegressionTask(input_shape=datamodule.input_shape, num_targets=datamodule.num_targets, **kwargs)
    if datamodule.num_classes == 2:
        return BinaryClassificationTask(input_shape=datamodule.input_shape, **kwargs)
    return MulticlassClassificationTask(
        input_shape=datamodule.input_shape, num_classes=datamodule.num_classes, **kwargs
    )


class EpochLosses(Callback):
    """Record ``train/loss_epoch`` after every training epoch."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.values.append(float(trainer.callback_metrics["train/loss_epoch"]))
