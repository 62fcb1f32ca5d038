"""Datamodules over in-memory arrays: train-only standardisation, fast batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lit_nn.data.base import DataError, SplitDataModule, check_positive
from lit_nn.data.fitted import fitted_state
from lit_nn.data.folds import FoldSamples
from lit_nn.data.redundancy import row_keys
from lit_nn.data.sampling import shuffle_options
from lit_nn.data.splits import Split, check_fractions, split_indices

TaskType = Literal["regression", "binary", "multiclass", "indicators"]
"""What the targets are: values, a class label, or ``indicators`` (a row of independent 0/1 flags per sample)."""

SIZE_NAMES: dict[str, str] = {"regression": "num_targets", "indicators": "num_labels"}
"""The attribute that counts each target type's outputs (``num_classes`` for class labels)."""


def keep_batch(batch: Any) -> Any:  # noqa: ANN401 (whatever __getitems__ returned)
    """Collate function for :class:`TensorBatchDataset`: its batches come already stacked.

    Args:
        batch: ``(features, targets)``.

    Returns:
        The same object.
    """
    return batch


def all_finite(values: np.ndarray, rows_at_once: int = 1 << 16) -> bool:
    """Whether every value is finite, checked a slice of rows at a time (no mask as large as the data).

    Args:
        values: ``(N, ...)`` numbers.
        rows_at_once: Rows per slice.

    Returns:
        ``True`` when there is no NaN or infinity.
    """
    return all(np.isfinite(values[lo : lo + rows_at_once]).all() for lo in range(0, len(values), rows_at_once))


class TensorBatchDataset(Dataset):
    """Features and targets indexed a whole batch at a time (``__getitems__``), not per sample.

    Args:
        features: ``(N, *input_shape)``.
        targets: ``(N,)`` or ``(N, T)``; ``None`` for unlabelled data (batches are features only).
        transform: Applied to each feature batch (augmentation), or ``None``.
    """

    def __init__(
        self, features: Tensor, targets: Tensor | None, transform: Callable[[Tensor], Tensor] | None = None
    ) -> None:
        self.features, self.targets, self.transform = features, targets, transform

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> Any:  # noqa: ANN401 (a pair, or features alone)
        batch = self.__getitems__([index])
        return batch[0] if self.targets is None else (batch[0][0], batch[1][0])

    def __getitems__(self, indices: Sequence[int]) -> Any:  # noqa: ANN401
        index = torch.as_tensor(indices, dtype=torch.long)
        x = self.features[index]
        x = self.transform(x) if self.transform else x
        return x if self.targets is None else (x, self.targets[index])


class ArrayDataModule(SplitDataModule):
    """Base of the datamodules whose data fits in memory.

    A subclass loads ``features`` (``(N, *input_shape)``) and ``targets`` in its constructor and
    sets ``task``; this class splits, standardises (statistics from the training split only) and
    serves batches. Exposes ``input_shape`` and ``num_classes``, ``num_targets`` or ``num_labels``
    (``indicators``) at once.

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
    content_basis = "feature values"
    whole = False
    """Evaluate on every row: new data given to a trained model, not split."""
    per_feature_scaling = True
    targets: np.ndarray | None
    scaled_features: np.ndarray | None = None
    """Boolean mask of the features to standardise (``None``: all); one-hot columns stay 0/1."""
    fold: Split | None = None
    """The split of one cross-validation fold (:meth:`use_fold`), replacing the seeded one."""

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
        self.feature_stats: tuple[Tensor, Tensor] | None = None
        self.fitted = fitted_state()
        """The training preprocessing to apply (evaluating a checkpoint), or ``None`` to learn it."""

    def set_arrays(self, features: np.ndarray, targets: np.ndarray, task: TaskType) -> None:
        """Store the data and derive ``input_shape`` and the class or target count.

        Args:
            features: ``(N, *input_shape)`` numbers.
            targets: Class indices ``(N,)`` for classification; values ``(N,)`` or ``(N, T)``
                for regression; 0/1 flags ``(N, L)`` for ``indicators``.
            task: What the targets are.

        Raises:
            DataError: On labels that are not ``0 … C-1`` or on non-finite values.
        """
        self.features = np.asarray(features, dtype=np.float32)
        self.task = task
        if not all_finite(self.features):
            raise DataError(f"{type(self).__name__}: the features contain NaN or infinite values")
        self.input_shape = tuple(self.features.shape[1:])
        if task == "regression":
            self.targets = np.asarray(targets, dtype=np.float32)
            self.num_targets = 1 if self.targets.ndim == 1 else self.targets.shape[1]
            return
        if task == "indicators":
            self.targets = np.asarray(targets)
            if self.targets.ndim != 2 or not np.isin(self.targets, (0, 1)).all():
                raise DataError(f"{type(self).__name__}: indicator targets must be 0/1 of shape (N, labels)")
            self.targets = self.targets.astype(np.int64)
            self.num_labels = self.targets.shape[1]
            return
        self.targets = np.asarray(targets)
        if not np.issubdtype(self.targets.dtype, np.integer) or self.targets.min() < 0:
            raise DataError(f"{type(self).__name__}: class labels must be integers 0, 1, …; got {self.targets[:5]}")
        self.num_classes = int(self.targets.max()) + 1
        if self.num_classes == 1:
            raise DataError(
                f"{type(self).__name__}: the data holds a single class (label 0); a classifier needs at least two: "
                "check the target column or the split"
            )
        missing = sorted(set(range(self.num_classes)) - set(np.unique(self.targets).tolist()))
        if missing:
            raise DataError(f"{type(self).__name__}: no sample has the class label(s) {missing[:10]}")
        if task == "binary" and self.num_classes != 2:
            raise DataError(
                f"{type(self).__name__}: binary data needs labels 0 and 1, found {self.num_classes} classes; "
                "use a multiclass task (--data.task multiclass where the datamodule takes it)"
            )

    def set_unlabelled(self, features: np.ndarray) -> None:
        """Store features without targets, sized by the training data (:attr:`fitted`).

        Args:
            features: ``(N, *input_shape)`` numbers.

        Raises:
            DataError: On non-finite values, or when no training state says what the targets were.
        """
        if not self.fitted:
            raise DataError(f"{type(self).__name__}: data without targets can only be predicted by a trained model")
        self.features = np.asarray(features, dtype=np.float32)
        if not all_finite(self.features):
            raise DataError(f"{type(self).__name__}: the features contain NaN or infinite values")
        self.input_shape = tuple(self.features.shape[1:])
        self.task, self.labelled, self.whole, self.targets = self.fitted["task"], False, True, None
        size = SIZE_NAMES.get(self.task, "num_classes")
        setattr(self, size, int(self.fitted[size]))

    def set_absent(self, input_shape: Sequence[int], why: str) -> None:
        """Stand on the fitted state alone, without samples: the training data is gone.

        The task and its class or target count come from :attr:`fitted`, and :meth:`setup` still
        gives its standardisation, so what inference needs is complete; every loader says ``why``.

        Args:
            input_shape: One sample's shape, from the fitted state.
            why: :attr:`absent`'s line (:func:`~lit_nn.data.fitted.gone_line`).
        """
        self.set_unlabelled(np.zeros((0, *input_shape), np.float32))
        self.absent = why

    def state_dict(self) -> dict[str, Any]:
        """What this datamodule learned from its training split, for checkpoints (plain values).

        Returns:
            The task, its class or target count and the standardisation statistics; ``{}``
            before :meth:`setup`.
        """
        if not self.datasets:
            return {}
        size = SIZE_NAMES.get(self.task, "num_classes")
        state: dict[str, Any] = {"task": self.task, size: int(getattr(self, size))}
        if self.feature_stats is not None:
            state["feature_mean"], state["feature_std"] = (t.tolist() for t in self.feature_stats)
        if self.target_stats is not None:
            state["target_mean"], state["target_std"] = (t.tolist() for t in self.target_stats)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Apply the training preprocessing from now on (Lightning calls this when resuming).

        Args:
            state_dict: What :meth:`state_dict` returned.
        """
        self.fitted = dict(state_dict) or None

    def split(self) -> Split:
        """The train/validation/test row indices for this seed (every row in each, for :attr:`whole` data).

        Returns:
            The split (stratified for classification); a fold's when :meth:`use_fold` chose one.
        """
        if self.fold is not None:
            return self.fold
        if self.whole:
            every = np.arange(len(self.features))
            return Split(every[:0], every, every)
        assert self.targets is not None  # labelled data: unlabelled data is whole
        every = np.arange(len(self.targets))  # stratified by class label only
        return split_indices(len(every), self._labels_or_none(every), self.val_fraction, self.test_fraction, self.seed)

    def _labels_or_none(self, rows: np.ndarray) -> np.ndarray | None:
        """The class labels of ``rows`` to stratify by; ``None`` for values and indicators."""
        return None if self.targets is None or self.task in SIZE_NAMES else self.targets[rows]

    def pool_rows(self) -> np.ndarray:
        """The rows folds are drawn from: every row outside the seeded test split.

        Returns:
            Sorted row numbers.
        """
        fold, self.fold = self.fold, None
        try:
            own = self.split()
        finally:
            self.fold = fold
        return np.sort(np.concatenate([own.train, own.val]))

    def group_values(self, column: str) -> np.ndarray:
        """Each row's group, from a column of the data (``--cv.groups``).

        Args:
            column: The column.

        Raises:
            DataError: Always here: in-memory arrays have no columns to group by (CSV data has).
        """
        raise DataError(
            f"--cv.groups {column}: {type(self).__name__} has no columns to group by; groups need tabular data "
            "(the csv datamodule: --data csv --data.path FILE)"
        )

    def fold_samples(self, groups: str | None = None) -> FoldSamples:
        """The rows outside the test split, as folds see them (:mod:`lit_nn.data.folds`).

        Args:
            groups: A column whose values keep rows together, or ``None``.

        Returns:
            Row numbers as ids, class labels (classification), groups, content keys of the raw
            features (exact copies stay together), the raw features flattened, the targets and the
            class names (where the datamodule has them).
        """
        if self.whole or self.targets is None:
            raise DataError(f"{self.describe_source()} is new data for a trained model: it cannot be folded")
        rows = self.pool_rows()
        grouped = None if groups is None else self.group_values(groups)[rows]
        features = self.features[rows]
        return FoldSamples(
            ids=rows.tolist(),
            labels=self._labels_or_none(rows),
            groups=grouped,
            keys=row_keys(features),
            features=features.reshape(len(rows), -1),
            targets=self.targets[rows],
            class_names=getattr(self, "class_names", None),
        )

    def use_fold(self, train: np.ndarray, held_out: np.ndarray) -> None:
        """Train on a fold's training part and test on its held-out part (:mod:`lit_nn.data.folds`).

        The validation split (which chooses the checkpoint) is drawn from the training part at the
        datamodule's own validation share, stratified and seeded; standardisation is learnt again
        from the fold's training rows.

        Args:
            train: Positions in :meth:`fold_samples` to train on.
            held_out: Positions to hold out: the ``test`` split from now on.
        """
        rows = self.pool_rows()
        trained = rows[np.asarray(train, dtype=np.int64)]
        share = self.val_fraction / (1.0 - self.test_fraction)
        inner = split_indices(len(trained), self._labels_or_none(trained), share, 0.0, self.seed)
        self.fold = Split(trained[inner.train], trained[inner.val], np.sort(rows[np.asarray(held_out, dtype=np.int64)]))
        self.datasets, self.feature_stats, self.target_stats = {}, None, None

    def content_keys(self, split: str) -> np.ndarray:
        """Keys of the split's raw feature rows (before standardisation), from :meth:`split`.

        Rows are compared as the ``float32`` features the model is given, so CSV rows that differ
        only in their target, or in how a number is written (``1.0``, ``1``), are copies.

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.

        Returns:
            One :func:`~lit_nn.data.redundancy.row_keys` key per row of the split.
        """
        rows: np.ndarray = getattr(self.split(), split)
        return row_keys(self.features[rows])

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
        y = None if self.targets is None else torch.from_numpy(self.targets)
        y = y.long() if y is not None and self.task != "regression" else y
        if self.standardize:
            self.feature_stats = self._feature_stats(x[split.train])
            x = x.sub(self.feature_stats[0]).div_(self.feature_stats[1])  # one copy, not two
            if self.fitted and "target_mean" in self.fitted:
                self.target_stats = (torch.tensor(self.fitted["target_mean"]), torch.tensor(self.fitted["target_std"]))
            elif self.task == "regression" and y is not None:
                target_std = y[split.train].std(dim=0).reshape(-1)
                self.target_stats = (
                    y[split.train].mean(dim=0).reshape(-1),
                    torch.where(target_std > 1e-8, target_std, 1.0),
                )
        for name, rows in (("train", split.train), ("val", split.val), ("test", split.test)):
            index = torch.from_numpy(rows)
            transform = self.train_transform() if name == "train" else None
            self.datasets[name] = TensorBatchDataset(x[index], None if y is None else y[index], transform)

    def _feature_stats(self, train: Tensor) -> tuple[Tensor, Tensor]:
        """The mean and (non-zero) standard deviation to standardise with: the training split's, or the fitted ones."""
        if self.fitted and "feature_mean" in self.fitted:
            return torch.tensor(self.fitted["feature_mean"]), torch.tensor(self.fitted["feature_std"])
        dims = 0 if self.per_feature_scaling else tuple(range(train.dim()))
        mean, std = train.mean(dim=dims), train.std(dim=dims)
        if self.scaled_features is not None:
            keep = torch.from_numpy(~self.scaled_features)
            mean, std = mean.masked_fill(keep, 0.0), std.masked_fill(keep, 1.0)
        return mean, torch.where(std > 1e-8, std, torch.ones_like(std))

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
