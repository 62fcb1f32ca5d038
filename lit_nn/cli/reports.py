"""What a command says and saves when it has run: the fit's summary, the evaluation's metrics."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from lightning.pytorch import Trainer

from lit_nn.atomic import write_text
from lit_nn.callbacks.plots import PredictionPlots
from lit_nn.callbacks.predictions import CSVPredictionWriter
from lit_nn.curves_reading import read_curves


def curves_reading(trainer: Trainer) -> str:
    """The fit's loss curves read in one line (:func:`lit_nn.curves_reading.read_curves`).

    Read from the history the plots callback keeps, a resumed run's earlier epochs included.

    Args:
        trainer: The trainer after ``fit``.

    Returns:
        The line, or ``""`` when nothing was recorded (plots off: ``--plots.enabled false``).
    """
    plots = next((c for c in trainer.callbacks if isinstance(c, PredictionPlots)), None)
    return read_curves(plots.history).sentence if plots is not None else ""


def best_checkpoint(trainer: Trainer) -> str:
    """The fit's best checkpoint file.

    Args:
        trainer: The trainer after ``fit``.

    Returns:
        Its path, or ``""`` when the fit saved none (``fast_dev_run``, checkpointing off).
    """
    return trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""


def missing_test_split(trainer: Trainer) -> str | None:
    """What the fit's datamodule needs before its test split exists (its ``missing_split("test")``).

    Args:
        trainer: The trainer after ``fit``.

    Returns:
        What to do, or ``None`` when the split exists (or the datamodule cannot tell).
    """
    missing = getattr(trainer.datamodule, "missing_split", None)
    return missing("test") if callable(missing) else None


def fit_summary(trainer: Trainer, run_dir: Path, testing: bool = False) -> list[str]:
    """Where a fit went, why it stopped early if it did, what its loss curves say, and how to test it.

    Args:
        trainer: The trainer after ``fit``.
        run_dir: The run folder.
        testing: ``--test true``: the best checkpoint is tested next, in this process
            (:mod:`lit_nn.cli.fit_test`), so the last line says that instead of the command to run.

    Returns:
        The lines to print (each may start with an empty line).
    """
    said = []
    for stopper in trainer.early_stopping_callbacks:
        if stopper.stopped_epoch:
            best = stopper.best_score.item() if torch.is_tensor(stopper.best_score) else stopper.best_score
            said.append(
                f"Early stopping after epoch {stopper.stopped_epoch}: {stopper.monitor} had not improved for "
                f"{stopper.patience} epochs (best {best:.6g})"
            )
    reading = curves_reading(trainer)
    if reading:
        said.append(reading)
    lines = ["\n" + said[0], *said[1:]] if said else []
    best = best_checkpoint(trainer)
    lines.append(f"\nRun folder: {run_dir}")
    if not best:
        if testing:
            lines.append("Not tested (--test true): the fit saved no checkpoint")
        return lines
    monitor = trainer.checkpoint_callback.monitor or "last epoch"
    lines.append(f"Best checkpoint ({monitor}): {best}")
    command = f"lit-nn test --ckpt_path {best}"
    how = missing_test_split(trainer)
    if how:  # the command would fail: say first what it needs
        lines.append(f"{'Not tested (--test true)' if testing else 'Test it'}: {how}; then: {command}")
    elif testing:
        lines.append(f"Testing it in this process (--test true), as {command} would")
    else:
        lines.append(f"Test it: {command}")
    return lines


def save_metrics(trainer: Trainer, path: Path, checkpoint: str | None = None) -> None:
    """Write an evaluation's metrics, every rank's own view of them, and the checkpoint evaluated, as JSON.

    Args:
        trainer: The trainer after ``validate`` or ``test``.
        path: The file (rank zero writes it).
        checkpoint: The checkpoint evaluated (its file name is recorded: an export finds its own test by it).
    """
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("val/", "test/"))}
    per_rank = [metrics]
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        per_rank = [{} for _ in range(torch.distributed.get_world_size())]
        torch.distributed.all_gather_object(per_rank, metrics)
    if trainer.is_global_zero:
        record = {"metrics": metrics, "per_rank": per_rank, "checkpoint": Path(checkpoint).name if checkpoint else None}
        write_text(path, json.dumps(record, indent=2) + "\n")


def predictions_written(trainer: Trainer) -> str | None:
    """The file ``predict`` wrote.

    Args:
        trainer: The trainer after ``predict``.

    Returns:
        Its path, or ``None`` (another rank, or no CSV writer).
    """
    writers = [c for c in trainer.callbacks if isinstance(c, CSVPredictionWriter)]
    if trainer.is_global_zero and writers and hasattr(writers[0], "written"):
        return str(writers[0].written)
    return None
