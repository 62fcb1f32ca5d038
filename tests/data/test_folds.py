"""Cross-validation folds: every registered datamodule makes them, and they partition, stratify and group exactly."""

from __future__ import annotations

import numpy as np
import pytest
from lightning.pytorch import LightningDataModule

from lit_nn.callbacks.fold import UseFold
from lit_nn.data.base import DataError
from lit_nn.data.bundled import BreastCancer
from lit_nn.data.csv_data import CSVDataModule
from lit_nn.data.folds import FoldSamples, check_foldable, make_folds, training_part
from lit_nn.data.image_folder import ImageFolderDataModule
from lit_nn.registry import build_registry
from tests.helpers.data import datamodule_kwargs, write_csv
from tests.helpers.shapes import make_shapes_folder

REGISTRY = build_registry()


def samples(count, labels=None, groups=None, keys=None):
    return FoldSamples(list(range(count)), labels, groups, keys)


@pytest.mark.parametrize("name", REGISTRY.names("datamodules"))
def test_every_registered_datamodule_folds_its_non_test_samples_and_trains_and_tests_on_a_fold(name, tmp_path):
    datamodule = REGISTRY.create("datamodules", name, **datamodule_kwargs(name, tmp_path))
    if name == "streaming":  # chunks are read in order, a shard per rank: they are folded before they are written
        with pytest.raises(DataError, match="StreamingDataModule cannot make cross-validation folds"):
            check_foldable(datamodule)
        return
    check_foldable(datamodule)
    pool = datamodule.fold_samples()
    held = make_folds(pool, 3, seed=0)
    assert sorted(np.concatenate(held).tolist()) == list(range(len(pool)))  # a partition of the pool
    datamodule.use_fold(training_part(len(pool), held[1]), held[1])
    datamodule.setup("fit")
    served = {split: len(datamodule.loader(split).dataset) for split in ("train", "val", "test")}
    assert served["test"] == len(held[1])
    assert served["train"] + served.get("val", 0) == len(pool) - len(held[1])


def test_a_fold_holds_out_exactly_its_rows_and_leaves_the_test_split_alone():
    datamodule = BreastCancer(seed=3)
    own = datamodule.split()
    pool = datamodule.fold_samples()
    assert pool.ids == sorted([*own.train.tolist(), *own.val.tolist()])  # the test rows are not folded
    held = make_folds(pool, 5, seed=3)
    datamodule.use_fold(training_part(len(pool), held[2]), held[2])
    fold = datamodule.split()
    rows = np.asarray(pool.ids)
    assert fold.test.tolist() == sorted(rows[held[2]].tolist())
    assert sorted([*fold.train.tolist(), *fold.val.tolist()]) == sorted(np.delete(rows, held[2]).tolist())
    assert not set(fold.train) & set(fold.val)
    assert not set(own.test) & {*fold.train, *fold.val, *fold.test}


def test_stratified_folds_hold_each_class_within_one_sample_of_each_other_and_the_seed_fixes_them():
    pool = BreastCancer().fold_samples()
    for repeat_folds in (make_folds(pool, 5, repeats=2, seed=0),):
        for repeat in range(2):
            held = repeat_folds[repeat * 5 : (repeat + 1) * 5]
            assert sorted(np.concatenate(held).tolist()) == list(range(len(pool)))
            for label in (0, 1):
                counts = [int((pool.labels[h] == label).sum()) for h in held]
                assert max(counts) - min(counts) <= 1
        assert not all(np.array_equal(a, b) for a, b in zip(repeat_folds[:5], repeat_folds[5:], strict=True))
    again, other = make_folds(pool, 5, seed=0), make_folds(pool, 5, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(make_folds(pool, 5, seed=0), again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(again, other, strict=True))


@pytest.mark.parametrize("labelled", [True, False])
def test_a_group_and_every_set_of_exact_copies_stays_in_one_fold(labelled):
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 30, 120)
    keys = np.arange(120)
    keys[[5, 50, 99]] = 7  # copies of sample 7, in other groups
    labels = rng.integers(0, 2, 120) if labelled else None
    held = make_folds(samples(120, labels, groups, keys), 4, seed=0)
    fold_of = np.empty(120, dtype=int)
    for number, positions in enumerate(held):
        fold_of[positions] = number
    for group in np.unique(groups):
        assert len(set(fold_of[groups == group])) == 1
    assert len(set(fold_of[[5, 7, 50, 99]])) == 1


@pytest.mark.parametrize(
    ("pool", "folds", "expected"),
    [
        (samples(10), 1, "--cv.folds must be 2 or more"),
        (samples(3), 4, "more than the 3 samples to fold"),
        (samples(10, labels=np.array([0] * 8 + [1] * 2)), 3, "more than the 2 samples of class 1:"),
        (
            FoldSamples(list(range(10)), np.array([0] * 8 + [1] * 2), None, None, class_names=["cat", "dog"]),
            3,
            "more than the 2 samples of class dog: every fold must hold each class; use at most 2 folds",
        ),
        (samples(10, groups=np.array([0] * 5 + [1] * 5)), 3, "more than the 2 groups"),
    ],
)
def test_folds_the_data_cannot_give_are_refused_saying_how_many_it_can(pool, folds, expected):
    with pytest.raises(DataError, match=expected):
        make_folds(pool, folds)


def test_the_datamodules_name_their_classes_for_messages(tmp_path):
    assert BreastCancer().fold_samples().class_names == ["malignant", "benign"]
    root = make_shapes_folder(tmp_path / "images", per_class=3, size=8)
    pool = ImageFolderDataModule(str(root), image_size=8, num_workers=0).fold_samples()
    with pytest.raises(DataError, match=f"samples of class {pool.class_names[0]}:"):
        make_folds(pool, 10)


def test_a_csv_column_groups_rows_and_a_missing_one_is_named_with_the_columns(tmp_path):
    rows = [[i % 7, float(i), i % 2] for i in range(60)]
    path = write_csv(tmp_path / "data.csv", rows, ["patient", "x", "y"])
    datamodule = CSVDataModule(str(path), target="y", features=["x"], task="binary")
    pool = datamodule.fold_samples("patient")
    assert sorted(set(pool.groups)) == [str(i) for i in range(7)]
    held = make_folds(pool, 3)
    for positions in held:
        others = np.delete(np.arange(len(pool)), positions)
        assert not set(pool.groups[positions]) & set(pool.groups[others])
    with pytest.raises(DataError, match=r"--cv.groups patien: .* has no column 'patien'. Did you mean 'patient'"):
        datamodule.fold_samples("patien")
    with pytest.raises(DataError, match="has no columns to group by"):
        BreastCancer().fold_samples("patient")


def test_an_image_folder_folds_its_train_and_val_images_and_copied_files_stay_together(tmp_path):
    root = make_shapes_folder(tmp_path / "images", per_class=6, size=16)
    copied = root / "val" / "circle" / "copy.jpg"
    copied.write_bytes(next((root / "train" / "circle").iterdir()).read_bytes())
    datamodule = ImageFolderDataModule(str(root), image_size=16, num_workers=0)
    pool = datamodule.fold_samples()
    assert len(pool) == 25 and len(set(pool.keys.tolist())) == 24
    held = make_folds(pool, 3)
    twins = np.flatnonzero(pool.keys == pool.keys[pool.ids.index(str(copied))])
    assert sum(set(twins) <= set(h) for h in held) == 1
    datamodule.use_fold(training_part(len(pool), held[0]), held[0])
    assert datamodule.predict_split() == "test" and datamodule.predict_ids == [pool.ids[i] for i in held[0]]


class PlainData(LightningDataModule):
    """A third-party datamodule without the folds interface."""


def test_a_datamodule_without_the_interface_is_refused_naming_what_to_add():
    with pytest.raises(DataError, match=r"PlainData cannot make cross-validation folds: it has no fold_samples\(\) "
                                        r"and no use_fold\(\); add them as docs/plugins.md shows"):  # fmt: skip
        check_foldable(PlainData())
    with pytest.raises(DataError, match="no fold_samples"):
        UseFold(np.arange(2), np.arange(2, 4)).setup(type("T", (), {"datamodule": PlainData()})(), None, "fit")
