"""Seeded, stratified train/validation/test splits of row indices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from lit_nn.data.base import DataError


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
