"""Weights & Biases: real offline runs, read back from their files; online/offline/CSV choice."""

from __future__ import annotations

import json
import os

import pytest

from lit_nn.wandb_runs import has_credentials, wandb_mode
from tests.helpers.cli import fit, run
from tests.helpers.wandb_files import read_offline_run


def offline_env(tmp_path, **extra):
    """No key, no netrc (HOME is empty), no WANDB_MODE: lit_nn must choose offline by itself."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    return {**environ, "HOME": str(home), **extra}


def wandb_runs(run_dir):
    return sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb"))


def test_offline_run_without_credentials_holds_config_versions_metrics_and_plots(tmp_path):
    root = tmp_path / "runs"
    result = run(["fit", "-c", "configs/breast_cancer.yaml", "--trainer.max_epochs", "3", "--trainer.strategy", "ddp",
                  "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.enable_progress_bar", "false",
                  "--activation_stats.every_n_steps", "2", "--run.root", str(root)],
                 environ=offline_env(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = [p.parent for p in root.glob("breast_cancer/*/run.json")]
    (log,) = wandb_runs(run_dir)  # only rank 0 created a run
    wandb_id = json.loads((run_dir / "run.json").read_text())["wandb_id"]
    assert f"W&B run {wandb_id} (offline)" in result.stdout and f"Upload it: wandb sync {log.parent}" in result.stdout

    saved = read_offline_run(log)
    assert saved.run_id == wandb_id and saved.project == "lit_nn" and saved.name == f"breast_cancer/{run_dir.name}"
    assert saved.config["lit_nn_config"]["model"]["class_path"] == "lit_nn.tasks.BinaryClassificationTask"
    assert saved.config["run_folder"] == str(run_dir)
    versions = saved.config["versions"]
    assert {"lit_nn", "torch", "lightning"} <= set(versions) and "lit_nn.builtins.losses" in versions["plugins"]
    epochs = [row for row in saved.history if "val/loss" in row]
    assert len(epochs) == 3 and all({"val/acc", "val/auroc", "epoch"} <= set(row) for row in epochs)
    assert any("train/loss_epoch" in row for row in saved.history)
    logged = {k for row in saved.history for k in row}
    assert {"plots/val-confusion_matrix", "plots/val-roc", "plots/curves", "plots/activation_stats"} <= logged
    assert {"stats/hidden1.tanh/grad_norm", "stats/hidden1.tanh/saturated_fraction"} <= logged
    assert list(log.parent.glob("files/media/images/plots/*.png"))


def test_resume_continues_the_same_wandb_run(tmp_path):
    root = tmp_path / "runs"
    env = offline_env(tmp_path)
    first = run(
        ["fit", "-c", "configs/breast_cancer.yaml", "--trainer.max_epochs", "1", "--run.root", str(root)], environ=env
    )
    assert first.returncode == 0, first.stderr[-2000:]
    second = run(["fit", "-c", "configs/breast_cancer.yaml", "--trainer.max_epochs", "2", "--ckpt_path", "last",
                  "--run.root", str(root)], environ=env)  # fmt: skip
    assert second.returncode == 0, second.stderr[-2000:]
    (run_dir,) = [p.parent for p in root.glob("breast_cancer/*/run.json")]
    logs = wandb_runs(run_dir)
    assert len(logs) == 2
    ids = {read_offline_run(path).run_id for path in logs}
    assert ids == {json.loads((run_dir / "run.json").read_text())["wandb_id"]}


def test_disabled_falls_back_to_csv(tmp_path):
    fit("configs/breast_cancer.yaml", tmp_path, "--trainer.max_epochs", "1")  # WANDB_MODE=disabled in tests
    (run_dir,) = [p.parent for p in tmp_path.glob("breast_cancer/*/run.json")]
    assert list(run_dir.glob("logs/fit-*/metrics.csv")) and not (run_dir / "wandb").exists()


def test_csv_preset_replaces_wandb(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    fit("configs/breast_cancer.yaml", tmp_path, "-c", "configs/logger/csv.yaml", "--trainer.max_epochs", "1")
    (run_dir,) = [p.parent for p in tmp_path.glob("breast_cancer/*/run.json")]
    assert list(run_dir.glob("logs/fit-*/metrics.csv")) and not (run_dir / "wandb").exists()


@pytest.mark.parametrize(
    ("environ", "netrc_host", "mode"),
    [
        ({}, None, "offline"),
        ({"WANDB_API_KEY": "x" * 40}, None, "online"),
        ({}, "api.wandb.ai", "online"),
        ({}, "example.org", "offline"),
        ({"WANDB_MODE": "disabled", "WANDB_API_KEY": "x" * 40}, None, "disabled"),
        ({"WANDB_MODE": "dryrun"}, "api.wandb.ai", "offline"),
        ({"WANDB_MODE": "offline", "WANDB_API_KEY": "x" * 40}, None, "offline"),
    ],
)
def test_mode_follows_credentials_unless_told(tmp_path, environ, netrc_host, mode):
    environ = {"HOME": str(tmp_path), **environ}
    if netrc_host:
        (tmp_path / ".netrc").write_text(f"machine {netrc_host}\n  login user\n  password {'k' * 40}\n")
        (tmp_path / ".netrc").chmod(0o600)
    assert wandb_mode(environ) == mode
    assert has_credentials(environ) == ("WANDB_API_KEY" in environ or netrc_host == "api.wandb.ai")
