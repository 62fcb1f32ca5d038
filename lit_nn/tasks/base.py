"""The shared base of the tasks: registry look-ups, optimiser set-up, metrics per stage."""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import Tensor
from torchmetrics import MeanMetric, Metric, MetricCollection

from lit_nn.errors import InvalidArgumentsError, LitNNError
from lit_nn.registry import default_registry
from lit_nn.tasks.nvml import drop_futile_nvml_check, restore_nvml_check
from lit_nn.tasks.optimizers import build_optimizer, build_schedule, check_choice

BACKBONE_KEYWORDS = ("input_shape", "output_size", "activation", "dropout")


class LabelError(LitNNError, ValueError):
    """Labels that do not fit the task (out of range, or a class count that does not match)."""


def training_epoch_may_end(trainer: Any) -> bool:  # noqa: ANN401 (a Trainer)
    """Whether the training epoch can end after the current batch.

    Args:
        trainer: The trainer, inside a training batch.

    Returns:
        True on the epoch's last batch, on the last step of training, or once a stop is requested.
    """
    if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch or trainer.should_stop:
        return True
    return 0 <= trainer.max_steps <= trainer.global_step + 1


class BaseTask(LightningModule, ABC):
    """Backbone, activation and loss by registry name; optimiser and schedule; metrics per stage.

    Args:
        backbone: Registered backbone name (``lit-nn plugins --kind backbones``).
        backbone_kwargs: The backbone's own keyword arguments.
        activation: Registered activation name.
        activation_kwargs: The activation's keyword arguments.
        loss: Registered loss name; ``None`` uses the task's default.
        loss_kwargs: The loss's keyword arguments.
        input_shape: One sample's shape without the batch dimension (the CLI takes it from the
            datamodule).
        optimizer: ``adam``, ``adamw``, ``sgd`` (momentum 0.9, Nesterov) or ``rmsprop``, or a
            ``torch.optim`` class path. When Lightning's ``--optimizer`` replaces this set-up, the
            CLI records the class path it ran here.
        optimizer_kwargs: Further arguments of the optimiser (with a class path).
        lr: Learning rate (the peak rate for ``onecycle``).
        weight_decay: L2 penalty (decoupled for ``adamw``).
        scheduler: ``none``, ``cosine`` (to zero over training), ``onecycle`` (warm-up then
            anneal, per step) or ``plateau`` (halve when ``val/loss`` stalls for 5 epochs), or a
            ``torch.optim.lr_scheduler`` class path (recorded for ``--lr_scheduler``).
        scheduler_kwargs: Arguments of a scheduler given by class path.
        dropout: Dropout probability, passed to the backbone.
        channels_last: Keep 4-D inputs and the backbone's weights in the channels-last memory
            layout (faster convolutions with mixed precision on recent GPUs; same results).
        compile: Compile the backbone with ``torch.compile`` (``nn.Module.compile``, so parameter
            names and checkpoints stay as without it). The first steps are slow while it compiles.
    """

    default_loss: ClassVar[str]
    size_argument: ClassVar[str]
    """``num_classes`` or ``num_targets``: the datamodule attribute that must equal the model's."""
    monitor: ClassVar[str] = "val/loss"
    headline: ClassVar[str] = "acc"
    """The metric shown in the progress bar beside the losses."""
    metric_batches: ClassVar[int] = 16
    """Metrics are updated once per this many batches, with the batches concatenated: the counts
    and sums they keep are the same, and torchmetrics' cost per call (checks, state bookkeeping,
    host syncs on an accelerator) is paid once instead of every batch."""

    def __init__(
        self,
        backbone: str = "mlp",
        backbone_kwargs: dict[str, Any] | None = None,
        activation: str = "relu",
        activation_kwargs: dict[str, Any] | None = None,
        loss: str | None = None,
        loss_kwargs: dict[str, Any] | None = None,
        input_shape: Sequence[int] | None = None,
        optimizer: str = "adam",
        optimizer_kwargs: dict[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        scheduler: str = "none",
        scheduler_kwargs: dict[str, Any] | None = None,
        dropout: float = 0.0,
        channels_last: bool = False,
        compile: bool = False,  # noqa: A002 (the name users know from torch.compile)
    ) -> None:
        super().__init__()
        self._queued: dict[int, tuple[Metric | MetricCollection, list[tuple[Any, ...]]]] = {}
        self._epoch_loss_logged = False
        self._step_loss_time = -math.inf
        self._nvml_check: str | None = None
        if input_shape is None:
            raise InvalidArgumentsError(
                f"{type(self).__name__} needs input_shape, the shape of one sample (for example [64] or "
                "[3, 224, 224]); the CLI takes it from the datamodule"
            )
        self.save_hyperparameters()
        self.hparams.input_shape = [int(n) for n in input_shape]  # a list, so YAML and weights_only loads agree
        for name, value, low in (("lr", lr, 0.0), ("weight_decay", weight_decay, None), ("dropout", dropout, None)):
            if value < 0 or (low is not None and value <= low):
                raise InvalidArgumentsError(
                    f"{name} must be {'positive' if low is not None else '0 or more'}, got {value}"
                )
        if dropout >= 1:
            raise InvalidArgumentsError(f"dropout must be below 1, got {dropout}")
        check_choice(optimizer, scheduler)
        self.configure_models()
        self.configure_losses()
        self.configure_metrics()

    def __setattr__(self, name: str, value: Any) -> None:  # noqa: ANN401
        """Set an attribute; Lightning's hook bookkeeping skips ``nn.Module``'s checks."""
        if name == "_current_fx_name":  # set twice around every hook call, always a string or None
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    @property
    @abstractmethod
    def output_size(self) -> int:
        """Number of backbone outputs."""

    @abstractmethod
    def build_metrics(self) -> MetricCollection:
        """The task's metrics, without prefix; cloned once per stage."""

    def configure_models(self) -> None:
        """Build the backbone by name, handing it the activation by name."""
        hp, registry = self.hparams, default_registry()
        activation_kwargs = dict(hp.activation_kwargs or {})
        registry.create("activations", hp.activation, **activation_kwargs)  # fail now, not inside the backbone
        backbone_kwargs = dict(hp.backbone_kwargs or {})
        clash = sorted(set(backbone_kwargs) & set(BACKBONE_KEYWORDS))
        if clash:
            raise InvalidArgumentsError(
                f"backbone_kwargs must not set {', '.join(clash)}: the task passes those (set dropout on the task)"
            )
        self.backbone = registry.create(
            "backbones",
            hp.backbone,
            input_shape=tuple(hp.input_shape),
            output_size=self.output_size,
            activation=partial(registry.create, "activations", hp.activation, **activation_kwargs),
            dropout=hp.dropout,
            **backbone_kwargs,
        )
        if hp.channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        if hp.compile:
            self.backbone.compile()

    def configure_losses(self) -> None:
        """Build the loss by name (the task's default when none is given)."""
        name = self.hparams.loss or self.default_loss
        self.criterion = default_registry().create("losses", name, **dict(self.hparams.loss_kwargs or {}))

    def configure_metrics(self) -> None:
        """Clone the task's metrics once per stage with ``train/``, ``val/`` and ``test/`` prefixes."""
        metrics = self.build_metrics()
        self.train_loss = MeanMetric()
        self.val_loss = MeanMetric()
        self.test_loss = MeanMetric()
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    def forward(self, x: Tensor) -> Tensor:
        """Run the backbone.

        Args:
            x: ``(batch, *input_shape)``.

        Returns:
            Raw outputs ``(batch, output_size)``.
        """
        if self.hparams.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.backbone(x)

    @abstractmethod
    def step(self, batch: Sequence[Tensor], metrics: MetricCollection) -> tuple[Tensor, Tensor]:
        """Compute the loss of a labelled batch and update ``metrics`` (with :meth:`update_metrics`).

        Returns ``(loss, predictions)``: predictions as the metrics see them (probabilities,
        logits or values in the targets' units), detached.
        """

    def update_metrics(self, metrics: Metric | MetricCollection, *values: Tensor | float) -> None:
        """Queue ``metrics.update(*values)``; every :attr:`metric_batches` batches run as one update.

        Args:
            metrics: A metric or collection.
            *values: Its update arguments: tensors (detached) whose first dimension is the batch,
                scalar tensors, or numbers.
        """
        queued = self._queued.get(id(metrics))
        if queued is None:
            queued = self._queued[id(metrics)] = (metrics, [])
        queued[1].append(values)
        if len(queued[1]) >= self.metric_batches:
            self.flush_metrics(metrics)

    def flush_metrics(self, *metrics: Metric | MetricCollection) -> None:
        """Run the queued updates of ``metrics`` (of all when none is given) now.

        Args:
            *metrics: Metrics or collections given to :meth:`update_metrics`.
        """
        keys = [id(m) for m in metrics] if metrics else list(self._queued)
        for key in keys:
            metric, batches = self._queued.pop(key, (None, []))
            if not batches:
                continue
            joined = []
            for column in zip(*batches, strict=True):
                first = column[0]
                if not isinstance(first, Tensor):
                    device = next((v.device for v in batches[0] if isinstance(v, Tensor)), None)
                    joined.append(torch.tensor(column, dtype=torch.get_default_dtype(), device=device))
                else:
                    joined.append(torch.stack(column) if first.dim() == 0 else torch.cat(column))
            metric.update(*joined)

    def discard_queued(self, *metrics: Metric | MetricCollection) -> None:
        """Forget queued updates (left over by an interrupted epoch).

        Args:
            *metrics: Metrics or collections given to :meth:`update_metrics`.
        """
        for metric in metrics:
            self._queued.pop(id(metric), None)

    def check_batch(self, batch: Sequence[Tensor]) -> None:
        """Check a batch (classification checks label ranges); see :meth:`_step` for which.

        Args:
            batch: ``(features, targets)``.
        """

    def check_labels(self, y: Tensor, num_classes: int) -> None:
        """Refuse class labels outside ``0 … num_classes - 1``.

        Args:
            y: Labels.
            num_classes: Number of classes the model has.

        Raises:
            LabelError: Naming the offending label.
        """
        if not y.numel():
            return
        low, high = torch.aminmax(y)
        if low.item() < 0 or high.item() >= num_classes:  # two reads, not two tensor comparisons first
            bad = y[(y < 0) | (y >= num_classes)]
            raise LabelError(
                f"label {int(bad[0])} is outside 0…{num_classes - 1}: the model has {num_classes} classes. "
                "Fix the labels, or set num_classes to match the data"
            )

    def _step(self, batch: Sequence[Tensor], batch_idx: int, metrics: MetricCollection) -> tuple[Tensor, Tensor]:
        # Every batch on the CPU, where a check is a few microseconds; on an accelerator only the
        # first of each epoch and stage, since reading the result there waits for the device.
        if batch_idx == 0 or batch[-1].device.type == "cpu":
            self.check_batch(batch)
        return self.step(batch, metrics)

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> Tensor:
        """Training loss: ``train/loss`` per step, ``train/loss_epoch`` per epoch."""
        loss, _ = self._step(batch, batch_idx, self.train_metrics)
        # Each self.log costs about as much as a small model's forward pass, so the step loss is
        # logged only on the steps where something reads it: the logger (every
        # log_every_n_steps, exactly as before), the epoch's last step, and a progress bar redraw
        # when the loss it would show is older than the bar's redraw interval.
        if self._step_loss_wanted(batch_idx):
            self.log("train/loss", loss, prog_bar=True)
            object.__setattr__(self, "_step_loss_time", time.monotonic())
        # The epoch mean goes through a metric: torchmetrics syncs it across ranks once per epoch,
        # where sync_dist on a per-step value would synchronise every step. Logging the metric
        # object once per epoch is enough: Lightning computes and resets it at the epoch's end.
        self.update_metrics(self.train_loss, loss.detach(), len(batch[1]))
        if not self._epoch_loss_logged:
            self.log("train/loss_epoch", self.train_loss, on_step=False, on_epoch=True)
            self._epoch_loss_logged = True
        return loss

    def _step_loss_wanted(self, batch_idx: int) -> bool:
        trainer = self._trainer
        if trainer is None or trainer.fast_dev_run:
            return True
        connector = getattr(trainer, "_logger_connector", None)  # Lightning's LearningRateMonitor asks it too
        if connector is None or connector.should_update_logs or training_epoch_may_end(trainer):
            return True
        bar = trainer.progress_bar_callback
        if bar is None or not bar.is_enabled:
            return False
        due = getattr(bar, "redraw_due", None)  # lit_nn's bar decides before the step
        if due is None:
            return (batch_idx + 1) % max(getattr(bar, "refresh_rate", 1), 1) == 0
        return due and time.monotonic() - self._step_loss_time >= getattr(bar, "interval", 0.0)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:  # noqa: ANN401
        """Run the queued loss updates when the epoch may end, before callbacks read ``train/loss_epoch``."""
        if training_epoch_may_end(self.trainer):
            self.flush_metrics(self.train_loss)

    def validation_step(self, batch: Sequence[Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Validation loss (``val/loss``, watched by checkpoints and early stopping).

        Returns:
            ``loss``, ``preds`` and ``target``, for callbacks such as the plots.
        """
        loss, preds = self._step(batch, batch_idx, self.val_metrics)
        # A metric, logged at the epoch's end and synced across ranks then, so every rank's
        # checkpoint and early stopping agree: the batch-size-weighted mean that
        # self.log(..., batch_size=..., sync_dist=True) computed, without a log call per batch.
        self.update_metrics(self.val_loss, loss, len(batch[1]))
        return {"loss": loss, "preds": preds, "target": batch[1]}

    def test_step(self, batch: Sequence[Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Test loss (``test/loss``).

        Returns:
            ``loss``, ``preds`` and ``target``, for callbacks such as the plots.
        """
        loss, preds = self._step(batch, batch_idx, self.test_metrics)
        self.update_metrics(self.test_loss, loss, len(batch[1]))
        return {"loss": loss, "preds": preds, "target": batch[1]}

    def setup(self, stage: str) -> None:
        """Check that the datamodule's class or target count is the model's.

        Args:
            stage: Lightning's stage.

        Raises:
            LabelError: On a mismatch, naming both counts.
        """
        data = self.datamodule_attribute(self.size_argument)
        model = self.hparams[self.size_argument]
        if data is not None and data != model:
            raise LabelError(
                f"the datamodule has {self.size_argument}={data} but {type(self).__name__} was built with "
                f"{self.size_argument}={model}; set them equal (the CLI links them when the model's value is not given)"
            )
        if self._nvml_check is None:
            self._nvml_check = drop_futile_nvml_check()

    def teardown(self, stage: str) -> None:
        """Give back the environment variable :meth:`setup` may have removed.

        Args:
            stage: Lightning's stage.
        """
        restore_nvml_check(self._nvml_check)
        self._nvml_check = None

    def _log_metrics(self, metrics: MetricCollection, loss: MeanMetric | None = None) -> None:
        # Logged once per epoch rather than per step: cheaper. Lightning computes the metric
        # objects (torchmetrics syncs them across ranks) and resets them.
        self.flush_metrics(metrics, *([loss] if loss is not None else []))
        if loss is not None and loss.update_called:
            self.log(f"{metrics.prefix}loss", loss, prog_bar=metrics.prefix == "val/")
        if any(m.update_called for m in metrics.values()):
            for name, metric in metrics.items():
                self.log(name, metric, prog_bar=name == f"val/{self.headline}")
        else:
            metrics.reset()

    def on_train_epoch_start(self) -> None:
        """Start the epoch with nothing queued and the epoch loss not yet logged."""
        self.discard_queued(self.train_metrics, self.train_loss)
        self._epoch_loss_logged = False

    def on_train_epoch_end(self) -> None:
        """Log the epoch's training metrics."""
        self.flush_metrics(self.train_loss)  # normally done after the last batch already
        self._log_metrics(self.train_metrics)

    def on_validation_start(self) -> None:
        """Bring the training loss up to date before a validation that may end the epoch early."""
        self.flush_metrics(self.train_loss)

    def on_validation_epoch_start(self) -> None:
        """Start with nothing queued."""
        self.discard_queued(self.val_metrics, self.val_loss)

    def on_validation_epoch_end(self) -> None:
        """Log the epoch's validation loss and metrics."""
        self._log_metrics(self.val_metrics, self.val_loss)

    def on_test_epoch_start(self) -> None:
        """Start with nothing queued."""
        self.discard_queued(self.test_metrics, self.test_loss)

    def on_test_epoch_end(self) -> None:
        """Log the test loss and metrics."""
        self._log_metrics(self.test_metrics, self.test_loss)

    @abstractmethod
    def predict_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """What ``predict`` returns for a batch of features (see each task)."""

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:  # noqa: ANN401
        """Predict for a batch with or without targets.

        Args:
            batch: ``(features, targets)`` or features alone.
            batch_idx: Index of the batch.

        Returns:
            :meth:`predict_outputs` of the features.
        """
        return self.predict_outputs(batch[0] if isinstance(batch, (tuple, list)) else batch)

    def configure_optimizers(self) -> torch.optim.Optimizer | OptimizerLRSchedulerConfig:
        """Build the optimiser over trainable parameters, and the schedule.

        Returns:
            The optimiser, or Lightning's optimiser-and-scheduler dictionary.
        """
        hp = self.hparams
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = build_optimizer(hp.optimizer, params, hp.lr, hp.weight_decay, hp.get("optimizer_kwargs") or {})
        planned = hp.scheduler in ("cosine", "onecycle")
        steps = int(self.trainer.estimated_stepping_batches) if planned else 0
        schedule = build_schedule(hp.scheduler, optimizer, hp.lr, steps, self.monitor, hp.get("scheduler_kwargs") or {})
        return optimizer if schedule is None else {"optimizer": optimizer, "lr_scheduler": schedule}

    def datamodule_attribute(self, name: str) -> Any:  # noqa: ANN401
        """Read an attribute of the trainer's datamodule, if there is one.

        Args:
            name: Attribute name.

        Returns:
            Its value, or ``None``.
        """
        trainer = self._trainer
        return getattr(getattr(trainer, "datamodule", None), name, None) if trainer is not None else None
