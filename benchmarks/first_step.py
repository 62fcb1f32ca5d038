"""A callback that stamps the moment of the first training step, for ``benchmarks/startup.py``.

Given to the real command (``lit-nn fit ... --trainer.callbacks+=benchmarks.first_step.FirstStepClock``
with the repository on ``PYTHONPATH``), it writes to ``LIT_NN_BENCH_OUT`` the seconds from
``LIT_NN_BENCH_T0`` (the ``time.time()`` at which the benchmark started the process) to the start
of the first training batch, then asks the trainer to stop.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer


class FirstStepClock(Callback):
    """Write the seconds from the process's launch to its first training batch, then stop."""

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:  # noqa: ANN401
        """Stamp the first batch (later ones are not reached: the trainer is told to stop).

        Args:
            trainer: The trainer.
            pl_module: The model.
            batch: The batch.
            batch_idx: Its index.
        """
        if trainer.global_step == 0 and batch_idx == 0:
            seconds = time.time() - float(os.environ["LIT_NN_BENCH_T0"])
            Path(os.environ["LIT_NN_BENCH_OUT"]).write_text(f"{seconds:.3f}\n")
            trainer.should_stop = True
