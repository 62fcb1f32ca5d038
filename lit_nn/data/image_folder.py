"""Images in one folder per class (Kaggle's dogs-vs-cats layout), decoded and augmented as uint8 tensors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lit_nn.data.base import DataError, SplitDataModule, check_positive
from lit_nn.data.fitted import fitted_state, gone_line, training_data_gone
from lit_nn.data.folds import FoldSamples
from lit_nn.data.images import ImageTransform, read_image
from lit_nn.data.redundancy import file_keys
from lit_nn.data.sampling import shuffle_options
from lit_nn.data.splits import Split, check_fractions, split_indices

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def process_cpus() -> int:
    """The CPUs this process may run on, as PyTorch counts them when it warns of too many loader workers.

    Returns:
        The count (at least 1).
    """
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def image_files(folder: Path) -> list[Path]:
    """List every image under a folder, at any depth, sorted.

    Args:
        folder: The folder.

    Returns:
        The image files.
    """
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def scan_classes(folder: Path) -> dict[str, list[Path]]:
    """List the images of each class subfolder.

    Args:
        folder: A folder holding one subfolder per class.

    Returns:
        Class name to its sorted image files, classes sorted.

    Raises:
        DataError: If the folder is missing, has no class subfolders, or a class has no images.
    """
    if not folder.is_dir():
        raise DataError(f"image folder {str(folder)!r} does not exist; check the data path")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{folder} has no class subfolders; put each class's images in {folder}/<class>/")
    found = {}
    for path in classes:
        files = image_files(path)
        if not files:
            raise DataError(
                f"class folder {str(path)!r} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
                "add images or remove the folder"
            )
        found[path.name] = files
    return found


class ImageFileDataset(Dataset):
    """``(uint8 crop, class index)`` pairs from files; :meth:`ImageTransform.collate` batches them.

    Args:
        samples: ``(path, label)`` pairs.
        transform: Resizes and crops the decoded image.
        decode_size: Smallest side to decode at (see :func:`read_image`).
    """

    def __init__(self, samples: Sequence[tuple[Path, int]], transform: ImageTransform, decode_size: int) -> None:
        self.samples, self.transform, self.decode_size = list(samples), transform, decode_size

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        path, label = self.samples[index]
        return self.transform.crop(read_image(path, self.decode_size)), label


class ImageFolderDataModule(SplitDataModule):
    """Images under ``root``, one folder per class.

    Either ``root/train/<class>/…`` and ``root/val/<class>/…`` (and ``root/test/<class>/…`` for
    ``lit-nn test``: without it there is nothing to test on),
    or ``root/<class>/…`` split at random by ``val_fraction`` and ``test_fraction`` (stratified,
    seeded). Given to a trained model (``lit-nn predict --ckpt_path FILE --data.root NEW``), a
    folder other than the training one is used whole: class subfolders named as the model's
    classes are labelled, and a folder of images without them is predicted for; where the training
    folder is gone, the checkpoint's classes and these arguments (image size, normalisation) alone
    build it, without images (:func:`~lit_nn.data.fitted.training_data_gone`). Training images
    are resized, randomly cropped and flipped; evaluation images resized and centre-cropped; all
    normalised. The loaders yield ``uint8`` ``(N, 3, image_size, image_size)`` images and ``int64``
    labels; :meth:`on_after_batch_transfer` turns the images into normalised ``float32`` on the
    device they were moved to. See :class:`ImageTransform` for where each step runs.

    Args:
        root: The image folder.
        image_size: Side of the square crops the model sees.
        resize: Shorter side before cropping; ``None`` gives ``image_size * 8 / 7``.
        augment: Random crops and flips for training (off: evaluation transform).
        mean: Per-channel normalisation mean (ImageNet's by default, for pretrained ResNets).
        std: Per-channel normalisation standard deviation.
        batch_size: Images per batch.
        val_fraction: Validation share when ``root`` has no ``train``/``val`` folders.
        test_fraction: Test share when ``root`` has no ``train``/``val`` folders.
        seed: Seed of that split.
        num_workers: DataLoader worker processes; at most the CPUs this process may use (the
            shipped config's 4 runs 2 on a 2-CPU machine, without PyTorch's warning).
        pin_memory: Page-locked batches for faster GPU copies; ``None``: when the trainer runs on
            a CUDA device.
        persistent_workers: Keep workers alive between epochs (when ``num_workers > 0``).
    """

    content_basis = "file bytes"

    def __init__(
        self,
        root: str,
        image_size: int = 224,
        resize: int | None = None,
        augment: bool = True,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        batch_size: int = 32,
        val_fraction: float = 0.2,
        test_fraction: float = 0.0,
        seed: int = 0,
        num_workers: int = 2,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_positive("batch_size", batch_size)
        check_positive("image_size", image_size)
        check_fractions(val_fraction, test_fraction)
        if num_workers < 0:
            raise DataError(f"num_workers must be 0 or more, got {num_workers}")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise DataError(f"mean and std need 3 values (RGB) and std must be positive, got {mean} and {std}")
        self.root = Path(root).expanduser()
        self.image_size, self.resize = image_size, resize or round(image_size * 8 / 7)
        if self.resize < image_size:
            raise DataError(
                f"resize ({self.resize}) must be at least image_size ({image_size}): "
                "images are resized, then cropped to image_size"
            )
        self.augment, self.mean, self.std = augment, tuple(mean), tuple(std)
        self.batch_size, self.seed, self.num_workers = batch_size, seed, num_workers
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers and num_workers > 0
        self.fitted = fitted_state()
        self.normaliser = self.transform(train=False)
        """Turns ``uint8`` batches into normalised floats (:meth:`on_after_batch_transfer`)."""
        source = (self.fitted or {}).get("source")
        if self.fitted is not None and training_data_gone(self.root, source):
            self.class_names, self.samples = list(self.fitted["class_names"]), {}
            self.absent = gone_line(self.root, "folder", "--data.root FOLDER")
        elif source is not None and str(self.root.resolve()) != source:
            self.samples = self._new_samples()
        else:
            self.samples = self._find_samples(val_fraction, test_fraction)
        self.input_shape = (3, image_size, image_size)
        self.num_classes = len(self.class_names)

    def state_dict(self) -> dict[str, Any]:
        """The classes and the training folder, for checkpoints.

        Returns:
            ``class_names`` and ``source``.
        """
        return {"class_names": list(self.class_names), "source": (self.fitted or {}).get("source")
                or str(self.root.resolve())}  # fmt: skip

    def _new_samples(self) -> dict[str, list[tuple[Path, int]]]:
        """Every image of a folder the model was not trained on, labelled by class folder when it has them."""
        assert self.fitted is not None  # only a trained model's data is new
        self.class_names = list(self.fitted["class_names"])
        if not self.root.is_dir():
            raise DataError(f"image folder {str(self.root)!r} does not exist; check the data path")
        folders = {p.name for p in self.root.iterdir() if p.is_dir()}
        if folders and folders <= set(self.class_names):
            everything = self._label(scan_classes(self.root))
        else:
            files = image_files(self.root)
            if not files:
                raise DataError(f"{self.root} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            self.labelled = False
            everything = [(path, -1) for path in files]
        return {"val": everything, "test": everything}

    def _find_samples(self, val_fraction: float, test_fraction: float) -> dict[str, list[tuple[Path, int]]]:
        split: str | Split
        if (self.root / "train").is_dir():
            train = scan_classes(self.root / "train")
            self.class_names = list(train)
            samples = {"train": self._label(train)}
            for split in ("val", "test"):
                if (self.root / split).is_dir():
                    found = scan_classes(self.root / split)
                    unknown = sorted(set(found) - set(train))
                    if unknown:
                        raise DataError(f"{self.root / split} has classes that train/ lacks: {', '.join(unknown)}")
                    samples[split] = self._label(found)
            if "val" not in samples:
                raise DataError(
                    f"{self.root} has train/ but no val/ folder; add one, "
                    f"or put the class folders in {self.root} directly"
                )
            return samples
        found = scan_classes(self.root)
        self.class_names = list(found)
        everything = self._label(found)
        labels = np.array([label for _, label in everything])
        split = split_indices(len(everything), labels, val_fraction, test_fraction, self.seed)
        return {
            name: [everything[i] for i in rows]
            for name, rows in (("train", split.train), ("val", split.val), ("test", split.test))
            if len(rows)
        }

    def _label(self, found: dict[str, list[Path]]) -> list[tuple[Path, int]]:
        index = {name: i for i, name in enumerate(self.class_names)}
        return [(path, index[name]) for name, files in found.items() for path in files]

    def _pool(self) -> list[tuple[Path, int]]:
        """The images folds are drawn from: the training and validation ones, as first found."""
        if not hasattr(self, "own_samples"):
            self.own_samples = dict(self.samples)
        return [*self.own_samples.get("train", []), *self.own_samples.get("val", [])]

    def fold_samples(self, groups: str | None = None) -> FoldSamples:
        """The training and validation images, as folds see them (:mod:`lit_nn.data.folds`).

        Args:
            groups: Must be ``None``: images have no columns to group by.

        Returns:
            File paths as ids, class labels and their names, and content keys of the files' bytes (copies stay
            together).

        Raises:
            DataError: For ``groups``, or new data given to a trained model.
        """
        if groups is not None:
            raise DataError(f"--cv.groups {groups}: an image folder has no columns to group by; leave it out")
        if not self.labelled or "train" not in self.samples:
            raise DataError(f"{self.root} is new data for a trained model: it cannot be folded")
        pool = self._pool()
        return FoldSamples(
            ids=[str(path) for path, _ in pool],
            labels=np.array([label for _, label in pool]),
            groups=None,
            keys=file_keys([path for path, _ in pool]),
            class_names=list(self.class_names),
        )

    def use_fold(self, train: np.ndarray, held_out: np.ndarray) -> None:
        """Train on a fold's training images and test on its held-out ones (:mod:`lit_nn.data.folds`).

        The validation images are drawn from the training part at the share the folder had.

        Args:
            train: Positions in :meth:`fold_samples` to train on.
            held_out: Positions to hold out: the ``test`` split from now on.
        """
        pool = self._pool()
        trained = [pool[i] for i in np.asarray(train, dtype=np.int64)]
        share = len(self.own_samples.get("val", [])) / len(pool)
        labels = np.array([label for _, label in trained])
        inner = split_indices(len(trained), labels, share, 0.0, self.seed)
        self.samples = {
            "train": [trained[i] for i in inner.train],
            "val": [trained[i] for i in inner.val],
            "test": [pool[i] for i in np.sort(np.asarray(held_out, dtype=np.int64))],
        }
        self.samples = {name: found for name, found in self.samples.items() if found}

    def missing_split(self, split: str) -> str | None:
        """Say how to add a split the folder does not have.

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.

        Returns:
            What to do, or ``None`` when the split has images.
        """
        if split in self.samples:
            return None
        if (self.root / "train").is_dir():
            return (
                f"{self.root} has no {split}/ folder, so there is no {split} split: add {self.root}/{split}/<class>/ "
                f"with images the model has not seen, one folder per class of train/ ({', '.join(self.class_names)})"
            )
        return (
            f"{self.root} was split with {split}_fraction {self.hparams.get(f'{split}_fraction', 0)}, so there is no "
            f"{split} split: train with --data.{split}_fraction 0.1 (for example), or give a folder with "
            f"{split}/<class>/ images"
        )

    def content_keys(self, split: str) -> np.ndarray:
        """Keys of the bytes of the split's image files (identical files match; re-encoded images do not).

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.

        Returns:
            One :func:`~lit_nn.data.redundancy.file_keys` key per image (none for a missing split);
            every file is read once (about 1.2 s per GiB of images, plus the disk's time).
        """
        return file_keys([path for path, _ in self.samples.get(split, [])])

    def transform(self, train: bool) -> ImageTransform:
        """The transform of one split.

        Args:
            train: Training (random crop and flip when ``augment``) or evaluation.

        Returns:
            Image (``uint8`` tensor or PIL) to normalised tensor; its ``crop`` and ``collate`` are
            what the loaders use.
        """
        return ImageTransform(self.image_size, self.resize, self.mean, self.std, augment=train and self.augment)

    def loader(self, split: str, shuffle: bool = False) -> DataLoader:
        """Decoded, transformed image batches of one split.

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.
            shuffle: Shuffle every epoch.

        Returns:
            The loader.

        Raises:
            DataError: If the split has no images.
        """
        missing = self.missing_split(split)
        if missing:
            raise DataError(missing)
        transform = self.transform(train=split == "train")
        dataset = ImageFileDataset(self.samples[split], transform, self.resize)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            collate_fn=transform.collate,
            num_workers=min(self.num_workers, process_cpus()),  # a config's 4 on a 2-CPU machine: no more than 2
            pin_memory=self.pins_memory(),
            persistent_workers=self.persistent_workers,
            **shuffle_options(dataset, shuffle),
        )

    def pins_memory(self) -> bool:
        """Whether loaders return page-locked batches.

        Returns:
            ``pin_memory`` if it was given; otherwise whether the trainer runs on a CUDA device
            (without a trainer: whether CUDA is available), since pinning only speeds up copies
            to a GPU and costs a copy on the CPU.
        """
        if self.pin_memory is not None:
            return self.pin_memory
        if self.trainer is not None:
            return self.trainer.strategy.root_device.type == "cuda"
        return torch.cuda.is_available()

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:  # noqa: ANN401 (a loader's batch)
        """Normalise the ``uint8`` images of a batch on the device it was moved to (Lightning's hook).

        Args:
            batch: ``(images, labels)`` or images alone, as the loaders yield them.
            dataloader_idx: Which loader (unused).

        Returns:
            The batch with ``float32`` normalised images; a batch already in floats as it is.
        """
        pair = isinstance(batch, (tuple, list))
        images = batch[0] if pair else batch
        if images.dtype != torch.uint8:
            return batch
        normalised = self.normaliser.normalise(images)
        return (normalised, *batch[1:]) if pair else normalised

    def predict_split(self) -> str:
        """The test images if there are any, else the validation images.

        Sets ``predict_ids`` to their paths, in order, for the prediction file.

        Returns:
            ``"test"`` or ``"val"``.
        """
        split = "test" if "test" in self.samples else "val"
        self.predict_ids = [str(path) for path, _ in self.samples[split]]
        return split
