"""Datamodules over in-memory arrays: seeded splits, train-only standardisation, fast batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lit_nn.data.base import SplitDataModule
from lit_nn.data.sampling import shuffle_options
from lit_nn.errors import LitNNError

TaskType = Literal["regression", "binary", "multiclass"]


class DataError(LitNNError, ValueError):
    """Data that cannot be used as given; the message names the file, column or row."""


def check_positive(name: str, value: float) -> None:
    """Refuse a zero or negative setting.

    Args:
        name: The argument's name.
        value: Its value.

    Raises:
        DataError: If ``value <= 0``.
    """
    if value <= 0:
        raise DataError(f"{name} must be positive, got {value}")


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Refuse split fractions that leave no training data.

    Args:
        val_fraction: Share of samples for validation.
        test_fraction: Share of samples for testing.

    Raises:
        DataError: If a fraction is outside ``[0, 1)`` or they add up to 1 or more.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise DataError(f"{name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise DataError(f"val_fraction + test_fraction must be below 1, got {val_fraction + test_fraction}")


@dataclass(frozen=True)
class Split:
    """Row indices of each split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_indices(n: int, labels: np.ndarray | None, val_fraction: float, test_fraction: float, seed: int) -> Split:
    """Split ``range(n)`` at random, stratified by ``labels`` when given.

    Args:
        n: Number of samples.
        labels: Class labels to stratify by, or ``None``.
        val_fraction: Share for validation.
        test_fraction: Share for testing.
        seed: Random seed; the same seed gives the same split.

    Returns:
        The split.
    """
    index = np.arange(n)
    try:
        rest, test = (
            (index, index[:0])
            if test_fraction == 0
            else train_test_split(index, test_size=test_fraction, random_state=seed, stratify=labels)
        )
        if val_fraction == 0:
            return Split(np.sort(rest), index[:0], np.sort(test))
        stratify = None if labels is None else labels[rest]
        train, val = train_test_split(
            rest, test_size=val_fraction / (1 - test_fraction), random_state=seed, stratify=stratify
        )
    except ValueError as exc:  # scikit-learn's words for too few samples, per class or in all
        raise DataError(
            f"cannot split {n} samples into train/val/test at fractions {val_fraction}/{test_fraction}: {exc} "
            "Add samples, or lower val_fraction/test_fraction"
        ) from exc
    return Split(np.sort(train), np.sort(val), np.sort(test))


def keep_batch(batch: Any) -> Any:  # noqa: ANN401 (whatever __getitems__ returned)
    """Collate function for :class:`TensorBatchDataset`: its batches come already stacked.

    Args:
        batch: ``(features, targets)``.

    Returns:
        The same object.
    """
    return batch


class TensorBatchDataset(Dataset):
    """Features and targets indexed a whole batch at a time (``__getitems__``), not per sample.

    Args:
        features: ``(N, *input_shape)``.
        targets: ``(N,)`` or ``(N, T)``.
        transform: Applied to each feature batch (augmentation), or ``None``.
    """

    def __init__(self, features: Tensor, targets: Tensor, transform: Callable[[Tensor], Tensor] | None = None) -> None:
        self.features, self.targets, self.transform = features, targets, transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x, y = self.__getitems__([index])
        return x[0], y[0]

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        x = self.features[index]
        return (self.transform(x) if self.transform else x), self.targets[index]


class ArrayDataModule(SplitDataModule):
    """Base of the datamodules whose data fits in memory.

    A subclass loads ``features`` (``(N, *input_shape)``) and ``targets`` in its constructor and
    sets ``task``; this class splits, standardises (statistics from the training split only) and
    serves batches. Exposes ``input_shape`` and ``num_classes`` or ``num_targets`` at once.

    Args:
        batch_size: Samples per batch.
        val_fraction: Share of samples for validation.
        test_fraction: Share of samples for testing.
        seed: Seed of the split (and of generated data).
        num_workers: DataLoader worker processes (0 loads in the main process, fastest for
            in-memory data).
        standardize: Standardise features (and regression targets, for the task).
    """

    task: TaskType
    per_feature_scaling = True
    scaled_features: np.ndarray | None = None
    """Boolean mask of the features to standardise (``None``: all); one-hot columns stay 0/1."""

    def __init__(
        self,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
        num_workers: int = 0,
        standardize: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_positive("batch_size", batch_size)
        check_fractions(val_fraction, test_fraction)
        if num_workers < 0:
            raise DataError(f"num_workers must be 0 or more, got {num_workers}")
        self.batch_size, self.val_fraction, self.test_fraction = batch_size, val_fraction, test_fraction
        self.seed, self.num_workers, self.standardize = seed, num_workers, standardize
        self.datasets: dict[str, TensorBatchDataset] = {}
        self.target_stats: tuple[Tensor, Tensor] | None = None

    def set_arrays(self, features: np.ndarray, targets: np.ndarray, task: TaskType) -> None:
        """Store the data and derive ``input_shape`` and the class or target count.

        Args:
            features: ``(N, *input_shape)`` numbers.
            targets: Class indices ``(N,)`` for classification; values ``(N,)`` or ``(N, T)``
                for regression.
            task: What the targets are.

        Raises:
            DataError: On labels that are not ``0 … C-1`` or on non-finite values.
        """
        self.features = np.asarray(features, dtype=np.float32)
        self.task = task
        if not np.isfinite(self.features).all():
            raise DataError(f"{type(self).__name__}: the features contain NaN or infinite values")
        self.input_shape = tuple(self.features.shape[1:])
        if task == "regression":
            self.targets = np.asarray(targets, dtype=np.float32)
            self.num_targets = 1 if self.targets.ndim == 1 else self.targets.shape[1]
            return
        self.targets = np.asarray(targets)
        if not np.issubdtype(self.targets.dtype, np.integer) or self.targets.min() < 0:
            raise DataError(f"{type(self).__name__}: class labels must be integers 0, 1, …; got {self.targets[:5]}")
        self.num_classes = int(self.targets.max()) + 1
        missing = sorted(set(range(self.num_classes)) - set(np.unique(self.targets).tolist()))
        if missing:
            raise DataError(f"{type(self).__name__}: no sample has the class label(s) {missing[:10]}")
        if task == "binary" and self.num_classes != 2:
            raise DataError(
                f"{type(self).__name__}: binary data needs labels 0 and 1, found {self.num_classes} classes"
            )

    def split(self) -> Split:
        """The train/validation/test row indices for this seed.

        Returns:
            The split (stratified for classification).
        """
        labels = None if self.task == "regression" else self.targets
        return split_indices(len(self.targets), labels, self.val_fraction, self.test_fraction, self.seed)

    def train_transform(self) -> Callable[[Tensor], Tensor] | None:
        """Augmentation applied to training batches; none by default.

        Returns:
            A function of a feature batch, or ``None``.
        """
        return None

    def setup(self, stage: str | None = None) -> None:
        """Split and standardise once; later calls do nothing.

        Args:
            stage: Lightning's stage (all splits are prepared whatever it is).
        """
        if self.datasets:
            return
        split = self.split()
        self.predict_ids = split.test.tolist()  # source row numbers, for prediction files
        x = torch.from_numpy(self.features)
        y = torch.from_numpy(self.targets)
        y = y.long() if self.task != "regression" else y
        if self.standardize:
            train = x[split.train]
            dims = 0 if self.per_feature_scaling else tuple(range(train.dim()))
            mean, std = train.mean(dim=dims), train.std(dim=dims)
            if self.scaled_features is not None:
                keep = torch.from_numpy(~self.scaled_features)
                mean, std = mean.masked_fill(keep, 0.0), std.masked_fill(keep, 1.0)
            x = (x - mean) / torch.where(std > 1e-8, std, torch.ones_like(std))
            if self.task == "regression":
                target_std = y[split.train].std(dim=0)
                self.target_stats = (y[split.train].mean(dim=0), torch.where(target_std > 1e-8, target_std, 1.0))
        for name, rows in (("train", split.train), ("val", split.val), ("test", split.test)):
            index = torch.from_numpy(rows)
            transform = self.train_transform() if name == "train" else None
            self.datasets[name] = TensorBatchDataset(x[index], y[index], transform)

    def loader(self, split: str, shuffle: bool = False) -> DataLoader:
        """Batches of one split, indexed a batch at a time.

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.
            shuffle: Shuffle every epoch.

        Returns:
            The loader.

        Raises:
            DataError: If the split is empty.
        """
        if split not in self.datasets:
            self.setup()
        if len(self.datasets[split]) == 0:
            raise DataError(f"{type(self).__name__} has no {split} data: set {split}_fraction above 0")
        dataset = self.datasets[split]
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=keep_batch,
            **shuffle_options(dataset, shuffle),
        )
