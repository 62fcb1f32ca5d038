"""K-fold cross-validation folds: the interface a datamodule offers, and the folds made from it.

A datamodule that can be cross-validated (``lit-nn cv``) has two methods:

``fold_samples(groups: str | None) -> FoldSamples``
    The samples folds are drawn from (its *pool*: every sample outside its own test split, which
    stays untouched), described by what folds must respect: class labels (stratification),
    groups (``--cv.groups``: a group's samples stay in one fold) and content keys (exact copies
    stay in one fold, so no sample is validated against its own copy).
``use_fold(train: np.ndarray, held_out: np.ndarray) -> None``
    From now on train on the pool positions ``train`` (less a validation share of them, which
    chooses the checkpoint as the datamodule's own validation split does) and serve the pool
    positions ``held_out`` as the ``test`` split, which ``predict`` also reads.

lit_nn's own datamodules (arrays, CSV, bundled sets, image folders) have both; a third-party
datamodule adds them to be cross-validated (docs/plugins.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from lit_nn.data.base import DataError

INTERFACE = ("fold_samples", "use_fold")
"""The methods a datamodule needs for cross-validation."""


@dataclass(frozen=True)
class FoldSamples:
    """The samples a datamodule's folds are drawn from.

    Attributes:
        ids: Each sample's name in prediction files (source row number, file path).
        labels: Class labels to stratify by, or ``None`` (regression, indicators).
        groups: Group of each sample (``--cv.groups``), or ``None``.
        keys: Content key of each sample (equal for exact copies), or ``None``.
        features: The features as the datamodule feeds them before scaling, one row per sample
            (for a classical baseline), or ``None`` (images).
        targets: The targets (class index or values), for a baseline.
        class_names: The name of each class index in ``labels``, for messages, or ``None``.
    """

    ids: list[Any]
    labels: np.ndarray | None
    groups: np.ndarray | None
    keys: np.ndarray | None
    features: np.ndarray | None = None
    targets: np.ndarray | None = None
    class_names: Sequence[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)


def check_foldable(datamodule: object) -> None:
    """Refuse a datamodule that cannot make folds, naming what to add.

    Args:
        datamodule: The datamodule.

    Raises:
        DataError: When it lacks :data:`INTERFACE`.
    """
    missing = [name for name in INTERFACE if not callable(getattr(datamodule, name, None))]
    if missing:
        raise DataError(
            f"{type(datamodule).__name__} cannot make cross-validation folds: it has no "
            f"{' and no '.join(f'{m}()' for m in missing)}; add them as docs/plugins.md shows "
            "(lit_nn.data.folds describes both)"
        )


def _together(groups: np.ndarray | None, keys: np.ndarray | None, count: int) -> np.ndarray | None:
    """One group id per sample such that a user group, and every set of exact copies, is one group."""
    if groups is None and keys is None:
        return None
    parent = np.arange(count)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for column in (c for c in (groups, keys) if c is not None):
        _, first = np.unique(column, return_inverse=True)
        leader: dict[int, int] = {}
        for i, value in enumerate(first.tolist()):
            j = leader.setdefault(value, i)
            if j != i:
                parent[root(i)] = root(j)
    return np.array([root(i) for i in range(count)])


def _class_name(samples: FoldSamples, label: Any) -> str:  # noqa: ANN401 (a label as the datamodule gives it)
    """A class's name (``malignant``) where the samples name their class indices, else the label (``0``)."""
    names = samples.class_names
    if names is not None and isinstance(label, (int, np.integer)) and 0 <= label < len(names):
        return str(names[int(label)])
    return str(label)


def make_folds(samples: FoldSamples, folds: int, repeats: int = 1, seed: int = 0) -> list[np.ndarray]:
    """Held-out pool positions of every fold: ``repeats`` shuffled K-fold partitions, one after another.

    Stratified by class when the samples have labels; a group (and every set of exact copies)
    never split. Each repeat reshuffles with its own seed (``seed + repeat``), so the same seed
    gives the same folds on every machine.

    Args:
        samples: The pool (:meth:`fold_samples`).
        folds: K, 2 or more.
        repeats: How many times to partition (iterated K-fold).
        seed: Seed of the shuffles.

    Returns:
        ``folds * repeats`` sorted position arrays; those of one repeat partition the pool.

    Raises:
        DataError: For fewer than 2 folds, fewer than 1 repeat, more folds than samples (or groups,
            or samples of a class).
    """
    if folds < 2:
        raise DataError(f"--cv.folds must be 2 or more (each fold is held out once), got {folds}")
    if repeats < 1:
        raise DataError(f"--cv.repeats must be 1 or more, got {repeats}")
    count = len(samples)
    together = _together(samples.groups, samples.keys, count)
    if folds > count:
        raise DataError(f"--cv.folds {folds} is more than the {count} samples to fold; use fewer folds")
    if samples.labels is not None:
        labels, sizes = np.unique(samples.labels, return_counts=True)
        if sizes.min() < folds:
            raise DataError(
                f"--cv.folds {folds} is more than the {sizes.min()} samples of class "
                f"{_class_name(samples, labels[sizes.argmin()])}: every fold must hold each class; use at most "
                f"{sizes.min()} folds"
            )
    if together is not None and len(np.unique(together)) < folds:
        raise DataError(
            f"--cv.folds {folds} is more than the {len(np.unique(together))} groups the samples form (groups and "
            "exact copies stay in one fold); use fewer folds"
        )
    position = np.arange(count)
    held: list[np.ndarray] = []
    for repeat in range(repeats):
        state = seed + repeat
        splitter: Any
        if together is not None and len(np.unique(together)) < count:
            splitter = (
                StratifiedGroupKFold(folds, shuffle=True, random_state=state)
                if samples.labels is not None
                else GroupKFold(folds, shuffle=True, random_state=state)
            )
            parts = splitter.split(position, samples.labels, groups=together)
        else:
            splitter = (
                StratifiedKFold(folds, shuffle=True, random_state=state)
                if samples.labels is not None
                else KFold(folds, shuffle=True, random_state=state)
            )
            parts = splitter.split(position, samples.labels)
        held += [np.sort(test) for _, test in parts]
    return held


def training_part(count: int, held_out: np.ndarray) -> np.ndarray:
    """The pool positions a fold trains on: every one not held out.

    Args:
        count: Pool size.
        held_out: The fold's held-out positions.

    Returns:
        The sorted positions.
    """
    return np.setdiff1d(np.arange(count), held_out)
