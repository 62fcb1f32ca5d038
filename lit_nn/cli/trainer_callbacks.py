"""The callbacks ``lit-nn`` adds to a Trainer once it is built, and those it takes away."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar, TQDMProgressBar

from lit_nn.callbacks.activation_stats import ActivationStatistics
from lit_nn.callbacks.finite_loss import StopOnNonFiniteLoss
from lit_nn.callbacks.interrupt import SaveOnInterrupt, SlurmRequeue
from lit_nn.callbacks.nvml import SkipFutileNvmlCheck
from lit_nn.callbacks.plots import PredictionPlots
from lit_nn.callbacks.predictions import CSVPredictionWriter
from lit_nn.callbacks.progress import ThrottledProgressBar
from lit_nn.callbacks.random_state import RandomState
from lit_nn.callbacks.redundancy import DuplicateCheck
from lit_nn.callbacks.run_record import RecordRun
from lit_nn.callbacks.schedule import ReplanSchedule
from lit_nn.callbacks.threads import ChooseThreads
from lit_nn.skip_unused_hooks import skip_unused_batch_hooks


def arrange_callbacks(
    trainer: Trainer,
    command: str,
    configured: Sequence[Callback],
    record: dict[str, Any] | None = None,
    extra: Sequence[Callback] = (),
    predictions: Path | None = None,
) -> None:
    """Give a built trainer lit_nn's callbacks: ``fit`` the safety ones, ``predict`` the CSV writer.

    A fit also says how many validation and test samples copy a training sample
    (:class:`~lit_nn.callbacks.redundancy.DuplicateCheck`).

    Lightning calls every hook of every callback at every step, so callbacks with nothing to do
    (activation statistics off, plots off, SLURM requeue outside SLURM) are left out, the empty
    batch hooks of the others are skipped, Lightning's default progress bar gives way to lit_nn's,
    which redraws a few times a second, torch's thread count is chosen for the process
    (:class:`~lit_nn.callbacks.threads.ChooseThreads`) and its futile NVML probe dropped.

    Args:
        trainer: The trainer, as Lightning built it (changed in place).
        command: ``fit``, ``test`` …
        configured: The callbacks the configuration asked for (a progress bar among them is kept).
        record: What every checkpoint of a fit records besides the weights
            (:class:`~lit_nn.callbacks.run_record.RecordRun`).
        extra: More callbacks (a sweep's pruner, a cross-validation fold); in a fit placed
            before the checkpoint callbacks (they see a validation's metrics before a checkpoint is
            chosen by them).
        predictions: The CSV file ``predict`` writes.
    """
    bar = trainer.progress_bar_callback
    lightning_default = type(bar) in (TQDMProgressBar, RichProgressBar)  # Rich when rich is installed
    if lightning_default and not any(c is bar for c in configured):
        trainer.callbacks[trainer.callbacks.index(bar)] = ThrottledProgressBar()
    trainer.callbacks = [
        c
        for c in trainer.callbacks
        if not (isinstance(c, ActivationStatistics) and not c.every_n_steps)
        and not (isinstance(c, PredictionPlots) and not c.enabled)
    ]
    trainer.callbacks.extend([ChooseThreads(), SkipFutileNvmlCheck()])
    if command == "fit":
        safety = [RandomState(), SaveOnInterrupt(), *([SlurmRequeue()] if SlurmRequeue.applies_to(trainer) else [])]
        checks = [StopOnNonFiniteLoss(), RecordRun(record or {}), ReplanSchedule(), DuplicateCheck()]
        trainer.callbacks.extend([*safety, *checks])
        first_checkpoint = next(
            (i for i, c in enumerate(trainer.callbacks) if isinstance(c, ModelCheckpoint)), len(trainer.callbacks)
        )
        trainer.callbacks[first_checkpoint:first_checkpoint] = list(extra)
    else:
        trainer.callbacks.extend(extra)
    if command == "predict" and predictions is not None:
        trainer.callbacks.append(CSVPredictionWriter(predictions))
    skip_unused_batch_hooks(trainer.callbacks)
