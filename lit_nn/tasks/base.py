"""The shared base of the tasks: registry look-ups, optimiser set-up, metrics per stage."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from lightning.pytorch import Callback, LightningModule
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import Tensor
from torchmetrics import Metric, MetricCollection

from lit_nn import signatures
from lit_nn.errors import InvalidArgumentsError
from lit_nn.registry import default_registry
from lit_nn.tasks.backbone import build_backbone
from lit_nn.tasks.calibration import Calibration
from lit_nn.tasks.labels import check_size
from lit_nn.tasks.optimizers import build_optimizer, build_schedule, check_choice
from lit_nn.tasks.outputs import TaskOutputs
from lit_nn.tasks.speed import CheapHookBookkeeping, attached_trainer, step_loss_is_read
from lit_nn.tasks.stage_metrics import StageMetrics, StageMetricsSchedule


class BaseTask(TaskOutputs, CheapHookBookkeeping, LightningModule, ABC):
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

    kind: ClassVar[str]
    """What the task predicts, as export metadata records it: ``binary``, ``multiclass``, ``regression`` …"""
    default_loss: ClassVar[str]
    size_argument: ClassVar[str]
    """``num_classes``, ``num_targets`` or a plugin task's own: the init argument the CLI links from the
    datamodule's attribute of that name, and that must equal it."""
    monitor: ClassVar[str] = "val/loss"
    progress_metric: ClassVar[str] = "acc"
    """The validation metric shown in the progress bar beside the losses."""
    metric_batches: ClassVar[int] = 16
    """Batches per metric update (:class:`~lit_nn.tasks.stage_metrics.StageMetrics`)."""
    temperature_scaled: ClassVar[bool] = False
    """Whether ``--calibrate temperature`` applies (classifiers: their logits are divided by it)."""
    conformal_applies: ClassVar[bool] = False
    """Whether ``--conformal`` applies: the task has :meth:`conformal_scores` and answers sets or intervals."""
    conformal_answers: ClassVar[str] = "sets"
    """What its conformal quantile makes: ``sets`` of classes or ``intervals`` of values."""

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
        if input_shape is None:
            raise InvalidArgumentsError(
                f"{type(self).__name__} needs input_shape, the shape of one sample (for example [64] or "
                "[3, 224, 224]); the CLI takes it from the datamodule"
            )
        self.save_hyperparameters()
        self.hparams.input_shape = [int(n) for n in input_shape]  # a list, so YAML and weights_only loads agree
        if not 0 <= dropout < 1:
            raise InvalidArgumentsError(f"dropout must be {'below 1' if dropout >= 1 else '0 or more'}, got {dropout}")
        check_choice(optimizer, scheduler, lr, weight_decay)
        self.configure_models()
        self.configure_losses()
        self.configure_metrics()
        self.calibration = Calibration(self.calibrated_columns, self.conformal_answers)

    @property
    @abstractmethod
    def output_size(self) -> int:
        """Number of backbone outputs."""

    @property
    def calibrated_columns(self) -> int:
        """How many conformal quantiles the task keeps (one; regression: one per target)."""
        return 1

    @abstractmethod
    def build_metrics(self) -> MetricCollection:
        """The task's metrics, without prefix; cloned once per stage."""

    def configure_models(self) -> None:
        """Build the backbone by name, handing it the activation by name.

        :attr:`activation_layers` then maps each activation the registry built (its module name
        under ``backbone.``) to a readable name such as ``hidden1.relu``.
        """
        self.backbone, names = build_backbone(self.hparams, self.output_size)
        self.activation_layers = {f"backbone.{name}": label for name, label in names.items()}

    def configure_losses(self) -> None:
        """Build the loss by name (the task's default when none is given)."""
        name = self.hparams.loss or self.default_loss
        self.criterion = default_registry().create("losses", name, **dict(self.hparams.loss_kwargs or {}))

    def configure_metrics(self) -> None:
        """One :class:`~lit_nn.tasks.stage_metrics.StageMetrics` per stage: ``train/``, ``val/``, ``test/``."""
        metrics = self.build_metrics()
        self.train_stage = StageMetrics(metrics, "train/", self.metric_batches)
        self.val_stage = StageMetrics(metrics, "val/", self.metric_batches)
        self.test_stage = StageMetrics(metrics, "test/", self.metric_batches)

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
    def model_step(self, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """The loss of a labelled batch, its predictions and its targets.

        Args:
            batch: ``(features, targets)``.

        Returns:
            ``(loss, preds, target)``: predictions (detached) and targets as the task's metrics
            take them (probabilities, logits, or values in the targets' units).
        """

    def check_batch(self, batch: Sequence[Tensor]) -> None:
        """Check a batch's targets before its step (classification checks label ranges).

        Args:
            batch: ``(features, targets)``.
        """

    def _checked_step(self, batch: Sequence[Tensor], batch_idx: int) -> tuple[Tensor, Tensor, Tensor]:
        # Every batch on the CPU, where a check is a few microseconds; on an accelerator only the
        # first of each epoch and stage, since reading the result there waits for the device.
        if batch_idx == 0 or batch[-1].device.type == "cpu":
            self.check_batch(batch)
        return self.model_step(batch)

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> Tensor:
        """Training loss: ``train/loss`` when a logger writes it, ``train/loss_epoch`` per epoch."""
        loss, preds, target = self._checked_step(batch, batch_idx)
        first_of_epoch = self.train_stage.fresh
        self.train_stage.update(loss, preds, target)
        if step_loss_is_read(self):
            self.log("train/loss", loss, prog_bar=True)
        if first_of_epoch:
            # A metric logged once: Lightning computes it (synced across ranks) at the epoch's end.
            self.log("train/loss_epoch", self.train_stage.loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Sequence[Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Validation loss and metrics, logged at the epoch's end (``val/loss`` is monitored).

        Returns:
            ``loss``, ``preds`` and ``target``, for callbacks such as the plots.
        """
        loss, preds, target = self._checked_step(batch, batch_idx)
        self.val_stage.update(loss, preds, target)
        return {"loss": loss, "preds": preds, "target": target}

    def test_step(self, batch: Sequence[Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Test loss and metrics, logged at the end (``test/loss``).

        Returns:
            ``loss``, ``preds`` and ``target``, for callbacks such as the plots.
        """
        loss, preds, target = self._checked_step(batch, batch_idx)
        self.test_stage.update(loss, preds, target)
        return {"loss": loss, "preds": preds, "target": target}

    def trust_metrics(self) -> dict[str, Metric]:
        """Test metrics of how far the answers can be trusted (calibration error, coverage), added when testing starts.

        They depend on the calibration the tested checkpoint holds, which is loaded after the
        metrics are built. None by default.

        Returns:
            Metric name (without prefix) to metric.
        """
        return {}

    def calibration_outputs(self, x: Tensor) -> Tensor:
        """The raw outputs a calibration is fitted on (logits; values in the targets' units for regression).

        Args:
            x: ``(batch, *input_shape)``.

        Returns:
            The outputs, without temperature or conformal answers.
        """
        return self(x)

    def export_metadata(self) -> dict[str, Any]:
        """The calibration an export applies (its temperature, conformal level and quantiles), when it has one.

        Returns:
            ``{"calibration": …}`` or nothing.
        """
        record = self.calibration.record()
        return {"calibration": record} if record else {}

    def on_fit_start(self) -> None:
        """Forget any calibration: training changes the weights it was fitted for (``--calibrate`` refits it)."""
        self.calibration.reset()

    def on_test_start(self) -> None:
        """Add :meth:`trust_metrics` to the test metrics, for the calibration the tested weights hold."""
        added = self.trust_metrics()
        if added:
            self.test_stage.metrics.add_metrics({name: metric.to(self.device) for name, metric in added.items()})

    def configure_callbacks(self) -> list[Callback]:
        """The stages' schedule: when queued metrics are flushed, discarded and logged.

        A task that returns callbacks of its own adds them to ``super().configure_callbacks()``.

        Returns:
            ``[StageMetricsSchedule()]``.
        """
        return [StageMetricsSchedule()]

    def setup(self, stage: str) -> None:
        """Check that the datamodule's class or target count is the model's.

        Args:
            stage: Lightning's stage.
        """
        arg = self.size_argument
        data_kind = self.datamodule_attribute("task")
        data_kind = data_kind if isinstance(data_kind, str) else None
        trainer = attached_trainer(self)
        datamodule = getattr(trainer, "datamodule", None) if trainer is not None else None
        choosable = datamodule is not None and "task" in signatures.init_keywords(type(datamodule))
        check_size(type(self).__name__, arg, self.hparams[arg], self.datamodule_attribute(arg), data_kind, choosable)

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
        trainer = attached_trainer(self)
        return getattr(getattr(trainer, "datamodule", None), name, None) if trainer is not None else None
