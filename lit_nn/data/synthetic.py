"""Seeded synthetic data of a chosen size and difficulty."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn import datasets

from lit_nn.data.arrays import ArrayDataModule
from lit_nn.data.base import DataError, check_positive


def _check_size(num_samples: int, num_features: int) -> None:
    check_positive("num_samples", num_samples)
    check_positive("num_features", num_features)


class SyntheticRegression(ArrayDataModule):
    """Regression targets from features, with Gaussian noise.

    Args:
        num_samples: Number of samples.
        num_features: Number of features (at least 5 when ``nonlinear``).
        num_targets: Number of targets (1 when ``nonlinear``).
        noise: Noise standard deviation as a fraction of the targets' standard deviation.
        nonlinear: Friedman's function #1 (sines and squares; an MLP beats a linear model)
            instead of a random linear map.
        **kwargs: :class:`~lit_nn.data.arrays.ArrayDataModule` arguments.
    """

    def __init__(
        self,
        num_samples: int = 1000,
        num_features: int = 8,
        num_targets: int = 1,
        noise: float = 0.1,
        nonlinear: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_size(num_samples, num_features)
        check_positive("num_targets", num_targets)
        if noise < 0:
            raise DataError(f"noise must be 0 or more, got {noise}")
        if nonlinear and (num_features < 5 or num_targets != 1):
            raise DataError("nonlinear regression needs num_features >= 5 and num_targets = 1")
        if nonlinear:
            x, y = datasets.make_friedman1(num_samples, num_features, noise=0.0, random_state=self.seed)
        else:
            x, y = datasets.make_regression(num_samples, num_features, n_targets=num_targets, random_state=self.seed)
        y = y + noise * y.std(axis=0) * np.random.default_rng(self.seed).standard_normal(y.shape)
        self.set_arrays(x, y, "regression")


class SyntheticClassification(ArrayDataModule):
    """Gaussian clusters per class (scikit-learn's ``make_classification``).

    Args:
        num_samples: Number of samples.
        num_features: Number of features.
        num_classes: Number of classes.
        class_sep: Distance between classes; smaller is harder.
        label_noise: Fraction of labels assigned at random.
        **kwargs: :class:`~lit_nn.data.arrays.ArrayDataModule` arguments.
    """

    def __init__(
        self,
        num_samples: int = 1000,
        num_features: int = 8,
        num_classes: int = 4,
        class_sep: float = 1.0,
        label_noise: float = 0.01,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_size(num_samples, num_features)
        if num_classes < 2:
            raise DataError(f"num_classes must be at least 2, got {num_classes}")
        if not 0.0 <= label_noise <= 1.0:
            raise DataError(f"label_noise must be in [0, 1], got {label_noise}")
        informative = min(num_features, max(2, math.ceil(math.log2(2 * num_classes))))
        if 2**informative < 2 * num_classes:
            raise DataError(f"{num_features} features cannot separate {num_classes} classes; add features")
        x, y = datasets.make_classification(
            num_samples,
            num_features,
            n_informative=informative,
            n_redundant=0,
            n_classes=num_classes,
            class_sep=class_sep,
            flip_y=label_noise,
            random_state=self.seed,
        )
        self.set_arrays(x, y, "binary" if num_classes == 2 else "multiclass")


class SyntheticBinary(SyntheticClassification):
    """Two Gaussian classes (see :class:`SyntheticClassification`).

    Args:
        num_samples: Number of samples.
        num_features: Number of features.
        class_sep: Distance between classes; smaller is harder.
        label_noise: Fraction of labels assigned at random.
        **kwargs: :class:`~lit_nn.data.arrays.ArrayDataModule` arguments.
    """

    def __init__(
        self,
        num_samples: int = 1000,
        num_features: int = 8,
        class_sep: float = 1.0,
        label_noise: float = 0.01,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_samples, num_features, 2, class_sep, label_noise, **kwargs)
