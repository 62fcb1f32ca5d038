"""Decoding and transforming images as ``uint8`` tensors; batches stay ``uint8`` until they reach the device."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torchvision.transforms.v2.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import get_worker_info

from lit_nn.compat import new_shared_storage
from lit_nn.console import notice
from lit_nn.data.base import DataError
from lit_nn.data.image_files import jpeg_size, load_rgb

JpegDecoder = Callable[[Tensor], Tensor]


@functools.cache
def jpeg_decoder() -> JpegDecoder | None:
    """The libjpeg-turbo decoder into tensors: TorchCodec's (``torchcodec.decoders.decode_jpeg``).

    Without TorchCodec (or with one built for another torch), torchvision's ``decode_jpeg``
    (deprecated since torchvision 0.29) is used, and without either Pillow decodes every image;
    either fallback is said once, with its reason.

    Returns:
        A function of a file's bytes (a ``uint8`` tensor) to an RGB ``(3, H, W)`` tensor, or
        ``None`` when only Pillow is left.
    """
    try:
        from torchcodec.decoders import decode_jpeg
    except (ImportError, OSError, RuntimeError) as exc:
        reason = f"TorchCodec cannot be loaded ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
    else:
        return cast(JpegDecoder, functools.partial(decode_jpeg, mode="RGB"))
    try:
        import torchvision.io as tv_io
    except ImportError:  # pragma: no cover - torchvision is a dependency
        notice(f"{reason}: Pillow decodes every JPEG, more slowly; pip install torchcodec")
        return None
    notice(
        f"{reason}: JPEGs decode with torchvision's decode_jpeg (deprecated since torchvision 0.29); "
        "pip install torchcodec"
    )

    def decode(data: Tensor) -> Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # said once, above
            return tv_io.decode_jpeg(data, mode=tv_io.ImageReadMode.RGB)

    return decode


def read_image(path: Path, size: int) -> Tensor:
    """Decode an image file to an RGB ``uint8`` tensor, the fastest way the file allows.

    JPEGs that Pillow's draft mode could not shrink (shorter side below ``2 * size``) are decoded
    by libjpeg-turbo straight into a tensor (:func:`jpeg_decoder`); larger JPEGs, other formats
    and files that decoder refuses go through :func:`load_rgb`, which reports a bad file.

    Args:
        path: The file.
        size: The smallest side needed afterwards.

    Returns:
        A ``(3, H, W)`` tensor laid out height, width, channel in memory (as decoders write it,
        and as the ``uint8`` resize is fastest on).

    Raises:
        DataError: If the file cannot be decoded, naming it.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read image {str(path)!r} ({exc}); delete or replace the file") from exc
    return decode_image(data, size, str(path))


def decode_image(data: bytes, size: int, name: str, fix: str = "delete or replace the file") -> Tensor:
    """Decode an image's bytes as :func:`read_image` decodes a file.

    Args:
        data: The encoded image (JPEG, PNG, or anything Pillow reads).
        size: The smallest side needed afterwards.
        name: What to call the image in an error.
        fix: What the error tells the reader to do.

    Returns:
        A ``(3, H, W)`` ``uint8`` tensor laid out height, width, channel in memory.

    Raises:
        DataError: If the bytes are not an image Pillow can decode.
    """
    dims = jpeg_size(data)
    decode = jpeg_decoder() if dims is not None and min(dims) < 2 * size else None
    if decode is not None:
        try:
            return decode(torch.frombuffer(bytearray(data), dtype=torch.uint8))
        except RuntimeError:
            pass  # Pillow decodes what it can, and names the file with its own reason when it cannot
    return torch.from_numpy(np.array(load_rgb(data, size, name, fix))).permute(2, 0, 1)


class ImageTransform:
    """Resize, crop (random or centred), maybe flip, and normalise RGB images.

    The geometric steps run on ``uint8`` tensors (:meth:`crop`, in a worker, per image) and
    batches stay ``uint8`` (:meth:`collate`, written straight into shared memory in a worker):
    a quarter of the bytes of ``float32`` through the worker queue, pinned memory and the copy to
    the device. The conversion to normalised floats (:meth:`normalise`) runs on the batch where
    it lands: ``ImageFolderDataModule.on_after_batch_transfer``, on the GPU when training on one.
    Random crops and flips are drawn from torch's generator, which PyTorch seeds in every worker.

    Args:
        image_size: Side of the square crop.
        resize: Shorter side before cropping (at least ``image_size``).
        mean: Per-channel mean, on the 0…1 scale.
        std: Per-channel standard deviation, on the 0…1 scale.
        augment: Random crop and horizontal flip; otherwise the centre crop.
    """

    def __init__(
        self, image_size: int, resize: int, mean: Sequence[float], std: Sequence[float], augment: bool
    ) -> None:
        self.image_size, self.resize, self.augment = image_size, resize, augment
        self.mean = torch.tensor([255.0 * m for m in mean]).view(1, 3, 1, 1)
        self.scale = torch.tensor([1 / (255.0 * s) for s in std]).view(1, 3, 1, 1)

    def crop(self, image: Tensor | Image.Image) -> Tensor:
        """Resize and crop one image, flipping it at random when augmenting.

        Args:
            image: A ``uint8`` ``(3, H, W)`` tensor or a PIL image.

        Returns:
            A ``uint8`` ``(3, image_size, image_size)`` tensor (possibly a view of a larger one).
        """
        if isinstance(image, Image.Image):
            image = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)
        image = cast(Tensor, F.resize(image, [self.resize], antialias=True))  # a tensor in, a tensor out
        height, width = image.shape[-2:]
        side = self.image_size
        if not self.augment:
            top, left = round((height - side) / 2), round((width - side) / 2)
            return image[:, top : top + side, left : left + side]
        draw = torch.rand(3).tolist()  # one call: three draws cost three times the Python overhead
        top, left = int(draw[0] * (height - side + 1)), int(draw[1] * (width - side + 1))
        image = image[:, top : top + side, left : left + side]
        return image.flip(-1) if draw[2] < 0.5 else image

    def normalise(self, images: Tensor) -> Tensor:
        """Convert a ``uint8`` batch to normalised floats, on the batch's device.

        Args:
            images: ``uint8`` ``(N, 3, S, S)``, in any memory format (:meth:`collate`'s is
                channels-last).

        Returns:
            Contiguous ``float32`` ``(N, 3, S, S)`` on the same device.
        """
        if self.mean.device != images.device:  # moved once, then kept on the batches' device
            self.mean, self.scale = self.mean.to(images.device), self.scale.to(images.device)
        mean, scale = self.mean, self.scale
        floats = torch.empty(images.shape, dtype=torch.float32, device=images.device)
        return floats.copy_(images).sub_(mean).mul_(scale)

    def collate(self, samples: Sequence[tuple[Tensor, int]]) -> tuple[Tensor, Tensor] | Tensor:
        """Stack ``(crop, label)`` samples into a ``uint8`` batch.

        The batch is laid out channels-last, as the decoders write pixels, so each crop is copied
        row by row instead of being transposed (about 20x faster).

        Args:
            samples: :class:`ImageFileDataset` items; a label below 0 marks an unlabelled image.

        Returns:
            The ``uint8`` ``(N, 3, S, S)`` images, channels-last (in shared memory inside a
            worker), and the ``int64`` labels, or the images alone when they are unlabelled.
        """
        images, labels = zip(*samples, strict=True)
        count, (channels, height, width) = len(images), images[0].shape
        shape, stride = (count, channels, height, width), (height * width * channels, 1, width * channels, channels)
        if get_worker_info() is None:
            batch = torch.empty_strided(shape, stride, dtype=torch.uint8)
        else:  # as default_collate does: the batch leaves the worker without another copy
            storage = new_shared_storage(math.prod(shape))
            batch = torch.empty(0, dtype=torch.uint8).set_(storage, 0, shape, stride)
        for row, image in zip(batch, images, strict=True):
            row.copy_(image)
        if labels[0] < 0:
            return batch
        return batch, torch.tensor(labels)

    def __call__(self, image: Tensor | Image.Image) -> Tensor:
        """Transform one image, normalisation included.

        Args:
            image: A ``uint8`` ``(3, H, W)`` tensor or a PIL image.

        Returns:
            The normalised ``float32`` ``(3, image_size, image_size)`` tensor.
        """
        return self.normalise(self.crop(image)[None])[0]
