"""A checkpoint before the process goes: SIGTERM, SIGUSR1 and Ctrl-C stop training gracefully."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lit_nn import runs
from lit_nn.compat import cluster_environment
from lit_nn.wandb_runs import finish as finish_wandb

INTERRUPTED_KEY = "lit_nn_interrupted"
"""Checkpoint key recording which signal stopped the run, and where in the epoch."""


class SaveOnInterrupt(Callback):
    """Write ``last.ckpt`` when training is stopped by SIGTERM, SIGUSR1 or Ctrl-C.

    SIGTERM is what schedulers and ``docker stop`` send before killing a process; Lightning turns
    it into an exception between two training steps, and this callback saves the checkpoint then,
    so ``lit-nn fit … --ckpt_path last`` carries on from the step where the run stopped. Outside
    SLURM, SIGUSR1 is treated the same way; under SLURM it means preemption and is handled by
    :class:`SlurmRequeue`, which saves ``hpc_ckpt_N.ckpt`` and requeues the job.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self.ignored = 0
        """Ctrl-C presses after the first, ignored while training stops and the checkpoint is saved."""
        self._saving = False
        self._previous: dict[int, Any] = {}

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Take over Ctrl-C, and SIGUSR1 unless SLURM's requeue handles it, while fitting."""
        if stage != "fit" or threading.current_thread() is not threading.main_thread():  # where handlers can be set
            return
        self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._on_sigint)
        if not SLURMEnvironment.detect() and hasattr(signal, "SIGUSR1"):
            self._previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, self._on_sigusr1)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Give the signals back."""
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        # The first Ctrl-C stops training as Python's own handler does. Any further one, however soon,
        # is counted and ignored from this very moment: there is no window (as there is between Python
        # raising KeyboardInterrupt and Lightning ignoring SIGINT) in which it could break the save.
        if self.signal_name == "Ctrl-C":
            self.ignored += 1
            return
        self.signal_name = "Ctrl-C"
        raise KeyboardInterrupt

    def _on_sigusr1(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = "SIGUSR1"
        os.kill(os.getpid(), signal.SIGTERM)  # Lightning's own SIGTERM path stops every rank between two steps

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        """Save ``last.ckpt`` when a signal or Ctrl-C stopped training after at least one step."""
        if not isinstance(exception, SIGTERMException | KeyboardInterrupt):
            return
        if any(isinstance(c, SlurmRequeue) and c.requeued for c in trainer.callbacks):
            return  # SLURM's SIGTERM after a requeue: hpc_ckpt_N.ckpt is already saved
        if self.signal_name is None:
            self.signal_name = "SIGTERM" if isinstance(exception, SIGTERMException) else "Ctrl-C"
        if trainer.state.fn != "fit" or trainer.global_step == 0:
            return
        checkpoint = trainer.checkpoint_callback
        folder = getattr(checkpoint, "dirpath", None) or runs.checkpoint_dir(Path(trainer.default_root_dir))
        path = runs.last_checkpoint(Path(folder))
        self._saving = True
        try:
            trainer.save_checkpoint(path, weights_only=False)  # everything a resume needs
        finally:
            self._saving = False
        if trainer.is_global_zero:
            again = f" (Ctrl-C pressed {self.ignored} more time(s) while saving: ignored)" if self.ignored else ""
            print(
                f"\nlit-nn: {self.signal_name} received: saved {path} at epoch {trainer.current_epoch}, "
                f"optimiser step {trainer.global_step}{again}; carry on with the same command and --ckpt_path last",
                file=sys.stderr,
                flush=True,
            )

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        """Mark the checkpoint written on a signal, so a resume can say it starts mid-epoch."""
        if self._saving:
            checkpoint[INTERRUPTED_KEY] = {
                "signal": self.signal_name or "SIGTERM",
                "epoch": trainer.current_epoch,
                "step": trainer.global_step,
                "batches_done": trainer.fit_loop.epoch_loop.batch_progress.current.completed,
                "batches_per_epoch": int(batches) if math.isfinite(batches := trainer.num_training_batches) else -1,
            }


class SlurmRequeue(Callback):
    """SLURM preemption without a deadlock: save ``hpc_ckpt_N.ckpt`` and requeue at a step boundary.

    Lightning's own SIGUSR1 handler saves the checkpoint inside the signal handler, and the save
    ends in a barrier across ranks; a rank that is inside a collective when the signal lands never
    reaches it, and the job hangs instead of requeueing (about one signal in four under DDP here;
    Lightning issue #21406). This callback takes the signal first (Lightning then leaves it alone):
    the handler only sets a flag, the ranks agree on it after each training step, then all save
    ``hpc_ckpt_N.ckpt`` in the run folder, the W&B run is closed, rank 0 runs ``scontrol requeue``,
    and every rank stops (exit 143, as on SIGTERM). The requeued job
    finds that checkpoint by itself (Lightning resumes from the newest ``hpc_ckpt_*`` under SLURM).
    Active only under SLURM with Lightning's automatic requeue on (its default).
    """

    def __init__(self) -> None:
        self.requested = False
        self.requeued = False
        self._signal: int | None = None
        self._previous: Any = None

    @staticmethod
    def applies_to(trainer: Trainer) -> bool:
        """Whether the trainer runs under SLURM with Lightning's automatic requeue on.

        Args:
            trainer: The trainer.

        Returns:
            True when this callback has something to do.
        """
        environment = cluster_environment(trainer)
        return isinstance(environment, SLURMEnvironment) and environment.auto_requeue

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Take the requeue signal before Lightning registers its own handler (it keeps an existing one)."""
        if stage != "fit" or not self.applies_to(trainer):
            return
        environment = cluster_environment(trainer)
        if threading.current_thread() is threading.main_thread() and environment.requeue_signal is not None:
            self._signal = environment.requeue_signal
            self._previous = signal.signal(self._signal, self._on_signal)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Give the signal back."""
        if self._signal is not None:
            signal.signal(self._signal, self._previous)
            self._signal = None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True  # nothing else here: the work happens between two steps, on every rank

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,  # noqa: ANN401
        batch: Any,  # noqa: ANN401
        batch_idx: int,
    ) -> None:
        """Once any rank got the signal: save on every rank, then requeue from rank 0."""
        if self._signal is None or self.requeued:
            return
        if not trainer.strategy.reduce_boolean_decision(self.requested, all=False):
            return
        self.requeued = True
        path = runs.next_hpc_checkpoint(Path(trainer.default_root_dir))
        trainer.save_checkpoint(path, weights_only=False)
        # Close the W&B run before the requeue: SLURM's SIGTERM to the old job would kill W&B's
        # service before it writes what it buffered (offline, the epochs before the signal were lost).
        lines = finish_wandb(trainer)
        if trainer.is_global_zero:
            array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
            job = f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array_job else os.environ["SLURM_JOB_ID"]
            status = subprocess.call(["scontrol", "requeue", job])
            outcome = (
                f"requeued job {job}"
                if status == 0
                else f"`scontrol requeue {job}` failed with status {status}: resubmit with --ckpt_path {path}"
            )
            name = signal.Signals(self._signal).name
            message = [f"\nlit-nn: {name} from SLURM: saved {path}; {outcome}", *lines]
            print("\n".join(message), file=sys.stderr, flush=True)
        raise SIGTERMException  # every rank stops here, the way Lightning stops on SIGTERM
