"""The image_folder datamodule on generated images: both layouts, transforms, decoding, loaders, clear errors."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms.v2 import functional as F

from lit_nn.data import images
from lit_nn.data.base import DataError
from lit_nn.data.image_files import jpeg_size, load_rgb
from lit_nn.data.image_folder import ImageFolderDataModule
from lit_nn.data.images import read_image
from tests.helpers.shapes import make_shapes_folder
from tests.helpers.training import trainer

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")


def former_transform(data: ImageFolderDataModule) -> transforms.Compose:
    """The evaluation transform as lit_nn ran it on PIL images before decoding moved to tensors."""
    return transforms.Compose(
        [
            transforms.Resize(data.resize),
            transforms.CenterCrop(data.image_size),
            transforms.ToTensor(),
            transforms.Normalize(data.mean, data.std),
        ]
    )


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


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_batches_match_the_former_pillow_pipeline(tmp_path, suffix):
    root = make_shapes_folder(tmp_path, per_class=4, size=48, suffix=suffix)
    data = ImageFolderDataModule(str(root), image_size=32, num_workers=0, batch_size=8)
    raw, y = next(iter(data.val_dataloader()))
    assert raw.dtype == torch.uint8 and y.dtype == torch.int64  # a quarter of float's bytes
    assert raw.is_contiguous(memory_format=torch.channels_last)  # as decoded: no transposing copy
    x, same_y = data.on_after_batch_transfer((raw, y), 0)  # on the device, in training
    assert x.dtype == torch.float32 and x.is_contiguous() and same_y is y
    assert data.on_after_batch_transfer((x, y), 0)[0] is x  # a float batch is left as it is
    reference = torch.stack([former_transform(data)(load_rgb(path, data.resize)) for path, _ in data.samples["val"]])
    levels = (x - reference) * torch.tensor(data.std).view(1, 3, 1, 1) * 255
    # torch's antialiased uint8 resize rounds a pixel differently from Pillow's now and then
    assert levels.abs().max() <= 1.01 and levels.abs().mean() < 0.05


def test_workers_give_the_same_batches(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=6, size=24)
    batches = {}
    for workers in (0, 2):
        data = ImageFolderDataModule(str(root), image_size=16, num_workers=workers, batch_size=4)
        loader = data.val_dataloader()
        assert loader.persistent_workers == (workers > 0) and loader.pin_memory is False
        batches[workers] = list(loader)
    for (x0, y0), (x2, y2) in zip(batches[0], batches[2], strict=True):
        assert torch.equal(x0, x2) and torch.equal(y0, y2)


def test_random_crops_are_flipped_windows_of_the_resized_image(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=1, size=30)
    data = ImageFolderDataModule(str(root), image_size=16, resize=20, num_workers=0)
    transform = data.transform(train=True)
    image = read_image(data.samples["train"][0][0], data.resize)
    resized = F.resize(image, [20], antialias=True)
    windows = {}
    for top in range(5):
        for left in range(5):
            window = resized[:, top : top + 16, left : left + 16]
            windows[(top, left, False)], windows[(top, left, True)] = window, window.flip(-1)
    torch.manual_seed(0)
    seen = [
        next(key for key, window in windows.items() if torch.equal(crop, window))
        for crop in (transform.crop(image) for _ in range(40))
    ]
    assert len({key[:2] for key in seen}) > 5 and {key[2] for key in seen} == {False, True}
    torch.manual_seed(0)
    assert torch.equal(transform.crop(image), windows[seen[0]])  # seeded: the same draws


def test_transform_accepts_tensors_and_pil_images(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=1, size=40, suffix=".png")
    data = ImageFolderDataModule(str(root), image_size=32, num_workers=0)
    path = data.samples["val"][0][0]
    transform = data.transform(train=False)
    from_tensor, from_pil = transform(read_image(path, 40)), transform(Image.open(path))
    assert from_tensor.shape == (3, 32, 32) and torch.equal(from_tensor, from_pil)


def test_read_image_decodes_like_pillow(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(pixels).convert("L").save(tmp_path / "grey.jpg")
    assert torch.equal(read_image(tmp_path / "a.png", 8), torch.from_numpy(pixels).permute(2, 0, 1))
    grey = read_image(tmp_path / "grey.jpg", 16)
    assert grey.shape == (3, 20, 30) and torch.equal(grey[0], grey[2])


@pytest.fixture
def fresh_decoder():
    images.jpeg_decoder.cache_clear()
    yield
    images.jpeg_decoder.cache_clear()


def test_jpegs_decode_with_torchcodec_and_say_when_they_cannot(tmp_path, monkeypatch, capsys, fresh_decoder):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.jpg")
    fast = read_image(tmp_path / "a.jpg", 16)
    assert images.jpeg_decoder().func.__module__.startswith("torchcodec")  # the current API, not deprecated
    assert capsys.readouterr().err == ""
    decoded = {}
    for blocked in (["torchcodec.decoders"], ["torchcodec.decoders", "torchvision.io"]):
        images.jpeg_decoder.cache_clear()
        for name in blocked:
            monkeypatch.setitem(sys.modules, name, None)  # as when the package is not installed
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # torchvision's warning is said once, as a notice
            decoded[len(blocked)] = [read_image(tmp_path / "a.jpg", 16) for _ in range(3)]
        decoded[len(blocked)].append(capsys.readouterr().err.splitlines())
    torchvision_said, pillow_said = decoded[1].pop(), decoded[2].pop()
    assert len(torchvision_said) == 1 and "TorchCodec cannot be loaded (ModuleNotFoundError" in torchvision_said[0]
    assert "JPEGs decode with torchvision's decode_jpeg (deprecated since torchvision 0.29)" in torchvision_said[0]
    assert torchvision_said[0].endswith("; pip install torchcodec")
    assert len(pillow_said) == 1 and "Pillow decodes every JPEG, more slowly; pip install torchcodec" in pillow_said[0]
    assert all(torch.equal(image, fast) for image in decoded[1])  # the same libjpeg-turbo
    slow = decoded[2][0]
    assert slow.shape == fast.shape == (3, 20, 30) and (slow.int() - fast.int()).abs().max() <= 2


def test_large_jpegs_are_decoded_at_reduced_size(tmp_path):
    Image.fromarray(np.full((128, 160, 3), 90, np.uint8)).save(tmp_path / "big.jpg")
    assert read_image(tmp_path / "big.jpg", 65).shape == (3, 128, 160)  # too small to shrink: torchvision
    assert read_image(tmp_path / "big.jpg", 64).shape == (3, 64, 80)  # Pillow's draft mode, at half size
    assert read_image(tmp_path / "big.jpg", 32).shape == (3, 32, 40)  # at a quarter


def test_jpeg_size(tmp_path):
    image = Image.fromarray(np.zeros((21, 37, 3), np.uint8))
    image.save(tmp_path / "a.jpg", exif=Image.Exif())
    image.save(tmp_path / "p.jpg", progressive=True)
    image.save(tmp_path / "a.png")
    assert jpeg_size((tmp_path / "a.jpg").read_bytes()) == (37, 21)
    assert jpeg_size((tmp_path / "p.jpg").read_bytes()) == (37, 21)
    assert jpeg_size((tmp_path / "a.png").read_bytes()) is None
    assert jpeg_size((tmp_path / "a.jpg").read_bytes()[:30]) is None


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[: len(data) // 2], "image file is truncated"),  # header intact, torchvision refuses
        (lambda data: b"\xff\xd8\xff" + b"not a jpeg" * 20, "cannot identify image file"),
    ],
)
def test_damaged_jpeg_is_named_with_pillows_reason(tmp_path, damage, reason):
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "bad.jpg")
    (tmp_path / "bad.jpg").write_bytes(damage((tmp_path / "bad.jpg").read_bytes()))
    with pytest.raises(DataError, match=f"cannot read image .*bad.jpg' \\({reason}.*delete or replace the file"):
        read_image(tmp_path / "bad.jpg", 16)


def test_pin_memory_follows_the_trainer(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=2, size=16, splits=())
    data = ImageFolderDataModule(str(root), image_size=16, num_workers=0, val_fraction=0.5)
    assert data.val_dataloader().pin_memory is torch.cuda.is_available()  # no trainer yet
    data.trainer = trainer()
    assert data.val_dataloader().pin_memory is False
    data.pin_memory = True
    assert data.val_dataloader().pin_memory is True


def test_resize_below_image_size(tmp_path):
    root = make_shapes_folder(tmp_path, per_class=1, size=16, splits=())
    with pytest.raises(DataError, match=r"resize \(20\) must be at least image_size \(32\)"):
        ImageFolderDataModule(str(root), image_size=32, resize=20)


def test_a_new_folder_is_used_whole_labelled_or_not(tmp_path):
    import shutil

    from lit_nn.data.fitted import applying

    root = make_shapes_folder(tmp_path / "shapes", per_class=4, size=32)
    trained = ImageFolderDataModule(str(root), image_size=24, num_workers=0, batch_size=3)
    state = trained.state_dict()
    assert state == {"class_names": ["circle", "square"], "source": str(root.resolve())}
    labelled = tmp_path / "labelled"
    shutil.copytree(root / "val", labelled)
    with applying(state):
        data = ImageFolderDataModule(str(labelled), image_size=24, num_workers=0, batch_size=3)
    assert data.labelled and len(data.samples["test"]) == 8
    x, y = next(iter(data.test_dataloader()))
    assert x.shape == (3, 3, 24, 24) and y.tolist() == [0, 0, 0]
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, image in enumerate(sorted(root.rglob("*.jpg"))[:4]):
        shutil.copy(image, flat / f"{i}.jpg")
    with applying(state):
        data = ImageFolderDataModule(str(flat), image_size=24, num_workers=0, batch_size=3)
    assert not data.labelled and data.class_names == ["circle", "square"] and data.num_classes == 2
    batch = next(iter(data.predict_dataloader()))
    assert isinstance(batch, torch.Tensor) and batch.shape == (3, 3, 24, 24)
    assert [p.rsplit("/", 1)[-1] for p in data.predict_ids] == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    with pytest.raises(DataError, match="has no targets, so there is nothing to test against"):
        data.test_dataloader()


def test_with_the_training_folder_gone_the_state_and_arguments_build_what_inference_needs(tmp_path):
    import shutil

    from lit_nn.data.fitted import applying

    root = make_shapes_folder(tmp_path / "shapes", per_class=2, size=32)
    kwargs = {"image_size": 24, "resize": 28, "mean": (0.5, 0.4, 0.3), "std": (0.2, 0.25, 0.3), "num_workers": 0}
    trained = ImageFolderDataModule(str(root), **kwargs)
    state = trained.state_dict()
    shutil.rmtree(root)
    with applying(state):  # the arguments are the checkpoint's recorded ones, as the CLI rebuilds them
        data = ImageFolderDataModule(str(root), **kwargs)
    assert data.absent is not None and data.samples == {}
    assert data.class_names == ["circle", "square"] and data.num_classes == 2 and data.input_shape == (3, 24, 24)
    assert (data.image_size, data.resize, data.mean, data.std) == (24, 28, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    assert torch.equal(data.normaliser.mean, trained.normaliser.mean)
    assert torch.equal(data.normaliser.scale, trained.normaliser.scale)
    assert data.state_dict() == state
    with pytest.raises(DataError) as raised:
        data.predict_dataloader()
    assert str(raised.value) == (
        f"the training folder {root} is gone (export and serve need only the checkpoint); give --data.root FOLDER "
        "with the data to predict for"
    )
    with applying(state), pytest.raises(DataError, match="does not exist"):  # not the training folder: refused at once
        ImageFolderDataModule(str(tmp_path / "typo"), **kwargs)
