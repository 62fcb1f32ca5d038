"""A trained task and its datamodule's preprocessing as one module: raw features in, predictions out.

Training feeds a task what its datamodule made of the data: standardised features, images resized,
cropped and normalised. A model shipped on its own has to do that itself, so
:class:`InferenceModel` puts the preprocessing the datamodule learned (its means and standard
deviations, its pixel normalisation) in front of the task and returns what ``lit-nn predict``
writes: probabilities and labels, or values in the targets' units.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lit_nn.data.base import DataError


class Standardise(nn.Module):
    """``(x - mean) / std`` with the training split's statistics.

    Args:
        mean: Per-feature means.
        std: Per-feature (non-zero) standard deviations.
    """

    mean: Tensor
    std: Tensor

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean.detach().to(torch.float32).clone())
        self.register_buffer("std", std.detach().to(torch.float32).clone())

    def forward(self, x: Tensor) -> Tensor:
        """Standardise a batch.

        Args:
            x: ``(N, *input_shape)`` raw features.

        Returns:
            The standardised features.
        """
        return (x.to(torch.float32) - self.mean) / self.std


class ImagePixels(nn.Module):
    """``uint8`` ``(N, H, W, 3)`` pixels to the normalised ``float32`` ``(N, 3, H, W)`` the task trained on.

    Args:
        mean: ``(1, 3, 1, 1)`` channel means on the 0…255 scale.
        scale: ``(1, 3, 1, 1)`` reciprocal channel standard deviations on that scale.
    """

    mean: Tensor
    scale: Tensor

    def __init__(self, mean: Tensor, scale: Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean.detach().to(torch.float32).clone())
        self.register_buffer("scale", scale.detach().to(torch.float32).clone())

    def forward(self, x: Tensor) -> Tensor:
        """Normalise a batch of pixels.

        Args:
            x: ``(N, H, W, 3)`` pixels, ``uint8`` or floats on the 0…255 scale.

        Returns:
            ``(N, 3, H, W)`` normalised ``float32`` images.
        """
        return (x.permute(0, 3, 1, 2).to(torch.float32) - self.mean) * self.scale


@dataclass
class Preprocessing:
    """What an exported model does to its input before the task, and what that input is.

    Attributes:
        module: Raw input to the task's input.
        input_shape: One raw sample's shape.
        input_dtype: The raw input's dtype name (``float32``, ``uint8``).
        description: For the metadata: how a consumer makes the raw input.
        details: Values a consumer needs (feature names, CSV encoding, image size).
    """

    module: nn.Module
    input_shape: tuple[int, ...]
    input_dtype: str
    description: str
    details: dict[str, Any] = field(default_factory=dict)


def preprocessing_of(datamodule: Any) -> Preprocessing:  # noqa: ANN401 (any LightningDataModule)
    """The preprocessing a datamodule applies between the raw data and the task.

    Args:
        datamodule: A set-up datamodule (lit_nn's array, CSV or image datamodules, or another
            whose batches go to the task as they are).

    Returns:
        The preprocessing, with what the metadata records about it.
    """
    shape = tuple(int(d) for d in datamodule.input_shape)
    normaliser = getattr(datamodule, "normaliser", None)
    if normaliser is not None:  # lit_nn's image datamodules: uint8 crops, normalised on the device
        side = int(datamodule.image_size)
        return Preprocessing(
            ImagePixels(normaliser.mean, normaliser.scale),
            (side, side, 3),
            "uint8",
            f"RGB pixels, height x width x channel, 0-255: the image resized so its shorter side is "
            f"{datamodule.resize} px (antialiased), then centre-cropped to {side} x {side}",
            {
                "image_size": side,
                "resize": int(datamodule.resize),
                "mean": list(datamodule.mean),
                "std": list(datamodule.std),
            },
        )
    details: dict[str, Any] = {}
    for name in ("feature_names", "encoding"):
        if getattr(datamodule, name, None) is not None:
            details[name] = getattr(datamodule, name)
    stats = getattr(datamodule, "feature_stats", None)
    if stats is not None:
        details.update(feature_mean=stats[0].tolist(), feature_std=stats[1].tolist())
        layout = " (categories one-hot, in feature_names order)" if "feature_names" in details else ""
        return Preprocessing(
            Standardise(*stats),
            shape,
            "float32",
            f"the features as the data holds them{layout}; the model "
            "standardises them with the training split's mean and std",
            details,
        )
    return Preprocessing(nn.Identity(), shape, "float32", "the features as the datamodule's batches hold them", details)


class InferenceModel(nn.Module):
    """Preprocessing, then the task's ``predict_outputs``, as a tuple in :attr:`output_names` order.

    Args:
        task: A trained lit_nn task (any LightningModule with ``predict_outputs``).
        preprocess: Raw input to the task's input.
    """

    task: Any  # a LightningModule with predict_outputs (Lightning is opaque to mypy)

    def __init__(self, task: nn.Module, preprocess: nn.Module) -> None:
        super().__init__()
        self.task, self.preprocess = task, preprocess
        self.output_names: list[str] = []

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """Predict for a batch of raw inputs.

        Args:
            x: ``(N, *input_shape)`` raw inputs.

        Returns:
            The task's outputs (``label`` and ``probability`` or ``probabilities``; or ``prediction``).
        """
        outputs = self.task.predict_outputs(self.preprocess(x))
        if not self.output_names:
            self.output_names = list(outputs)
        return tuple(outputs[name] for name in self.output_names)


def inference_model(task: nn.Module, datamodule: Any) -> tuple[InferenceModel, Preprocessing]:  # noqa: ANN401
    """The task behind its datamodule's preprocessing, in evaluation mode on the CPU.

    Args:
        task: The trained task, weights loaded.
        datamodule: Its set-up datamodule.

    Returns:
        The model (its :attr:`~InferenceModel.output_names` filled in) and its preprocessing.

    Raises:
        DataError: If the task has no ``predict_outputs`` (not a lit_nn task).
    """
    if not hasattr(task, "predict_outputs"):
        raise DataError(f"{type(task).__name__} has no predict_outputs(x); lit-nn exports and serves lit_nn tasks")
    preprocessing = preprocessing_of(datamodule)
    model = InferenceModel(task, preprocessing.module).eval().to("cpu")
    with torch.inference_mode():
        model(example_input(preprocessing, 2))
    return model, preprocessing


def example_input(preprocessing: Preprocessing, count: int) -> Tensor:
    """A batch of the raw input's shape and dtype (for tracing and exporting).

    Args:
        preprocessing: The model's preprocessing.
        count: Batch size.

    Returns:
        Zeros (``uint8`` mid-grey for images).
    """
    if preprocessing.input_dtype == "uint8":
        return torch.full((count, *preprocessing.input_shape), 128, dtype=torch.uint8)
    return torch.zeros((count, *preprocessing.input_shape), dtype=torch.float32)


def generated_input(preprocessing: Preprocessing, count: int, seed: int = 0) -> Tensor:
    """Raw inputs drawn from the model's input space, for checking an export where no data is.

    Images are uniform random pixels. Features are drawn standard-normal in the space the task
    sees and de-standardised with the training split's statistics, so each lies where training
    data lay; a CSV model's categories are valid one-hots (one level of each column, at random),
    laid out by its encoding as :func:`~lit_nn.data.csv_data.encode_records` lays out a record.

    Args:
        preprocessing: The model's preprocessing (:func:`preprocessing_of`).
        count: How many samples.
        seed: Seed of the draw (the same inputs every time).

    Returns:
        ``(count, *input_shape)`` raw inputs, in :attr:`Preprocessing.input_dtype`.
    """
    generator = torch.Generator().manual_seed(seed)
    shape = (count, *preprocessing.input_shape)
    if preprocessing.input_dtype == "uint8":
        return torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
    x = torch.randn(shape, generator=generator)
    module = preprocessing.module
    if isinstance(module, Standardise):
        x = x * module.std + module.mean
    encoding = preprocessing.details.get("encoding")
    if encoding is not None:
        at = 0
        for name in encoding["features"]:
            levels = encoding["columns"][name].get("levels")
            if levels is None:
                at += 1
                continue
            x[:, at : at + len(levels)] = 0.0
            x[torch.arange(count), at + torch.randint(0, len(levels), (count,), generator=generator)] = 1.0
            at += len(levels)
    return x


def generated_batches(
    preprocessing: Preprocessing, count: int, batch_size: int = 64
) -> Iterator[tuple[Tensor, Tensor]]:
    """:func:`generated_input` as :func:`test_batches` gives the test split: raw, and as the task takes it.

    Args:
        preprocessing: The model's preprocessing.
        count: How many samples in all.
        batch_size: Samples per batch.

    Yields:
        ``(raw, task_input)`` per batch, ``task_input`` being the preprocessing's own output.
    """
    raw = generated_input(preprocessing, count)
    for lo in range(0, count, batch_size):
        with torch.inference_mode():
            task_input = preprocessing.module(raw[lo : lo + batch_size])
        yield raw[lo : lo + batch_size], task_input


def test_batches(datamodule: Any, preprocessing: Preprocessing) -> Iterator[tuple[Tensor, Tensor]]:  # noqa: ANN401
    """The test split as raw inputs, beside what the datamodule feeds the task for them.

    Args:
        datamodule: The set-up datamodule.
        preprocessing: Its :func:`preprocessing_of`.

    Yields:
        ``(raw, task_input)`` per test batch: what an exported model takes, and the batch as
        ``lit-nn test`` hands it to the task.

    Raises:
        DataError: If the datamodule has no test split.
    """
    try:
        loader = datamodule.test_dataloader()
    except (DataError, NotImplementedError) as exc:
        raise DataError(f"the export is checked on the test split, and the datamodule has none ({exc})") from None
    raw_rows = None
    if isinstance(preprocessing.module, Standardise) and hasattr(datamodule, "features"):
        raw_rows = np.asarray(datamodule.features)[datamodule.split().test]
    at = 0
    for batch in loader:
        features = batch[0] if isinstance(batch, (tuple, list)) else batch
        if isinstance(preprocessing.module, ImagePixels):
            task_input = datamodule.on_after_batch_transfer(features, 0)
            yield features.permute(0, 2, 3, 1), task_input
        elif raw_rows is not None:
            yield torch.from_numpy(raw_rows[at : at + len(features)]), features
        else:  # batches that the datamodule standardises on the device (streamed chunks), or that go as they are
            yield features, datamodule.on_after_batch_transfer(features, 0)
        at += len(features)
