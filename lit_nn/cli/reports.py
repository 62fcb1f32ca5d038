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


def fit_summary(trainer: Trainer, run_dir: Path) -> list[str]:
    """Where a fit went, why it stopped early if it did, what its loss curves say, and how to test it.

    Args:
        trainer: The trainer after ``fit``.
        run_dir: The run folder.

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
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    lines.append(f"\nRun folder: {run_dir}")
    if best:
        monitor = trainer.checkpoint_callback.monitor or "last epoch"
        lines.append(f"Best checkpoint ({monitor}): {best}")
        missing = getattr(trainer.datamodule, "missing_split", None)
        how = missing("test") if callable(missing) else None
        if how:  # the command would fail: say first what it needs
            lines.append(f"Test it: {how}; then: lit-nn test --ckpt_path {best}")
        else:
            lines.append(f"Test it: lit-nn test --ckpt_path {best}")
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
