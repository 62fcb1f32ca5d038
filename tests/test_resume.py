"""Exact resume: a run killed with SIGKILL and resumed with --ckpt_path last ends where an
uninterrupted run ends, bit for bit (the idea of Lightning's test_restart_parity)."""

from __future__ import annotations

import csv
import signal
import time
from pathlib import Path

import torch

from lit_nn.checkpoints import load_checkpoint
from tests.helpers.cli import run, start

# digits with its CNN, dropout, random shifts and one-cycle schedule: every source of randomness
# a resume has to reproduce. Short epochs keep the test quick.
ARGS = ["fit", "-c", "configs/digits.yaml", "--trainer.max_epochs", "6", "--trainer.limit_train_batches", "6",
        "--trainer.deterministic", "true", "--trainer.enable_progress_bar", "false", "--run.name", "run"]  # fmt: skip


def wait_for_epoch(checkpoint: Path, epoch: int, process, timeout: float = 120) -> None:
    """Poll until ``checkpoint`` was written at the end of ``epoch`` (or later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if checkpoint.is_file() and torch.load(checkpoint, weights_only=True)["epoch"] >= epoch:
                return
        except Exception:  # noqa: S110 (being written right now: look again)
            pass
        time.sleep(0.02)
    raise AssertionError(f"{checkpoint} never reached epoch {epoch} (process exit: {process.poll()})")


def last_validation(run_dir: Path) -> dict[str, str]:
    """The last row with validation metrics in the run's newest CSV log."""
    logs = sorted((run_dir / "logs").glob("fit-*/metrics.csv"))
    rows = [row for row in csv.DictReader(logs[-1].open()) if row.get("val/loss")]
    return {key: value for key, value in rows[-1].items() if key.startswith("val/")}


def test_killed_and_resumed_run_matches_the_uninterrupted_one_bit_for_bit(tmp_path):
    whole_root, broken_root = tmp_path / "whole", tmp_path / "broken"
    whole = start([*ARGS, "--run.root", str(whole_root)], tmp_path / "whole.log")
    broken = start([*ARGS, "--run.root", str(broken_root)], tmp_path / "broken.log")
    last = broken_root / "digits" / "run" / "checkpoints" / "last.ckpt"
    wait_for_epoch(last, 2, broken)
    broken.send_signal(signal.SIGKILL)
    assert broken.wait(timeout=60) == -signal.SIGKILL, "the run ended before it could be killed"
    killed_at = torch.load(last, weights_only=True)["epoch"]
    assert 2 <= killed_at < 5

    resumed = run([*ARGS, "--run.root", str(broken_root), "--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert whole.wait(timeout=300) == 0, (tmp_path / "whole.log").read_text()[-3000:]

    reference = load_checkpoint(whole_root / "digits" / "run" / "checkpoints" / "last.ckpt")
    result = load_checkpoint(last)
    assert (result["epoch"], result["global_step"]) == (reference["epoch"], reference["global_step"]) == (5, 36)
    assert reference["state_dict"].keys() == result["state_dict"].keys()
    for name, tensor in reference["state_dict"].items():
        assert torch.equal(tensor, result["state_dict"][name]), name
    moments = [s["exp_avg"] for s in reference["optimizer_states"][0]["state"].values()]
    resumed_moments = [s["exp_avg"] for s in result["optimizer_states"][0]["state"].values()]
    assert len(moments) == len(resumed_moments) > 0
    assert all(torch.equal(a, b) for a, b in zip(moments, resumed_moments, strict=True))
    assert last_validation(broken_root / "digits" / "run") == last_validation(whole_root / "digits" / "run")
    assert sorted(p.name for p in (broken_root / "digits").iterdir()) == ["run"]  # one run folder, resumed in place
