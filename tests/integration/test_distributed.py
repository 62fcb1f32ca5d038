"""DDP, torchrun and SLURM on the CPU: real processes, gloo, loopback only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lit_nn.console import process_rank
from lit_nn.runs import RunError, launched_run_name
from tests.conftest import ROOT
from tests.helpers.cli import fit, lit_nn_command, run
from tests.helpers.run_if import gpu, gpus

SHORT = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "6", "--trainer.limit_val_batches", "2",
         "--trainer.enable_progress_bar", "false"]  # fmt: skip
CPU_DDP = ["--trainer.strategy", "ddp", "--trainer.accelerator", "cpu"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LIT_NN_", "SLURM_", "MASTER_", "WORLD_"))}
    environ.update(extra)
    return environ


def only_run(root: Path, experiment: str) -> Path:
    (run_dir,) = [p.parent for p in (root / experiment).glob("*/run.json")]
    return run_dir


def test_ddp_fit_with_test_true_tests_once_on_both_ranks_as_lit_nn_test_does(tmp_path):
    root = str(tmp_path / "runs")
    common = ["-c", "configs/breast_cancer.yaml", *CPU_DDP, "--trainer.devices", "2", "--run.root", root,
              "--trainer.enable_progress_bar", "false"]  # fmt: skip
    fitted = run(["fit", *common, "--trainer.max_epochs", "2", "--test", "true", "--conformal", "0.1"],
                 WANDB_MODE="disabled")  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr[-3000:]
    assert fitted.stdout.count("Testing it in this process (--test true)") == 1
    assert fitted.stdout.count("Calibrated best-") == 1  # rank 0 calibrates, rank 1 waits for it
    assert fitted.stdout.count("test/acc") == 1  # one results table: rank 0's
    run_dir = only_run(tmp_path / "runs", "breast_cancer")  # one run folder for both ranks
    (best,) = run_dir.glob("checkpoints/best-*.ckpt")
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [best.name, "last.ckpt"]  # saved once
    (report,) = run_dir.glob("test-*-metrics.json")
    saved = json.loads(report.read_text())
    assert saved["checkpoint"] == best.name
    assert len(saved["per_rank"]) == 2 and saved["per_rank"][0] == saved["per_rank"][1] == saved["metrics"]
    assert {"test/coverage", "test/set_size", "test/ece"} <= set(saved["metrics"])  # both ranks tested the sets
    assert saved["metrics"]["test/acc"] > 0.8  # it learnt (the majority class is 0.63); the point is that ranks agree
    session = report.name.removesuffix("-metrics.json")  # every rank tested in the session rank 0 reserved
    (fit_log, *test_logs) = sorted(p.name for p in (run_dir / "logs").iterdir())  # rank 0 alone logs, once each
    assert fit_log.startswith("fit-") and test_logs == [session]
    assert sorted(p.name for p in (run_dir / "plots").iterdir() if p.name.startswith("test-")) == [session]

    tested = run(["test", *common, "--ckpt_path", "best"], WANDB_MODE="disabled")
    assert tested.returncode == 0, tested.stderr[-3000:]
    first, second = (json.loads(p.read_text()) for p in sorted(run_dir.glob("test-*-metrics.json")))
    assert len(second["per_rank"]) == 2 and second["per_rank"][0] == second["per_rank"][1] == second["metrics"]
    assert first == second  # lit-nn test on both ranks gives what fit --test true gave


def test_torchrun_two_nodes_on_loopback(tmp_path):
    env = clean_env(
        NNODES="2", GPUS_PER_NODE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), JOB_ID="pytest",
        ACCELERATOR="cpu", TORCHRUN=str(Path(sys.executable).with_name("torchrun")),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )  # fmt: skip
    command = ["bash", str(ROOT / "docker/torchrun/train.sh"), "-c", "configs/breast_cancer.yaml", *SHORT,
               "--run.root", str(tmp_path / "runs")]  # fmt: skip
    nodes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]  # fmt: skip
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    run_dir = only_run(tmp_path / "runs", "breast_cancer")
    assert run_dir.name == "torchrun-pytest"
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    assert "MEMBER: 2/2" in "".join(outputs)


def test_two_processes_with_srun_environment_form_one_job(tmp_path):
    port = str(free_port())
    processes = []
    for rank in range(2):
        env = clean_env(
            SLURM_NTASKS="2", SLURM_NTASKS_PER_NODE="2", SLURM_NNODES="1", SLURM_PROCID=str(rank),
            SLURM_LOCALID=str(rank), SLURM_NODEID="0", SLURM_JOB_ID="4242", SLURM_JOB_NAME="lit-nn",
            SLURM_NODELIST="127.0.0.1", MASTER_PORT=port,
        )  # fmt: skip
        command = [*lit_nn_command(), "fit", "-c", "configs/breast_cancer.yaml", *CPU_DDP, "--trainer.devices", "2",
                   *SHORT, "--run.root", str(tmp_path / "runs")]  # fmt: skip
        processes.append(
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    run_dir = only_run(tmp_path / "runs", "breast_cancer")
    assert run_dir.name == "slurm-4242"
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in outputs[1]
    assert len(list((run_dir / "logs").iterdir())) == 1  # rank 0 alone logs


@pytest.mark.parametrize(
    ("environ", "name", "rank"),
    [
        ({}, None, 0),
        ({"SLURM_NTASKS": "4", "SLURM_JOB_ID": "77", "SLURM_PROCID": "3"}, "slurm-77", 3),
        ({"SLURM_NTASKS": "1", "SLURM_JOB_ID": "78", "SLURM_JOB_NAME": "interactive"}, None, 0),
        ({"TORCHELASTIC_RUN_ID": "exp", "WORLD_SIZE": "2", "RANK": "1"}, "torchrun-exp", 1),
    ],
)
def test_launched_run_names(environ, name, rank):
    assert launched_run_name(environ) == name and process_rank(environ) == rank


def test_torchrun_without_a_rendezvous_id_is_refused():
    with pytest.raises(RunError, match="pass --rdzv-id JOB_ID to torchrun"):
        launched_run_name({"TORCHELASTIC_RUN_ID": "none", "WORLD_SIZE": "2"})


def test_bf16_mixed_trains_on_the_cpu(tmp_path):
    fit("configs/breast_cancer.yaml", tmp_path, "-c", "configs/trainer/bf16-mixed.yaml", "--trainer.max_epochs", "5")
    run_dir = only_run(tmp_path, "breast_cancer")
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["trainer"]["precision"] == "bf16-mixed"
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point())
    assert state["callbacks"]  # checkpointing ran


@gpu
def test_16_mixed_on_a_gpu(tmp_path):
    fit("configs/digits.yaml", tmp_path, "-c", "configs/trainer/gpu.yaml", "-c", "configs/trainer/16-mixed.yaml",
        "--trainer.max_epochs", "3")  # fmt: skip
    assert (only_run(tmp_path, "digits") / "checkpoints" / "last.ckpt").exists()


@gpus(2)
def test_ddp_over_gpus(tmp_path):
    result = run(["fit", "-c", "configs/digits.yaml", "-c", "configs/trainer/ddp.yaml", "--trainer.accelerator", "gpu",
                  *SHORT, "--run.root", str(tmp_path / "runs")])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
