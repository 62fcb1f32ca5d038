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
