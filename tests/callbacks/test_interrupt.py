"""SIGTERM and SIGUSR1 save a checkpoint before the process exits; --ckpt_path last carries on."""

from __future__ import annotations

import signal
import time

import pytest

from lit_nn.callbacks.interrupt import INTERRUPTED_KEY
from lit_nn.checkpoints import load_checkpoint
from tests.helpers.cli import run, start

# One sample per batch makes an epoch long enough (over 500 steps) to be interrupted in the middle.
ARGS = ["fit", "-c", "configs/breast_cancer.yaml", "--data.batch_size", "1", "--trainer.max_epochs", "2",
        "--trainer.callbacks", "[]", "--trainer.enable_progress_bar", "false", "--run.name", "run"]  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1], ids=["SIGTERM", "SIGUSR1"])
def test_a_signal_saves_last_and_the_next_fit_carries_on(tmp_path, signum):
    root = tmp_path / "runs"
    log = tmp_path / "fit.log"
    process = start([*ARGS, "--run.root", str(root)], log)
    checkpoints = root / "breast_cancer" / "run" / "checkpoints"
    deadline = time.monotonic() + 120
    while not list(checkpoints.glob("best-*.ckpt")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)  # the first epoch's checkpoint: the second epoch starts
    time.sleep(0.3)
    process.send_signal(signum)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM, log.read_text()[-3000:]

    name = signal.Signals(signum).name
    output = log.read_text()
    assert f"lit-nn: {name} received: saved {checkpoints / 'last.ckpt'}" in output
    assert "Traceback" not in output
    saved = load_checkpoint(checkpoints / "last.ckpt")
    stop = saved[INTERRUPTED_KEY]
    assert stop["signal"] == name
    assert stop["epoch"] == saved["epoch"] == 1
    assert 0 < stop["batches_done"] < stop["batches_per_epoch"]
    assert saved["global_step"] == stop["batches_per_epoch"] + stop["batches_done"]
    if signum != signal.SIGTERM:
        return  # from here on the path is the same for both signals: resumed once, for SIGTERM

    resumed = run([*ARGS, "--run.root", str(root), "--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "saved on " + name + " in the middle of epoch 1" in resumed.stderr  # said once, plainly
    assert "You're resuming from a checkpoint that ended before the epoch ended" not in resumed.stderr
    final = load_checkpoint(checkpoints / "last.ckpt")
    assert final["epoch"] == 1
    assert final["global_step"] == 2 * stop["batches_per_epoch"]
    assert INTERRUPTED_KEY not in final


@pytest.mark.parametrize("gap", [0.0, 0.01, 0.2, 0.8])
def test_ctrl_c_twice_still_saves_and_says_so(tmp_path, gap):
    root = tmp_path / "runs"
    log = tmp_path / "fit.log"
    process = start([*ARGS, "--run.root", str(root)], log)
    checkpoints = root / "breast_cancer" / "run" / "checkpoints"
    deadline = time.monotonic() + 120
    while not (checkpoints / "last.ckpt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)  # the first epoch's checkpoint (written whole, then renamed into place)
    first = load_checkpoint(checkpoints / "last.ckpt")["global_step"]
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    time.sleep(gap)
    process.send_signal(signal.SIGINT)  # a second Ctrl-C, while training stops or the checkpoint is written
    process.wait(timeout=120)
    output = log.read_text()
    assert "lit-nn: Ctrl-C received: saved" in output, output[-3000:]
    assert "Traceback" not in output
    saved = load_checkpoint(checkpoints / "last.ckpt")
    assert saved["global_step"] > first and saved[INTERRUPTED_KEY]["signal"] == "Ctrl-C"
