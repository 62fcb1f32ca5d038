"""``lit-nn fit --test true``: the test command on the fit's best checkpoint, in the same process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_nn.checkpoint_route import CheckpointRoute
from lit_nn.cli import main
from lit_nn.cli.fit_test import PlannedTest
from tests.helpers.shapes import make_shapes_folder

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
BREAST_CANCER = ["-c", "configs/breast_cancer.yaml", "--trainer.max_epochs", "2", *QUIET]


@pytest.fixture(autouse=True)
def csv_logs(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")  # W&B's continued run: tests/test_wandb.py


def metrics_files(run_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(run_dir.glob("test-*-metrics.json"))]


def test_a_config_with_test_true_writes_what_lit_nn_test_best_writes(tmp_path, capsys):
    """The config key; then ``lit-nn test --ckpt_path best`` on the same run, with the same config, agrees exactly."""
    (tmp_path / "test.yaml").write_text("test: true\n")
    config = [*BREAST_CANCER, "-c", str(tmp_path / "test.yaml"), "--run.root", str(tmp_path / "runs")]
    main(["fit", *config])
    out = capsys.readouterr().out
    (run_dir,) = (tmp_path / "runs" / "breast_cancer").iterdir()
    (best,) = run_dir.glob("checkpoints/best-*.ckpt")
    assert f"Testing it in this process (--test true), as lit-nn test --ckpt_path {best} would" in out
    assert "Test it:" not in out  # not told to run the test that has just run
    assert out.index("Testing it") < out.index("test/acc")
    (tested,) = metrics_files(run_dir)
    assert tested["checkpoint"] == best.name and set(tested["metrics"]) >= {"test/acc", "test/auroc", "test/loss"}
    (session,) = [p.name for p in run_dir.glob("plots/test-*")]  # the test's own session: plots and logs
    assert {p.name for p in (run_dir / "plots" / session).iterdir()} >= {"test-confusion_matrix.png", "test-roc.png"}
    assert (run_dir / "logs" / session / "metrics.csv").is_file()
    assert (run_dir / f"{session}-metrics.json").is_file() and (run_dir / f"{session}.yaml").is_file()

    main(["test", *config, "--ckpt_path", "best"])  # the same config, test: true and all, serves the test command
    first, second = metrics_files(run_dir)
    assert first == second


def test_without_a_test_split_one_line_says_so_and_the_fit_succeeds(tmp_path, capsys):
    images = make_shapes_folder(tmp_path / "images", per_class=6, size=40)  # train/ and val/ only
    main(["fit", "--model", "BinaryClassificationTask", "--model.backbone", "cnn", "--model.backbone_kwargs",
          "{channels: [8]}", "--data", "image_folder", "--data.root", str(images), "--data.image_size", "16",
          "--data.num_workers", "0", "--trainer.max_epochs", "1", "--run.root", str(tmp_path / "runs"), *QUIET,
          "--test", "true"])  # fmt: skip
    out = capsys.readouterr().out
    (said,) = [line for line in out.splitlines() if "test" in line.lower() and "no test/ folder" in line]
    (best,) = (tmp_path / "runs").glob("image_folder/*/checkpoints/best-*.ckpt")
    assert said.startswith(f"Not tested (--test true): {images} has no test/ folder, so there is no test split")
    assert said.endswith(f"; then: lit-nn test --ckpt_path {best}")
    run_dir = best.parent.parent
    assert not list(run_dir.glob("test-*")) and not list(run_dir.glob("*/test-*"))  # nothing reserved or written


def test_a_fit_that_saves_no_checkpoint_says_it_is_not_tested(tmp_path, capsys):
    main(["fit", *BREAST_CANCER, "--trainer.fast_dev_run", "true", "--run.root", str(tmp_path / "runs"),
          "--test", "true"])  # fmt: skip
    out = capsys.readouterr().out
    assert "Not tested (--test true): the fit saved no checkpoint" in out and "test/acc" not in out


def test_the_test_takes_the_best_checkpoint_over_a_resumed_fits_own():
    planned = PlannedTest("runs/x/1/checkpoints/best-epoch=003.ckpt", Path("runs/x/1"), "test-20261206-120000")
    args = planned.arguments(["fit", "-c", "digits", "--ckpt_path", "last", "--test", "true"])
    assert args[:3] == ["test", "-c", "digits"]
    assert CheckpointRoute.from_args(args).given == planned.checkpoint


def test_help_says_what_test_does(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["fit", "--help"])
    assert exited.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--test {true,false}" in help_text and "then test the best checkpoint in the same process" in help_text
