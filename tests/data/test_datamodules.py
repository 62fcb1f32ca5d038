"""Every registered datamodule: sizes known at construction, seeded disjoint splits, real batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lit_nn.data.arrays import TensorBatchDataset
from lit_nn.data.base import DataError
from lit_nn.data.bundled import RandomShift
from lit_nn.data.splits import split_indices
from lit_nn.errors import InvalidArgumentsError
from lit_nn.registry import build_registry
from lit_nn.tasks.registered import size_arguments
from tests.helpers.data import datamodule_kwargs
from tests.helpers.training import task_for, trainer

REGISTRY = build_registry()
BUILTIN = [e.name for e in REGISTRY.entries("datamodules") if e.plugin.builtin]


def make(name, tmp_path, **overrides):
    kwargs = datamodule_kwargs(name, tmp_path)
    kwargs.update(overrides)
    return REGISTRY.create("datamodules", name, **kwargs)


@pytest.mark.parametrize("name", REGISTRY.names("datamodules"))
def test_sizes_are_known_right_after_construction(name, tmp_path):
    datamodule = make(name, tmp_path)
    assert isinstance(datamodule.input_shape, tuple) and all(n > 0 for n in datamodule.input_shape)
    assert sum(hasattr(datamodule, size) for size in size_arguments(REGISTRY)) == 1  # num_classes, num_targets …


@pytest.mark.parametrize("name", REGISTRY.names("datamodules"))
def test_batches_match_the_announced_shape(name, tmp_path):
    datamodule = make(name, tmp_path)
    datamodule.setup("fit")
    x, y = datamodule.on_after_batch_transfer(next(iter(datamodule.train_dataloader())), 0)  # what the model sees
    assert tuple(x.shape[1:]) == datamodule.input_shape and x.dtype == torch.float32
    assert len(y) == len(x)
    if hasattr(datamodule, "num_classes"):
        assert y.dtype == torch.long and 0 <= int(y.min()) and int(y.max()) < datamodule.num_classes


@pytest.mark.parametrize("name", REGISTRY.names("datamodules"))
def test_fast_dev_run_fit_and_test(name, tmp_path):
    datamodule = make(name, tmp_path)
    backbone = "cnn" if len(datamodule.input_shape) == 3 else "mlp"
    model = task_for(datamodule, backbone=backbone, backbone_kwargs={"channels": [8]} if backbone == "cnn" else {})
    run = trainer(fast_dev_run=1)
    run.fit(model, datamodule)
    if name != "image_folder":  # the generated folder has no test split
        (metrics,) = run.test(model, datamodule, verbose=False)
        assert np.isfinite(metrics["test/loss"])


def test_every_builtin_has_test_arguments():
    assert {"digits", "breast_cancer", "diabetes", "regression", "binary", "multiclass", "csv", "image_folder"} <= set(
        BUILTIN
    )


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "diabetes", "regression", "binary", "multiclass"])
def test_splits_are_seeded_disjoint_and_complete(name, tmp_path):
    first, again, other = make(name, tmp_path), make(name, tmp_path), make(name, tmp_path, seed=1)
    split = first.split()
    rows = np.concatenate([split.train, split.val, split.test])
    assert len(rows) == len(set(rows.tolist())) == len(first.targets)
    for a, b in zip(
        (split.train, split.val, split.test), (again.split().train, again.split().val, again.split().test), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(split.test, other.split().test)


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "multiclass"])
def test_classification_splits_are_stratified(name, tmp_path):
    datamodule = make(name, tmp_path)
    split = datamodule.split()
    overall = np.bincount(datamodule.targets) / len(datamodule.targets)
    test_share = np.bincount(datamodule.targets[split.test], minlength=len(overall)) / len(split.test)
    assert np.abs(overall - test_share).max() < 0.03


def test_standardisation_is_fitted_on_the_training_split_only(tmp_path):
    datamodule = make("breast_cancer", tmp_path)
    datamodule.setup()
    train = datamodule.datasets["train"].features
    torch.testing.assert_close(train.mean(dim=0), torch.zeros(30), atol=1e-5, rtol=0)
    torch.testing.assert_close(train.std(dim=0), torch.ones(30), atol=1e-5, rtol=0)
    test_mean = datamodule.datasets["test"].features.mean(dim=0)
    assert test_mean.abs().max() > 1e-3  # not refitted on the test rows


def test_regression_target_statistics_come_from_training_rows(tmp_path):
    datamodule = make("diabetes", tmp_path)
    datamodule.setup()
    mean, std = datamodule.target_stats
    rows = datamodule.split().train
    assert mean.item() == pytest.approx(datamodule.targets[rows].mean(), rel=1e-5)
    assert std.item() == pytest.approx(datamodule.targets[rows].std(ddof=1), rel=1e-4)


def test_digits_as_images_or_vectors(tmp_path):
    assert make("digits", tmp_path).input_shape == (1, 8, 8)
    flat = make("digits", tmp_path, as_images=False)
    assert flat.input_shape == (64,) and flat.num_classes == 10 and len(flat.targets) == 1797
    with pytest.raises(InvalidArgumentsError, match="max_shift must be 0 or more and needs as_images=True"):
        make("digits", tmp_path, as_images=False, max_shift=1)


def test_random_shift_moves_content_and_keeps_the_background():
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, 2, 2] = 1.0
    torch.manual_seed(0)
    shifted = RandomShift(1)(image.repeat(64, 1, 1, 1))
    assert shifted.shape == (64, 1, 5, 5)
    assert torch.all(shifted.sum(dim=(1, 2, 3)) == 1.0)  # the dot moved, nothing was lost or added
    positions = {tuple(torch.nonzero(s[0])[0].tolist()) for s in shifted}
    assert positions == {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)}


def test_training_batches_are_augmented_evaluation_batches_not(tmp_path):
    datamodule = make("digits", tmp_path, max_shift=1)
    datamodule.setup()
    assert datamodule.datasets["train"].transform is not None
    assert datamodule.datasets["val"].transform is None


def test_tensor_batch_dataset_indexes_a_whole_batch():
    dataset = TensorBatchDataset(torch.arange(10.0)[:, None], torch.arange(10))
    x, y = dataset.__getitems__([3, 1, 4])
    assert x.squeeze(1).tolist() == [3.0, 1.0, 4.0] and y.tolist() == [3, 1, 4]
    assert dataset[7][1].item() == 7 and len(dataset) == 10


def test_synthetic_sizes_and_difficulty(tmp_path):
    data = make("multiclass", tmp_path, num_classes=6, num_features=5)
    assert data.num_classes == 6 and data.input_shape == (5,)
    assert make("binary", tmp_path).num_classes == 2
    regression = make("regression", tmp_path, num_targets=3, nonlinear=False)
    assert regression.num_targets == 3 and regression.targets.shape == (200, 3)
    with pytest.raises(InvalidArgumentsError, match="nonlinear regression needs num_features >= 5"):
        make("regression", tmp_path, num_features=3)
    with pytest.raises(InvalidArgumentsError, match="cannot separate 40 classes"):
        make("multiclass", tmp_path, num_classes=40, num_features=3)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 0}, "batch_size must be positive, got 0"),
        ({"batch_size": -8}, "batch_size must be positive, got -8"),
        ({"val_fraction": 1.5}, r"val_fraction must be in \[0, 1\)"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction \\+ test_fraction must be below 1"),
        ({"num_workers": -1}, "num_workers must be 0 or more"),
    ],
)
def test_impossible_settings_are_refused(tmp_path, overrides, message):
    with pytest.raises(InvalidArgumentsError, match=message):
        make("breast_cancer", tmp_path, **overrides)


def test_missing_split_says_which(tmp_path):
    datamodule = make("digits", tmp_path, test_fraction=0.0)
    with pytest.raises(DataError, match="Digits has no test data: set test_fraction above 0"):
        datamodule.test_dataloader()


def test_split_indices_without_validation():
    split = split_indices(10, None, 0.0, 0.2, seed=0)
    assert len(split.val) == 0 and len(split.test) == 2 and len(split.train) == 8


def test_array_state_round_trips_the_training_statistics():
    from lit_nn.data.bundled import Diabetes
    from lit_nn.data.fitted import applying

    trained = Diabetes(seed=0)
    trained.setup()
    state = trained.state_dict()
    assert state["task"] == "regression" and len(state["feature_mean"]) == 10 and len(state["target_mean"]) == 1
    with applying(state):
        other = Diabetes(seed=3)  # another split: the model's own statistics still apply
    other.setup()
    assert torch.equal(other.feature_stats[0], trained.feature_stats[0])
    assert torch.equal(other.target_stats[1], trained.target_stats[1])
