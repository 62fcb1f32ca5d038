"""last.ckpt is the last finished epoch, whatever the monitored metric did: a real run killed with
SIGKILL late, long after its best epoch, resumes at the epoch after the last one it finished."""

from __future__ import annotations

import csv
import signal

import pytest
import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.demos.boring_classes import BoringModel

from lit_nn.callbacks.last_checkpoint import LastEpochCheckpoint
from lit_nn.checkpoints import load_checkpoint
from lit_nn.errors import ConfigError
from lit_nn.sweeps.trial import recorded_score
from tests.helpers.cli import run, start
from tests.test_resume import wait_for_epoch

# mode max on a falling val/loss: the first epoch stays the best, so Lightning's own ModelCheckpoint
# never wrote last.ckpt after it
ARGS = ["fit", "-c", "configs/digits.yaml", "--trainer.max_epochs", "7", "--trainer.limit_train_batches", "4",
        "--trainer.enable_progress_bar", "false", "--checkpoint.mode", "max", "--run.name", "run"]  # fmt: skip


def checkpoint_state(checkpoint: dict) -> dict:
    states = [s for key, s in checkpoint["callbacks"].items() if key.startswith("ModelCheckpoint")]
    assert len(states) == 1, checkpoint["callbacks"].keys()
    return states[0]


def test_a_run_killed_long_after_its_best_epoch_resumes_after_the_last_finished_one(tmp_path):
    root = tmp_path / "runs"
    run_dir = root / "digits" / "run"
    last = run_dir / "checkpoints" / "last.ckpt"
    process = start([*ARGS, "--run.root", str(root)], tmp_path / "fit.log")
    wait_for_epoch(last, 3, process)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the run ended before it could be killed"

    killed = load_checkpoint(last)
    finished = killed["epoch"]
    assert 3 <= finished < 6
    best = sorted((run_dir / "checkpoints").glob("best-*.ckpt"))
    assert len(best) == 1
    best_epoch = load_checkpoint(best[0])["epoch"]
    assert best_epoch < finished  # the case Lightning's own ModelCheckpoint lost: no improvement since
    # the best score recorded in last.ckpt is the best epoch's, as a sweep reads it
    assert checkpoint_state(killed)["best_model_score"] == checkpoint_state(load_checkpoint(best[0]))["current_score"]

    resumed = run([*ARGS, "--run.root", str(root), "--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    logs = sorted((run_dir / "logs").glob("fit-*/metrics.csv"))
    assert len(logs) == 2
    epochs = {int(row["epoch"]) for row in csv.DictReader(logs[-1].open()) if row.get("epoch")}
    assert min(epochs) == finished + 1, epochs  # no finished epoch trained again
    assert max(epochs) == 6
    final = load_checkpoint(last)
    assert final["epoch"] == 6
    assert recorded_score(run_dir, "val/loss") == pytest.approx(float(checkpoint_state(killed)["best_model_score"]))


class LastStepSeen(Callback):
    """Before each batch: the global step last.ckpt holds."""

    def __init__(self, last) -> None:
        self.last, self.steps = last, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.last.is_file():
            self.steps.append((trainer.global_step, torch.load(self.last, weights_only=True)["global_step"]))


def test_last_every_minutes_writes_last_during_an_epoch(tmp_path):
    checkpoint = LastEpochCheckpoint(dirpath=tmp_path, monitor="valid_loss", save_last=True, last_every_minutes=1e-9)
    seen = LastStepSeen(tmp_path / "last.ckpt")
    trainer = Trainer(max_epochs=1, limit_train_batches=5, limit_val_batches=1, callbacks=[seen, checkpoint],
                      logger=False, enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(BoringModel())
    assert seen.steps == [(1, 1), (2, 2), (3, 3), (4, 4)]  # written after every batch, mid-epoch


def test_last_every_minutes_must_be_positive(tmp_path):
    with pytest.raises(ConfigError, match="last_every_minutes must be a positive number"):
        LastEpochCheckpoint(dirpath=tmp_path, last_every_minutes=0)
