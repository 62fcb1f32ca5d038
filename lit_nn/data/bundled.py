"""scikit-learn's bundled real datasets: digits, breast_cancer and diabetes (no download)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from sklearn import datasets
from torch import Tensor

from lit_nn.data.arrays import ArrayDataModule
from lit_nn.data.base import DataError


class RandomShift:
    """Translate each image of a batch by up to ``max_shift`` pixels, filling with its minimum.

    Args:
        max_shift: Largest shift in pixels, in each direction.
    """

    def __init__(self, max_shift: int) -> None:
        self.max_shift = max_shift

    def __call__(self, x: Tensor) -> Tensor:
        """Shift a batch.

        Args:
            x: ``(batch, channels, height, width)``.

        Returns:
            The shifted batch, same shape.
        """
        s, (b, c, h, w) = self.max_shift, x.shape
        low = x.amin(dim=(1, 2, 3), keepdim=True)
        padded = F.pad(x - low, (s, s, s, s)) + low
        rows = torch.randint(0, 2 * s + 1, (b, 1)) + torch.arange(h)
        cols = torch.randint(0, 2 * s + 1, (b, 1)) + torch.arange(w)
        batch = torch.arange(b)[:, None, None, None]
        channel = torch.arange(c)[None, :, None, None]
        return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


class Digits(ArrayDataModule):
    """Handwritten digits 0–9, 1,797 images of 8x8 pixels (multiclass).

    Args:
        as_images: Serve ``(1, 8, 8)`` images (for ``cnn``) rather than 64-vectors.
        max_shift: Random translation of training images, in pixels (images only; 0 = none).
        **kwargs: :class:`~lit_nn.data.arrays.ArrayDataModule` arguments (``batch_size``,
            ``val_fraction``, ``test_fraction``, ``seed``, ``num_workers``, ``standardize``).
    """

    def __init__(self, as_images: bool = True, max_shift: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if max_shift < 0 or (max_shift and not as_images):
            raise DataError(f"max_shift must be 0 or more and needs as_images=True, got {max_shift}")
        self.as_images, self.max_shift = as_images, max_shift
        self.per_feature_scaling = not as_images
        data = datasets.load_digits()
        features = data.data.reshape(-1, 1, 8, 8) if as_images else data.data
        self.set_arrays(features, data.target, "multiclass")
        self.class_names = [str(n) for n in data.target_names]

    def train_transform(self) -> RandomShift | None:
        """Random shifts of training images when ``max_shift`` is set.

        Returns:
            The augmentation, or ``None``.
        """
        return RandomShift(self.max_shift) if self.max_shift else None


class BreastCancer(ArrayDataModule):
    """Wisconsin breast cancer, 569 samples of 30 features (binary: 1 = benign).

    Args:
        **kwargs: :class:`~lit_nn.data.arrays.ArrayDataModule` arguments.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        data = datasets.load_breast_cancer()
        self.set_arrays(data.data, data.target, "binary")
        self.class_names = [str(n) for n in data.target_names]


class Diabetes(ArrayDataModule):
    """Diabetes progression after one year, 442 samples of 10 features (regression).

    Args:
        **kwargs: :class:`~lit_nn.data.arrays.ArrayDataModule` arguments.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        data = datasets.load_diabetes(scaled=False)
        self.set_arrays(data.data, data.target, "regression")
