"""The fit's line on validation and test samples that copy training samples: its wording, CSV and image fits."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from lit_nn.callbacks.redundancy import DuplicateCheck, duplicates_line
from lit_nn.cli import main
from lit_nn.data.csv_data import CSVDataModule
from lit_nn.tasks import RegressionTask
from tests.helpers.data import house_prices_csv, write_csv
from tests.helpers.shapes import make_shapes_folder
from tests.helpers.training import trainer

QUICK = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1",
         "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]  # fmt: skip


def said(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("lit-nn: duplicates:")]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([("val", 0, 57), ("test", 3, 114)], "duplicates: 0 of 57 validation and 3 of 114 test samples are exact "
         "copies of training samples (by feature values); scores on them overstate the model"),
        ([("val", 0, 57), ("test", 0, 114)], "duplicates: none of the 57 validation and 114 test samples copies a "
         "training sample (by feature values)"),
        ([("val", 1, 20), ("test", 0, 0)], "duplicates: 1 of 20 validation samples is an exact copy of a training "
         "sample (by feature values); its score overstates the model"),
        ([("val", 0, 0), ("test", 0, 0)], None),
    ],
)  # fmt: skip
def test_the_line_counts_each_split_that_has_samples(counts, expected):
    assert duplicates_line(counts, "feature values") == expected


def test_a_csv_fit_counts_the_rows_copied_from_training(tmp_path, capsys):
    path = house_prices_csv(tmp_path / "houses.csv", n=60)
    with path.open() as handle:
        header, *rows = list(csv.reader(handle))
    split = CSVDataModule(str(path), target="price", seed=3).split()  # regression: the split depends on n only
    train, val, test = ([rows[i] for i in getattr(split, name)] for name in ("train", "val", "test"))
    for row, source in zip([*val[:2], *test[:3]], train, strict=False):  # features copied, price kept
        row[:3] = source[:3]
    copied = write_csv(tmp_path / "copied.csv", rows, header)
    split = CSVDataModule(str(copied), target="price", seed=3).split()  # the split of the file that is fitted
    features = {tuple(rows[i][:3]) for i in split.train}
    found = {name: sum(tuple(rows[i][:3]) in features for i in getattr(split, name)) for name in ("val", "test")}
    assert found["val"] >= 2 and found["test"] >= 3  # those copied, and any the generator drew twice
    main(["fit", "--model", "RegressionTask", "--data", "csv", "--data.path", str(copied), "--data.target", "price",
          "--data.seed", "3", "--run.root", str(tmp_path / "runs"), *QUICK])  # fmt: skip
    (line,) = said(capsys.readouterr().err)
    assert line == (
        f"lit-nn: duplicates: {found['val']} of {len(split.val)} validation and {found['test']} of {len(split.test)} "
        "test samples are exact "
        "copies of training samples (by feature values); scores on them overstate the model"
    )


def test_an_image_folder_fit_counts_copied_files(tmp_path, capsys):
    root = make_shapes_folder(tmp_path / "shapes", per_class=3, size=24, splits=("train", "val", "test"))
    shutil.copy(root / "train/circle/00000.jpg", root / "val/circle/copy.jpg")
    shutil.copy(root / "train/square/00001.jpg", root / "test/square/copy.jpg")
    shutil.copy(root / "train/square/00001.jpg", root / "test/circle/copy.jpg")  # its label does not matter
    main(["fit", "--model", "BinaryClassificationTask", "--model.backbone", "cnn", "--model.backbone_kwargs",
          "{channels: [4]}", "--data", "image_folder", "--data.root", str(root), "--data.image_size", "16",
          "--data.num_workers", "0", "--data.batch_size", "4",
          "--run.root", str(tmp_path / "runs"), *QUICK])  # fmt: skip
    (line,) = said(capsys.readouterr().err)
    assert line == (
        "lit-nn: duplicates: 1 of 7 validation and 2 of 8 test samples are exact copies of training samples "
        "(by file bytes); scores on them overstate the model"
    )


class Plain(LightningDataModule):
    """A third-party datamodule: no ``content_keys``."""

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(torch.ones(4, 2), torch.ones(4)), batch_size=2)


class Keyed(Plain):
    """A third-party datamodule that has ``content_keys`` (no base class needed)."""

    content_basis = "ids"

    def content_keys(self, split: str) -> np.ndarray:
        return {"train": np.array([1, 2], np.uint64), "val": np.array([2, 3, 4], np.uint64)}.get(split, np.array([]))


@pytest.mark.parametrize(
    ("data", "expected"),
    [(Plain, []), (Keyed, ["lit-nn: duplicates: 1 of 3 validation samples is an exact copy of a training sample "
                           "(by ids); its score overstates the model"])],
)  # fmt: skip
def test_a_datamodule_is_checked_when_it_has_content_keys(capsys, data, expected):
    trainer(max_epochs=1, callbacks=[DuplicateCheck()]).fit(RegressionTask(input_shape=(2,)), datamodule=data())
    assert said(capsys.readouterr().err) == expected
