"""One trial's run: the metric it reports, the score its checkpoint recorded, and where its output goes."""

from __future__ import annotations

import math
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer

from lit_nn import runs
from lit_nn.checkpoints import load_checkpoint
from lit_nn.errors import ConfigError


class SweepMetricError(ConfigError):
    """The sweep's metric is not one the model logs: no trial can report it."""


class MetricCheck(Callback):
    """Stop at the first validation (the sanity check, seconds into the first trial) when the metric is not logged.

    Args:
        metric: The sweep's metric.
    """

    def __init__(self, metric: str) -> None:
        self.metric = metric

    def _check(self, trainer: Trainer) -> None:
        if self.metric in trainer.callback_metrics:
            return
        logged = sorted(k for k in trainer.callback_metrics if k.startswith("val/"))
        raise SweepMetricError(
            f"sweep.metric {self.metric} is not logged by this model (its validation metrics: "
            f"{', '.join(logged) or 'none'}); set sweep.metric to one of them"
        )

    def on_sanity_check_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Check the sanity check's metrics (Lightning clears them right after this hook)."""
        self._check(trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Check every validation's metrics (no sanity check runs when a trial resumes)."""
        if not trainer.sanity_checking:
            self._check(trainer)


def recorded_score(run_dir: Path, metric: str) -> float | None:
    """The best value of ``metric`` a trial's checkpoint callback recorded, read from its ``last.ckpt``.

    Read from the file (through lit_nn's checkpoint loader, as every checkpoint is) rather than
    from the trainer, so a trial carried on after it finished training reads the same value.
    Lightning writes ``last.ckpt`` whenever it writes a best checkpoint, so the file holds the
    final best even when later epochs did not improve on it.

    Args:
        run_dir: The trial's run folder.
        metric: The sweep's metric (the trial's ``checkpoint.monitor``).

    Returns:
        The score, or ``None`` when none was recorded or it is not finite.
    """
    path = runs.last_checkpoint(runs.checkpoint_dir(run_dir))
    if not path.is_file():
        return None
    checkpoint = load_checkpoint(str(path))
    for key, state in (checkpoint.get("callbacks") or {}).items():
        if str(key).startswith("ModelCheckpoint") and isinstance(state, dict) and state.get("monitor") == metric:
            score = state.get("best_model_score")
            value = None if score is None else float(score)
            return value if value is not None and math.isfinite(value) else None
    return None
