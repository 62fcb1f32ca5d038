"""A command's checkpoint: chosen, read once through the gate, handed to Lightning from the same read."""

from __future__ import annotations

import pytest
import torch

from lit_nn.checkpoint_route import CheckpointRoute
from lit_nn.checkpoints import CheckpointError
from lit_nn.errors import ConfigError


def test_the_route_reads_once_and_lightning_gets_that_copy(tmp_path):
    path = tmp_path / "a.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "hyper_parameters": {}}, path)
    route = CheckpointRoute.from_args(["test", "--ckpt_path", str(path)])
    assert route.defaults() == {}  # no class recorded: nothing to rebuild
    held = route.checkpoint
    path.unlink()  # a second read would fail now
    io = route.checkpoint_io()
    assert io.load_checkpoint(str(tmp_path / "." / "a.ckpt")) is held  # the same file, spelt another way
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        io.load_checkpoint(tmp_path / "other.ckpt")  # any other file goes through the gate


def test_best_without_a_configuration_is_refused():
    config = {"ckpt_path": "best", "model": None, "data": None}

    class Config(dict):
        def get(self, key, default=None):
            return super().get(key, default)

    with pytest.raises(ConfigError, match="picks the best checkpoint of the latest run of a configuration"):
        CheckpointRoute("best").choose("test", Config(config), lambda: None)
    assert CheckpointRoute("best").defaults() == {} and CheckpointRoute(None).model_section(None) is None
