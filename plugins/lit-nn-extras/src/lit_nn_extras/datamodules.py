"""2-D toy problems that need a non-linear model, a noisy sine for quantile regression, multi-label data.

They build on lit_nn's in-memory datamodule, so splitting, standardisation and batching come
from lit_nn and only the data is new.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.datasets import make_moons, make_multilabel_classification

from lit_nn.data.arrays import ArrayDataModule
from lit_nn.data.base import DataError, check_positive


class TwoMoons(ArrayDataModule):
    """Two interleaved half circles (binary); no straight line separates them.

    Args:
        num_samples: Number of points.
        noise: Standard deviation of Gaussian noise added to the points.
        **kwargs: lit_nn ``ArrayDataModule`` arguments (``batch_size``, ``seed``, …).
    """

    def __init__(self, num_samples: int = 1000, noise: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_positive("num_samples", num_samples)
        x, y = make_moons(num_samples, noise=noise, random_state=self.seed)
        self.set_arrays(x, y, "binary")


class Spirals(ArrayDataModule):
    """Interleaved spiral arms, one class per arm (the textbook case for stacked non-linear layers).

    Args:
        num_samples: Points per arm.
        num_classes: Number of arms (at least 2).
        turns: Turns per arm; more is harder.
        noise: Standard deviation of Gaussian noise.
        **kwargs: lit_nn ``ArrayDataModule`` arguments.
    """

    def __init__(
        self, num_samples: int = 300, num_classes: int = 3, turns: float = 1.5, noise: float = 0.05, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        check_positive("num_samples", num_samples)
        if num_classes < 2:
            raise DataError(f"num_classes must be at least 2, got {num_classes}")
        rng = np.random.default_rng(self.seed)
        radius = np.linspace(0.05, 1.0, num_samples)
        points, labels = [], []
        for arm in range(num_classes):
            angle = 2 * np.pi * (turns * radius + arm / num_classes)
            xy = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
            points.append(xy + rng.normal(0, noise, xy.shape))
            labels.append(np.full(num_samples, arm))
        self.set_arrays(np.concatenate(points), np.concatenate(labels), "binary" if num_classes == 2 else "multiclass")


class NoisySine(ArrayDataModule):
    """``y = sin(x) + ε`` with noise growing with ``|x|``: a target whose quantiles spread apart.

    Args:
        num_samples: Number of points.
        periods: Periods of the sine covered by ``x``.
        noise: Noise standard deviation at the edges of the range (none at the centre).
        **kwargs: lit_nn ``ArrayDataModule`` arguments.
    """

    def __init__(self, num_samples: int = 2000, periods: float = 3.0, noise: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_positive("num_samples", num_samples)
        rng = np.random.default_rng(self.seed)
        x = rng.uniform(-np.pi * periods, np.pi * periods, num_samples)
        y = np.sin(x) + rng.normal(0, 1, num_samples) * noise * np.abs(x) / (np.pi * periods)
        self.set_arrays(x[:, None], y, "regression")


class MultilabelBlobs(ArrayDataModule):
    """Documents drawn from topics, each with one or more topic labels (scikit-learn's generator).

    Args:
        num_samples: Number of samples.
        num_features: Features per sample (word counts).
        num_labels: Number of labels.
        labels_per_sample: Average number of labels a sample has.
        **kwargs: lit_nn ``ArrayDataModule`` arguments.
    """

    def __init__(
        self,
        num_samples: int = 1000,
        num_features: int = 20,
        num_labels: int = 5,
        labels_per_sample: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("num_samples", num_samples), ("num_features", num_features), ("num_labels", num_labels)):
            check_positive(name, value)
        x, y = make_multilabel_classification(
            num_samples, num_features, n_classes=num_labels, n_labels=labels_per_sample, random_state=self.seed
        )
        self.set_arrays(x, y, "indicators")
