"""Which checkpoint a command uses: runs matched on what they train, mismatches named on both sides."""

from __future__ import annotations

import json
import time

import pytest

from lit_nn.checkpoint_choice import (
    check_fits,
    checkpoint_identity,
    describe,
    differences,
    find_checkpoint,
    identity,
    rebuild_sections,
    trusted_class_paths,
)
from lit_nn.errors import ConfigError
from lit_nn.runs import RunError

CNN = {"task": "lit_nn.tasks.MulticlassClassificationTask", "backbone": "cnn", "backbone_kwargs": {},
       "activation": "relu", "data": "lit_nn.data.bundled.Digits"}  # fmt: skip
MLP = {**CNN, "backbone": "mlp"}
NAMES = {"lit_nn.data.bundled.Digits": "digits"}


def make_run(root, name, trains, created, files=("best-epoch=001.ckpt", "last.ckpt")):
    run = root / name
    (run / "checkpoints").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"created": created, "trains": trains}))
    for file in files:
        (run / "checkpoints" / file).write_bytes(b"")
    return run


def test_identity_of_a_config_and_of_a_checkpoint_agree():
    model = {"class_path": CNN["task"], "init_args": {"backbone": "cnn", "activation": "relu"}}
    assert identity(model, {"class_path": CNN["data"]}) == CNN
    checkpoint = {"hyper_parameters": {"_class_path": CNN["task"], "backbone": "cnn", "activation": "relu"},
                  "lit_nn": {"data": {"class_path": CNN["data"], "init_args": {}}}}  # fmt: skip
    assert checkpoint_identity(checkpoint) == CNN
    assert describe(CNN, NAMES) == "MulticlassClassificationTask (backbone cnn, activation relu) on digits"


def test_what_one_side_leaves_open_agrees():
    assert differences(CNN, MLP) == ["backbone"]
    assert differences({**CNN, "backbone": None}, MLP) == []
    assert differences({**CNN, "backbone_kwargs": {"channels": [8]}}, CNN) == []  # unstated on one side
    assert differences({**CNN, "backbone_kwargs": {"channels": [8]}}, {**CNN, "backbone_kwargs": {"channels": [4]}})


def test_the_latest_matching_run_is_chosen_by_its_recorded_start(tmp_path):
    now = time.time()
    cnn = make_run(tmp_path, "b-older-cnn", CNN, now - 100)
    make_run(tmp_path, "a-newer-mlp", MLP, now)
    make_run(tmp_path, "c-cnn-without-best", CNN, now - 10, files=("last.ckpt",))
    assert find_checkpoint(tmp_path, "best", CNN, NAMES) == (cnn / "checkpoints" / "best-epoch=001.ckpt", cnn)
    path, run = find_checkpoint(tmp_path, "last", CNN, NAMES)
    assert run.name == "c-cnn-without-best" and path.name == "last.ckpt"


def test_no_matching_run_names_what_the_latest_one_trains(tmp_path):
    make_run(tmp_path, "mlp", MLP, time.time())
    with pytest.raises(RunError, match=r"that trains MulticlassClassificationTask \(backbone cnn, .* the latest run "
                       r"with one, mlp, trains MulticlassClassificationTask \(backbone mlp"):  # fmt: skip
        find_checkpoint(tmp_path, "best", CNN, NAMES)
    with pytest.raises(RunError, match="has a best checkpoint; train one first"):
        find_checkpoint(tmp_path / "empty", "best", CNN, NAMES)


def test_a_checkpoint_that_does_not_fit_is_refused_naming_both_sides():
    checkpoint = {"hyper_parameters": {"_class_path": CNN["task"], "backbone": "cnn", "num_classes": 10},
                  "lit_nn": {"data": {"class_path": CNN["data"]}}}  # fmt: skip
    check_fits("x.ckpt", checkpoint, CNN, {"num_classes": None})  # fits
    with pytest.raises(ConfigError, match=r"x\.ckpt does not fit .*backbone: this command 'mlp', the checkpoint 'cnn'"):
        check_fits("x.ckpt", checkpoint, MLP, {})
    with pytest.raises(ConfigError, match=r"num_classes: this command 3, the checkpoint 10"):
        check_fits("x.ckpt", checkpoint, CNN, {"num_classes": 3})


def test_a_checkpoint_alone_imports_only_known_classes():
    trusted = trusted_class_paths(NAMES)
    checkpoint = {"hyper_parameters": {"_class_path": CNN["task"], "lr": 0.1, "_instantiator": "x"},
                  "lit_nn": {"data": {"class_path": CNN["data"], "init_args": {"batch_size": 8}}}}  # fmt: skip
    sections = rebuild_sections("x.ckpt", checkpoint, trusted)
    assert sections == {"model": {"class_path": CNN["task"], "init_args": {"lr": 0.1}},
                        "data": {"class_path": CNN["data"], "init_args": {"batch_size": 8}}}  # fmt: skip
    evil = {"hyper_parameters": {"_class_path": "os.system"}, "lit_nn": {}}
    with pytest.raises(ConfigError, match="names the model class os.system, which is neither a lit_nn task"):
        rebuild_sections("x.ckpt", evil, trusted)
