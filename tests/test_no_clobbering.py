"""Two runs started at the same moment never share a folder; neither touches the other's checkpoints."""

from __future__ import annotations

import json

from lit_nn.cli import main
from tests.helpers.cli import run, start
from tests.helpers.files import snapshot

ARGS = ["fit", "-c", "configs/digits.yaml", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
        "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false"]  # fmt: skip


def test_two_runs_started_together_get_their_own_folders(tmp_path):
    root = tmp_path / "runs"
    processes = [start([*ARGS, "--run.root", str(root)], tmp_path / f"{i}.log") for i in range(2)]
    logs = [tmp_path / f"{i}.log" for i in range(2)]
    assert [p.wait(timeout=300) for p in processes] == [0, 0], [log.read_text()[-2000:] for log in logs]
    runs = sorted((root / "digits").iterdir())
    assert len(runs) == 2
    ids = {json.loads((r / "run.json").read_text())["wandb_id"] for r in runs}
    assert len(ids) == 2
    for run_dir in runs:
        checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
        assert checkpoints == ["best-epoch=000.ckpt", "last.ckpt"]
        assert (run_dir / "config.yaml").is_file()


def test_a_fit_that_has_nothing_to_train_changes_nothing(tmp_path):
    root = tmp_path / "runs"
    main([*ARGS, "--run.root", str(root)])  # the finished run, made in process: the second fit is the one tested
    before = snapshot(root)
    again = run([*ARGS, "--run.root", str(root), "--ckpt_path", "last"])
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing to train: the checkpoint has trained 1 epochs and max_epochs is 1" in again.stderr
    assert snapshot(root) == before  # no plots redrawn, no log folder, no config written
