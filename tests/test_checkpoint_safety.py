"""Checkpoints load with weights_only=True: pickled code is refused and never runs; corrupt files are named."""

from __future__ import annotations

import os

import pytest
import torch

from tests.conftest import ROOT
from tests.helpers.cli import run


class Payload:
    """Unpickling this runs a shell command: what a malicious checkpoint would carry."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("command", ["test", "fit"])
def test_a_checkpoint_carrying_code_is_refused_and_its_code_never_runs(tmp_path, command):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "epoch": 0, "hyper_parameters": {"x": Payload(marker)}}, evil)
    args = [command, "--ckpt_path", str(evil), "--run.root", str(tmp_path / "runs")]
    if command == "fit":
        args[1:1] = ["-c", str(ROOT / "configs/digits.yaml")]
    result = run(args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.rstrip().splitlines()[-1]
    assert last.startswith(f"lit-nn: error: refusing to load checkpoint {evil}: it carries pickled code (posix.system)")
    assert "nothing in it was run" in last
    assert not marker.exists()
    assert not (tmp_path / "runs").exists()  # refused before a run folder was made


def test_a_truncated_checkpoint_is_named_as_such(tmp_path):
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.ones(1000)}, "epoch": 0}, good)
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(good.read_bytes()[:1500])
    result = run(["test", "--ckpt_path", str(cut)], cwd=tmp_path)
    assert result.returncode == 2
    last = result.stderr.rstrip().splitlines()[-1]
    assert last.startswith(f"lit-nn: error: checkpoint {cut} is corrupt or truncated"), result.stderr[-2000:]
    assert "Use another checkpoint" in last


SLURM_JOB = {"SLURM_NTASKS": "1", "SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "train", "SLURM_PROCID": "0",
             "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NNODES": "1"}  # fmt: skip


def test_slurms_automatic_restore_passes_the_same_gate_whatever_torch_is_told(tmp_path):
    marker = tmp_path / "code-ran"
    run_dir = tmp_path / "runs" / "digits" / "slurm-4242"
    run_dir.mkdir(parents=True)
    hpc = run_dir / "hpc_ckpt_1.ckpt"  # what Lightning restores by itself in a requeued SLURM job
    torch.save({"state_dict": {}, "epoch": 0, "hyper_parameters": {"x": Payload(marker)}}, hpc)
    result = run(["fit", "-c", str(ROOT / "configs/digits.yaml"), "--run.root", str(tmp_path / "runs")],
                 cwd=tmp_path, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1", **SLURM_JOB)  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.rstrip().splitlines()[-1].startswith(f"lit-nn: error: refusing to load checkpoint {hpc}")
    assert not marker.exists() and "Traceback" not in result.stderr


def test_a_class_a_checkpoint_names_is_not_imported(tmp_path):
    marker = tmp_path / "imported"
    (tmp_path / "sneaky.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Model: pass\n")
    alone = tmp_path / "alone.ckpt"
    torch.save({"state_dict": {}, "epoch": 0, "hyper_parameters": {"_class_path": "sneaky.Model"}}, alone)
    result = run(["test", "--ckpt_path", str(alone)], cwd=tmp_path, PYTHONPATH=str(tmp_path))
    assert result.returncode == 2, result.stderr[-3000:]
    assert "names the model class sneaky.Model, which is neither a lit_nn task" in result.stderr.splitlines()[-1]
    nested = tmp_path / "nested.ckpt"
    hparams = {"_class_path": "lit_nn.tasks.MulticlassClassificationTask", "backbone": "cnn",
               "loss_kwargs": {"weight": {"class_path": "sneaky.Model"}}}  # fmt: skip
    torch.save({"state_dict": {}, "epoch": 0, "hyper_parameters": hparams}, nested)
    with_config = run(["test", "-c", str(ROOT / "configs/digits.yaml"), "--ckpt_path", str(nested)],
                      cwd=tmp_path, PYTHONPATH=str(tmp_path))  # fmt: skip
    assert with_config.returncode == 2, with_config.stderr[-3000:]
    assert "names the class sneaky.Model in its hyperparameters" in with_config.stderr.splitlines()[-1]
    assert not marker.exists()
