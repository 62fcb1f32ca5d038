"""The image_folder datamodule on generated images: both layouts, transforms, clear errors."""

from __future__ import annotations

import pytest
import torch

from lit_nn.data.arrays import DataError
from lit_nn.data.image_folder import ImageFolderDataModule, load_rgb
from lit_nn.data.shapes import make_shapes_folder


def test_train_val_test_layout(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=3, size=24, splits=("train", "val", "test"), suffix=".png")
    data = ImageFolderDataModule(str(root), image_size=16, num_workers=0, batch_size=4)
    assert data.class_names == ["circle", "square"] and data.num_classes == 2 and data.input_shape == (3, 16, 16)
    assert {k: len(v) for k, v in data.samples.items()} == {"train": 6, "val": 6, "test": 6}
    x, y = next(iter(data.test_dataloader()))
    assert x.shape == (4, 3, 16, 16) and y.tolist() == [0, 0, 0, 1]


def test_single_folder_is_split_by_fractions(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=10, size=24, splits=())
    data = ImageFolderDataModule(str(root), image_size=16, val_fraction=0.2, test_fraction=0.2, num_workers=0)
    sizes = {k: len(v) for k, v in data.samples.items()}
    assert sizes == {"train": 12, "val": 4, "test": 4}
    assert sorted(label for _, label in data.samples["val"]) == [0, 0, 1, 1]


def test_training_transform_is_random_evaluation_is_not(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=5, size=40, splits=())
    data = ImageFolderDataModule(str(root), image_size=32, num_workers=0)
    image = load_rgb(data.samples["train"][0][0], 40)
    torch.manual_seed(0)
    train = [data.transform(train=True)(image) for _ in range(6)]
    evaluation = [data.transform(train=False)(image) for _ in range(2)]
    assert train[0].shape == (3, 32, 32)
    assert any(not torch.equal(train[0], t) for t in train[1:])
    assert torch.equal(evaluation[0], evaluation[1])
    assert abs(float(evaluation[0].mean())) < 3  # normalised, not 0…255


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="image folder .*nowhere' does not exist; check the data path"):
        ImageFolderDataModule(str(tmp_path / "nowhere"))


def test_empty_class_folder_is_named(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=2, size=16, splits=("train", "val"))
    (root / "train" / "triangle").mkdir()
    with pytest.raises(DataError, match="class folder .*train/triangle' holds no images"):
        ImageFolderDataModule(str(root))


def test_folder_without_classes(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="has no class subfolders"):
        ImageFolderDataModule(str(tmp_path))


def test_val_classes_must_exist_in_train(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=2, size=16, splits=("train",))
    make_shapes_folder(tmp_path, per_class=2, size=16, classes=("circle", "triangle"), splits=("val",))
    with pytest.raises(DataError, match="val has classes that train/ lacks: triangle"):
        ImageFolderDataModule(str(root))


def test_train_without_val(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=2, size=16, splits=("train",))
    with pytest.raises(DataError, match="has train/ but no val/ folder"):
        ImageFolderDataModule(str(root))


def test_corrupt_image_is_named(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=2, size=16, splits=())
    bad = root / "circle" / "00001.jpg"
    bad.write_bytes(bad.read_bytes()[:40])
    data = ImageFolderDataModule(str(root), image_size=16, num_workers=0, val_fraction=0.5, batch_size=4)
    with pytest.raises(DataError, match="cannot read image .*circle/00001.jpg.*delete or replace the file"):
        for _ in data.train_dataloader():
            pass
        for _ in data.val_dataloader():
            pass


def test_bad_normalisation(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=1, size=16, splits=())
    with pytest.raises(DataError, match="mean and std need 3 values"):
        ImageFolderDataModule(str(root), std=(0.2, 0.0, 0.2))


def test_too_few_images_to_split(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=1, size=16, splits=())
    with pytest.raises(DataError, match="cannot split 2 samples into train/val/test .* Add samples, or lower"):
        ImageFolderDataModule(str(root))
