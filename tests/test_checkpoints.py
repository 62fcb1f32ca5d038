"""The checkpoint gate: one read per command, whichever path found the file; atomic writes."""

from __future__ import annotations

import pytest
import torch

from lit_nn.checkpoint_io import GatedCheckpointIO
from lit_nn.checkpoints import CheckpointError, load_checkpoint
from lit_nn.cli import main
from tests.helpers.cli import fit

QUICK = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1"]


def test_a_command_reads_its_checkpoint_once(tmp_path, monkeypatch):
    fit("configs/breast_cancer.yaml", tmp_path, *QUICK)
    (best,) = tmp_path.glob("breast_cancer/*/checkpoints/best-*.ckpt")
    reads = []
    real_load = torch.load

    def counting_load(f, *args, **kwargs):
        reads.append(str(f))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    main(["test", "--ckpt_path", str(best), "--trainer.enable_progress_bar", "false"])
    assert reads == [str(best)]  # chosen, checked, rebuilt from and restored by Lightning: one read


def test_lightning_reads_through_the_gate(tmp_path):
    unsafe = tmp_path / "unsafe.ckpt"
    torch.save({"state_dict": {}, "extra": torch.nn.Linear(1, 1)}, unsafe)  # a pickled module
    with pytest.raises(CheckpointError, match="it carries pickled code"):
        GatedCheckpointIO().load_checkpoint(unsafe, weights_only=False)  # whatever Lightning asks for


def test_a_checkpoint_is_written_beside_then_renamed(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    GatedCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(3)}, "epoch": 1}, path)
    assert torch.equal(load_checkpoint(path)["state_dict"]["w"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary left behind


def test_a_failed_write_leaves_the_previous_file(tmp_path):
    path = tmp_path / "last.ckpt"
    GatedCheckpointIO().save_checkpoint({"state_dict": {}, "epoch": 1}, path)
    before = path.read_bytes()
    with pytest.raises(Exception, match="pickle"):
        GatedCheckpointIO().save_checkpoint({"state_dict": {}, "bad": lambda: None}, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
