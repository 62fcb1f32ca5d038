"""Image files read without torch: Pillow's decoding, a header's declared size, and the serving crop.

Kept apart from :mod:`lit_nn.data.images` (which decodes into torch tensors for training) so a
server of exported models decodes requests without importing torch.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from lit_nn.data.errors import DataError


def load_rgb(
    path: Path | bytes, size: int, name: str | None = None, fix: str = "delete or replace the file"
) -> Image.Image:
    """Decode an image as RGB with Pillow, letting JPEG decode at reduced size when ``size`` allows.

    Args:
        path: The file, or its bytes.
        size: The smallest side needed afterwards.
        name: What to call the image in an error (default: the path).
        fix: What the error tells the reader to do (a server's client sends other bytes).

    Returns:
        The image.

    Raises:
        DataError: If the image cannot be decoded, naming it.
    """
    try:
        with Image.open(io.BytesIO(path) if isinstance(path, bytes) else path) as image:
            image.draft("RGB", (size, size))
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        reason = str(exc)
        if isinstance(exc, Image.UnidentifiedImageError) and isinstance(path, bytes):  # it names the stream's repr
            reason = "cannot identify image file: not a format Pillow reads, such as JPEG, PNG, GIF, BMP, WebP"
        raise DataError(f"cannot read image {name or str(path)!r} ({reason}); {fix}") from exc


class ImageTooLarge(DataError):
    """An image declares more pixels than the caller decodes."""


def check_pixels(data: bytes, max_pixels: int, name: str) -> None:
    """Refuse an image whose header declares more than ``max_pixels`` pixels, before any pixel is decoded.

    Pillow's ``Image.open`` reads only the header, so a small file declaring a huge image (a PNG of
    137 KiB can declare 12000 x 12000) costs nothing here, where decoding it would cost gigabytes.

    Args:
        data: The encoded image.
        max_pixels: The most pixels (width times height) allowed.
        name: What to call the image in an error.

    Raises:
        ImageTooLarge: If the header declares more.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:  # beyond Pillow's own bound, which is above any sensible max_pixels
        declared = f"more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels"
    except (OSError, ValueError):
        return  # not an image: decoding it says so
    else:
        if width * height <= max_pixels:
            return
        declared = f"{width} x {height} pixels ({width * height:,})"
    raise ImageTooLarge(
        f"{name} declares {declared}; this server decodes at most {max_pixels:,} pixels an image: "
        "send it smaller (the model sees it resized anyway)"
    )


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG's frame header, without decoding it.

    Args:
        data: The file's bytes.

    Returns:
        ``(width, height)``, or ``None`` when ``data`` is not a JPEG or its header is damaged.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    at, end = 2, len(data)
    while at + 9 <= end:
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height, width = int.from_bytes(data[at + 5 : at + 7], "big"), int.from_bytes(data[at + 7 : at + 9], "big")
            return (width, height) if width and height else None
        else:
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def centre_crop(image: Image.Image, image_size: int, resize: int) -> np.ndarray:
    """Resize an image's shorter side to ``resize`` (bilinear, antialiased) and take the centre square.

    Pillow's bilinear filter is the one torchvision's antialiased resize was built to match, so the
    crop agrees with :meth:`lit_nn.data.images.ImageTransform.crop`'s evaluation crop to within a
    grey level or so per pixel (its rounding differs).

    Args:
        image: An RGB image.
        image_size: Side of the square crop.
        resize: The shorter side before cropping.

    Returns:
        ``uint8`` ``(image_size, image_size, 3)`` pixels.
    """
    width, height = image.size
    if width <= height:
        size = (resize, max(1, int(resize * height / width)))
    else:
        size = (max(1, int(resize * width / height)), resize)
    pixels = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BILINEAR))
    top, left = round((pixels.shape[0] - image_size) / 2), round((pixels.shape[1] - image_size) / 2)
    return np.ascontiguousarray(pixels[top : top + image_size, left : left + image_size])
