"""Weights & Biases: real offline runs, read back from their files; online/offline/CSV choice."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lit_nn.wandb_runs import has_credentials, wandb_mode
from tests.conftest import ROOT, plugin_pythonpath
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
    assert result.stdout.rstrip().splitlines()[-1] == (
        f"W&B run {wandb_id} is offline in {run_dir / 'wandb'}; upload it: wandb sync {run_dir / 'wandb'}/offline-run-*"
    )
    assert "wandb:" not in result.stdout + result.stderr  # W&B's own lines (and its anonymous-setting warning)

    saved = read_offline_run(log)
    assert saved.run_id == wandb_id and saved.project == "lit_nn" and saved.name == f"breast_cancer/{run_dir.name}"
    # the configuration once, nested, as `lit-nn fit -c` reads it; no flat copy of the hyperparameters
    assert saved.config["model"]["class_path"] == "lit_nn.tasks.BinaryClassificationTask"
    assert "lr" not in saved.config and "lit_nn_config" not in saved.config
    assert saved.config["lit_nn"]["run_folder"] == str(run_dir)
    versions = saved.config["lit_nn"]["versions"]
    assert {"lit_nn", "torch", "lightning"} <= set(versions) and "lit_nn.builtins.losses" in versions["plugins"]
    epochs = [row for row in saved.history if "val/loss" in row]
    assert len(epochs) == 3 and all({"val/acc", "val/auroc", "epoch"} <= set(row) for row in epochs)
    assert any("train/loss_epoch" in row for row in saved.history)
    logged = {k for row in saved.history for k in row}
    assert {"plots/val-confusion_matrix", "plots/val-roc", "plots/val-reliability", "plots/curves",
            "plots/activation_stats"} <= logged  # fmt: skip
    assert {"stats/hidden1.tanh/grad_norm", "stats/hidden1.tanh/saturated_fraction"} <= logged
    assert list(log.parent.glob("files/media/images/plots/*.png"))


def test_resume_test_and_sync_make_one_wandb_run_with_continuing_steps_and_checkpoint_artifacts(tmp_path):
    """fit, a resumed fit and a test on the run's checkpoint: pieces of one W&B run, read back from their files."""
    # the plugins are pinned, so the tags do not depend on what else is installed: a plugin on the path
    # (twin) that is not loaded is no tag, the one loaded (good) is
    root = tmp_path / "runs"
    env = offline_env(tmp_path, PYTHONPATH=plugin_pythonpath("good", "twin"))
    plugins = {"LIT_NN_DISABLE_PLUGIN_AUTOLOAD": "1", "LIT_NN_PLUGINS": "good"}
    base = ["-c", "configs/breast_cancer.yaml", "--run.root", str(root), "--trainer.enable_progress_bar", "false"]
    for args in (["fit", *base, "--trainer.max_epochs", "1"], ["fit", *base, "--trainer.max_epochs", "2",
                 "--ckpt_path", "last"], ["test", *base, "--ckpt_path", "best"]):  # fmt: skip
        result = run(args, environ=env, **plugins)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "wandb:" not in result.stdout + result.stderr
    (run_dir,) = [p.parent for p in root.glob("breast_cancer/*/run.json")]
    first, resumed, tested = (read_offline_run(path) for path in sorted(wandb_runs(run_dir), key=_started))
    assert {first.run_id, resumed.run_id, tested.run_id} == {json.loads((run_dir / "run.json").read_text())["wandb_id"]}
    assert (first.resumed, resumed.resumed, tested.resumed) == (False, True, True)
    assert (first.job_type, resumed.job_type, tested.job_type) == ("fit", "fit", "test")
    for piece in (first, resumed, tested):
        assert piece.group == "breast_cancer"
        assert piece.tags == ["BinaryClassificationTask", "mlp", "breast_cancer", "good"]
    steps = first.steps + resumed.steps + tested.steps
    assert steps == sorted(steps) and max(first.steps) < min(resumed.steps) < max(resumed.steps) < min(tested.steps)
    assert any("test/acc" in row for row in tested.history)
    assert "model" in first.config and "model" not in resumed.config  # the configuration once
    for piece in (first, resumed):  # best and last checkpoints, as versions of one model artifact
        names = {name for name, kind, _ in piece.artifacts if kind == "model"}
        assert names == {f"model-{first.run_id}"} and len(piece.artifacts) == 2
        assert ["best" in aliases for *_, aliases in piece.artifacts] == [True, False]
        assert all("latest" in aliases for *_, aliases in piece.artifacts)
    assert not tested.artifacts

    # the one printed command uploads every piece
    command = result.stdout.rstrip().splitlines()[-1].split("upload it: ", 1)[1].split()
    assert command[:2] == ["wandb", "sync"]
    pieces = sorted(str(p) for p in (run_dir / "wandb").glob(command[2].rsplit("/", 1)[1]))
    dry = subprocess.run([sys.executable, "-m", "wandb", "sync", "--dry-run", *pieces], capture_output=True,
                         text=True, env=env, cwd=tmp_path)  # fmt: skip
    assert dry.returncode == 0 and f"Would sync {len(pieces)} run(s)" in dry.stdout + dry.stderr and len(pieces) == 3

    # the run's checkpoint given alone (no config, so no logger asked for): still the run's own W&B run
    (best,) = run_dir.glob("checkpoints/best-*.ckpt")
    alone = run(["test", "--ckpt_path", str(best), "--trainer.enable_progress_bar", "false"], environ=env, **plugins)
    assert alone.returncode == 0, alone.stderr[-2000:]
    *_, latest = pieces_now = sorted(wandb_runs(run_dir), key=_started)
    assert len(pieces_now) == 4  # a fourth piece of the same run, not a CSV log
    assert not (run_dir / "logs").exists()  # only W&B logged: no empty logs/<command>-<time>/ left
    piece = read_offline_run(latest)
    assert piece.run_id == first.run_id and piece.job_type == "test" and any("test/acc" in r for r in piece.history)


def test_a_fit_with_test_true_continues_its_wandb_run_with_the_test(tmp_path):
    """One process, two pieces of one W&B run, as ``fit`` then ``test --ckpt_path best`` make."""
    root = tmp_path / "runs"
    result = run(["fit", "-c", "configs/breast_cancer.yaml", "--trainer.max_epochs", "2",
                  "--trainer.enable_progress_bar", "false", "--run.root", str(root), "--test", "true"],
                 environ=offline_env(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = [p.parent for p in root.glob("breast_cancer/*/run.json")]
    fitted, tested = (read_offline_run(path) for path in sorted(wandb_runs(run_dir), key=_started))
    assert fitted.run_id == tested.run_id == json.loads((run_dir / "run.json").read_text())["wandb_id"]
    assert (fitted.job_type, tested.job_type) == ("fit", "test") and (fitted.resumed, tested.resumed) == (False, True)
    assert max(fitted.steps) < min(tested.steps)
    assert any("test/acc" in row for row in tested.history) and not any("test/acc" in row for row in fitted.history)
    assert result.stdout.rstrip().splitlines()[-1].endswith(f"wandb sync {run_dir / 'wandb'}/offline-run-*")


def _started(path):
    return read_offline_run(path).steps[0]


def test_the_working_folders_git_commit_is_recorded_and_checkpoints_can_stay_out(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (project / "notes.txt").write_text("one\n")
    subprocess.run([*git, "add", "notes.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    (project / "notes.txt").write_text("changed\n")
    result = run(["fit", "-c", str(ROOT / "configs/breast_cancer.yaml"), "--trainer.max_epochs", "1",
                  "--run.log_checkpoints", "false", "--trainer.enable_progress_bar", "false"],
                 environ=offline_env(tmp_path), cwd=project)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = [p.parent for p in project.glob("runs/breast_cancer/*/run.json")]
    (saved,) = [read_offline_run(path) for path in wandb_runs(run_dir)]
    assert saved.git_commit == commit
    assert saved.config["lit_nn"]["git"] == {"commit": commit, "dirty": True, "root": str(project)}
    assert saved.artifacts == []


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


def test_an_online_run_without_a_reachable_server_is_one_line_and_exit_2(tmp_path):
    environ = offline_env(
        tmp_path,
        WANDB_MODE="online",
        WANDB_API_KEY="0" * 40,
        WANDB_BASE_URL="http://127.0.0.1:9",
        WANDB_INIT_TIMEOUT="5",
    )  # a closed loopback port
    args = ["fit", "-c", "breast_cancer", "--trainer.max_epochs", "1", "--run.root", str(tmp_path / "runs")]
    result = run([*args, "--trainer.enable_progress_bar", "false"], environ=environ)
    assert result.returncode == 2, result.stderr[-3000:]
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("lit-nn: error:")]
    assert "W&B could not start the online run" in line and "WANDB_MODE=offline" in line, line
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "runs").glob("*/*/run.json"))  # the failed fit left no run folder behind
