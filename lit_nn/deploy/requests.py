"""Turn a prediction request's JSON into a model's raw input, or say in one line what is wrong with it.

Kept apart from the server so every rule is tested without one: tabular models take
``{"features": [...]}`` (one sample, or a list of samples) or, when trained on a CSV file, the
feature columns by name (``{"features": {"age": 41, ...}}`` or a list of such objects); image
models take ``{"image": "<base64 of the file>"}`` or ``{"images": [...]}``. It imports no torch:
the server of an exported model (:mod:`lit_nn.deploy.onnx_serving`) judges requests by the same
rules as the PyTorch one.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lit_nn.data.encoding import encode_records
from lit_nn.data.errors import DataError
from lit_nn.data.image_files import ImageTooLarge, centre_crop, check_pixels, load_rgb

MAX_SAMPLES = 1024
"""The most samples one request may hold (more is refused with 413)."""

MAX_IMAGE_PIXELS = 40_000_000
"""The most pixels an image of a request may declare (more is refused with 413 before decoding)."""

MAX_ERROR_CHARS = 300
"""An error line quotes what it was sent; this bounds it (a client's 10 MB string is not echoed back)."""

FLOAT32_MAX = float(np.finfo(np.float32).max)

SEND_AN_IMAGE = "send a JPEG or PNG file's bytes, base64-encoded"


@dataclass
class Rejected:
    """A request the model cannot take: the HTTP status and what to send instead.

    Attributes:
        status: 400 (not the request's shape), 413 (too many samples), 422 (the right shape,
            values the model cannot take).
        error: One line for the client.
    """

    status: int
    error: str


@dataclass
class Decoded:
    """A request's samples as one raw input batch.

    Attributes:
        inputs: ``(N, *input_shape)`` in the model's input dtype.
        single: The request held one sample (its response is one prediction, not a list).
    """

    inputs: np.ndarray
    single: bool


ImageCrop = Callable[[bytes, str], np.ndarray]
"""An image file's bytes (and what to call it in an error) to the ``uint8`` ``(S, S, 3)`` crop a model takes."""


def pillow_crop(image_size: int, resize: int) -> ImageCrop:
    """The evaluation crop made with Pillow: no torch needed (the server of an exported model).

    Args:
        image_size: Side of the square crop.
        resize: Shorter side before cropping.

    Returns:
        The crop function; it raises ``DataError`` for bytes that are not an image.
    """

    def crop(data: bytes, name: str) -> np.ndarray:
        return centre_crop(load_rgb(data, resize, name, SEND_AN_IMAGE), image_size, resize)

    return crop


class RequestDecoder:
    """Decode requests for one model, as its export metadata describes its input.

    Args:
        metadata: :func:`~lit_nn.deploy.export.metadata_of`'s record.
        max_image_pixels: The most pixels an image may declare in its header.
        crop: How an image becomes the model's input (image models); default :func:`pillow_crop`.
    """

    def __init__(
        self, metadata: Mapping[str, Any], max_image_pixels: int = MAX_IMAGE_PIXELS, crop: ImageCrop | None = None
    ) -> None:
        self.max_image_pixels = max_image_pixels
        self.input = dict(metadata["input"])
        self.shape = tuple(self.input["shape"][1:])
        self.images = self.input["dtype"] == "uint8"
        self.crop = crop
        if self.images and crop is None:
            self.crop = pillow_crop(self.input["image_size"], self.input["resize"])
        width = math.prod(self.shape)
        numbers = ", ".join(["0.0"] * min(3, width)) + (", ..." if width > 3 else "")
        self.example = '{"image": "<base64 of a JPEG or PNG file>"}' if self.images else f'{{"features": [{numbers}]}}'

    def __call__(self, request: Any) -> Decoded | Rejected:  # noqa: ANN401 (any parsed JSON)
        """Decode one request; never raises, whatever the JSON holds.

        A server batches requests after decoding them, so an error raised here would fail every
        request batched with this one: each is answered alone, in one line.

        Args:
            request: The request's parsed JSON body.

        Returns:
            The samples, or why the request is refused.
        """
        key = ("image", "images") if self.images else ("features",)
        try:
            if not isinstance(request, Mapping) or not any(k in request for k in key):
                return Rejected(
                    400, f"send a JSON object with {' or '.join(repr(k) for k in key)}, like {self.example}"
                )
            if self.images:
                return _short(self._images(request))
            return _short(self._features(request["features"]))
        except ImageTooLarge as exc:
            return Rejected(413, str(exc))
        except DataError as exc:
            return _short(Rejected(422, str(exc)))
        except RecursionError:
            return Rejected(400, f"the JSON is nested too deep for this model's input; send e.g. {self.example}")
        except Exception as exc:  # noqa: BLE001 (see the docstring: nothing may escape into a batch)
            return Rejected(
                422,
                f"the request could not be decoded ({type(exc).__name__}); send e.g. {self.example}",
            )

    def _images(self, request: Mapping[str, Any]) -> Decoded | Rejected:
        single = "image" in request
        encoded = [request["image"]] if single else request["images"]
        if not isinstance(encoded, list) or not encoded or not all(isinstance(e, str) for e in encoded):
            return Rejected(400, "'image' must be a base64 string ('images': a list of them)")
        if len(encoded) > MAX_SAMPLES:
            return Rejected(413, f"{len(encoded)} images in one request; send at most {MAX_SAMPLES}")
        crops = []
        for number, text in enumerate(encoded, 1):
            name = "the image" if single else f"image {number}"
            try:
                data = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                return Rejected(400, f"{name} is not valid base64 (send the file's bytes, base64-encoded)")
            check_pixels(data, self.max_image_pixels, name)
            assert self.crop is not None  # image requests reach here only for an image model
            crops.append(self.crop(data, name))
        return Decoded(np.ascontiguousarray(np.stack(crops)), single)

    def _features(self, features: Any) -> Decoded | Rejected:  # noqa: ANN401
        encoding = self.input.get("encoding")
        if isinstance(features, Mapping) or (
            isinstance(features, list) and features and isinstance(features[0], Mapping)
        ):
            if encoding is None:
                return Rejected(422, f"this model takes features as numbers, not by name, like {self.example}")
            records = [features] if isinstance(features, Mapping) else features
            if len(records) > MAX_SAMPLES:
                return Rejected(413, f"{len(records)} samples in one request; send at most {MAX_SAMPLES}")
            if not all(isinstance(r, Mapping) for r in records):
                return Rejected(422, "give every sample by column name, or every one as numbers")
            refused = _check_values(records)
            if refused is not None:
                return refused
            return Decoded(encode_records(records, encoding), isinstance(features, Mapping))
        try:
            with np.errstate(over="ignore"):  # a float beyond float32 becomes infinity, refused below
                array = np.asarray(features, dtype=np.float32)
        except OverflowError:  # an integer of hundreds of digits
            return Rejected(422, f"features must be numbers float32 can hold (within ±{FLOAT32_MAX:.3g})")
        except (TypeError, ValueError):
            return Rejected(422, f"features must be numbers (a list, or a list of lists), like {self.example}")
        width, shape = math.prod(self.shape), self.shape
        if array.ndim == 0 or array.size == 0:
            return Rejected(422, f"features must be a non-empty list, like {self.example}")
        single = array.shape == shape or (array.ndim == 1 and array.size == width)
        if single:
            array = array.reshape(1, *shape)
        elif array.shape[1:] == shape or (array.ndim == 2 and array.shape[1] == width):
            array = array.reshape(len(array), *shape)
        else:
            got = array.shape[-1] if array.ndim <= 2 else list(array.shape[1:])
            return Rejected(
                422, f"wrong width: the model takes {width} numbers per sample (input shape {list(shape)}), got {got}"
            )
        if len(array) > MAX_SAMPLES:
            return Rejected(413, f"{len(array)} samples in one request; send at most {MAX_SAMPLES}")
        if not np.isfinite(array).all():
            return Rejected(
                422, f"features must be finite numbers (no null, NaN or infinity, nothing beyond ±{FLOAT32_MAX:.3g})"
            )
        return Decoded(np.ascontiguousarray(array), single)


def _check_values(records: list[Mapping[str, Any]]) -> Rejected | None:
    """Each value of each record is one JSON scalar a float32 (or a category) can take."""
    for row, record in enumerate(records, 1):
        where = f"record {row}" if len(records) > 1 else "the record"
        for column, value in record.items():
            if isinstance(value, (list, Mapping)):
                kind = "a list" if isinstance(value, list) else "an object"
                return Rejected(422, f"{where}: column {str(column)[:80]!r} holds {kind}; give one number or category")
            if isinstance(value, str) and len(value) > 100:
                return Rejected(
                    422,
                    f"{where}: column {str(column)[:80]!r} holds a text of {len(value):,} characters; "
                    "give a number or one of the categories the model was trained on",
                )
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > FLOAT32_MAX:
                return Rejected(
                    422,
                    f"{where}: column {str(column)[:80]!r} holds an integer beyond float32's range "
                    f"(±{FLOAT32_MAX:.3g}); send a number it can hold",
                )
    return None


def _short(answer: Decoded | Rejected) -> Decoded | Rejected:
    """The answer, its error cut to :data:`MAX_ERROR_CHARS` (it may quote a value the client sent)."""
    if isinstance(answer, Rejected) and len(answer.error) > MAX_ERROR_CHARS:
        answer.error = answer.error[: MAX_ERROR_CHARS - 1] + "…"
    return answer
