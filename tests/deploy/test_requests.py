"""The request rules of lit-nn serve, in process: what each JSON body becomes, or its status and reason."""

from __future__ import annotations

import base64
import io
import struct
import time
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from lit_nn.data.encoding import encode_records
from lit_nn.deploy.requests import MAX_ERROR_CHARS, MAX_SAMPLES, Decoded, Rejected, RequestDecoder
from lit_nn.deploy.serving import responses

DIGITS = {"input": {"shape": [None, 1, 8, 8], "dtype": "float32"}}
ENCODING = {
    "features": ["area", "town"],
    "columns": {"area": {}, "town": {"levels": ["east", "north", "south"]}},
    "target": "price",
    "task": "regression",
}
HOUSES = {"input": {"shape": [None, 4], "dtype": "float32", "encoding": ENCODING}}
IMAGES = {"input": {"shape": [None, 16, 16, 3], "dtype": "uint8", "image_size": 16, "resize": 18,
                    "mean": [0.5] * 3, "std": [0.25] * 3}}  # fmt: skip


@pytest.mark.parametrize(
    ("features", "count", "single"),
    [
        ([0.5] * 64, 1, True),  # flat
        (np.ones((1, 8, 8)).tolist(), 1, True),  # the input shape
        ([[0.5] * 64] * 3, 3, False),  # flat rows
        (np.ones((2, 1, 8, 8)).tolist(), 2, False),  # rows of the input shape
    ],
)
def test_numbers_in_the_layouts_a_client_would_send(features, count, single):
    decoded = RequestDecoder(DIGITS)({"features": features})
    assert isinstance(decoded, Decoded) and decoded.single is single
    assert decoded.inputs.shape == (count, 1, 8, 8) and decoded.inputs.dtype == np.float32


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ({"features": [0.5] * 63}, 422, "the model takes 64 numbers per sample (input shape [1, 8, 8]), got 63"),
        ({"features": [[0.5] * 64, [0.5] * 3]}, 422, "features must be numbers"),  # ragged
        ({"features": [0.5] * 63 + [None]}, 422, "finite numbers (no null"),
        ({"features": [0.5] * 63 + [float("nan")]}, 422, "finite numbers"),
        ({"features": []}, 422, "non-empty list"),
        ({"features": 3.0}, 422, "non-empty list"),
        ({"features": [[0.5] * 64] * (MAX_SAMPLES + 1)}, 413, f"send at most {MAX_SAMPLES}"),
        ({"features": {"area": 1.0}}, 422, "takes features as numbers, not by name"),
        ({"inputs": [0.5] * 64}, 400, "send a JSON object with 'features'"),
        ([0.5] * 64, 400, "send a JSON object with 'features'"),
        ("features", 400, "send a JSON object with 'features'"),
    ],
)
def test_bad_numbers_are_refused_with_the_reason(body, status, said):
    rejected = RequestDecoder(DIGITS)(body)
    assert isinstance(rejected, Rejected) and rejected.status == status and said in rejected.error, rejected


def test_records_by_name_are_encoded_as_the_csv_datamodule_encodes_its_rows():
    decoded = RequestDecoder(HOUSES)({"features": [{"area": 50, "town": "south"}, {"town": "east", "area": 7.5}]})
    np.testing.assert_array_equal(decoded.inputs, [[50, 0, 0, 1], [7.5, 1, 0, 0]])
    assert not decoded.single
    assert RequestDecoder(HOUSES)({"features": [50, 0, 0, 1]}).single  # numbers still work


def test_records_are_checked_column_by_column():
    cases = {
        "record 2: column 'town' holds 'west', a category the model was not trained on (it knows: east, north, south)":
            [{"area": 1, "town": "east"}, {"area": 1, "town": "west"}],
        "the record lacks the feature column(s) town": [{"area": 1}],
        "the record has the column 'towns', not a feature. Did you mean 'town'?": [{"area": 1, "towns": "x"}],
        "column 'area' holds 'big'; the model was trained on numbers in it": [{"area": "big", "town": "east"}],
        "column 'area' holds True": [{"area": True, "town": "east"}],
    }  # fmt: skip
    for said, records in cases.items():
        rejected = RequestDecoder(HOUSES)({"features": records if len(records) > 1 else records[0]})
        assert isinstance(rejected, Rejected) and rejected.status == 422 and said in rejected.error, rejected.error
    assert encode_records([{"area": 2, "town": "north"}], ENCODING).tolist() == [[2, 0, 1, 0]]


def _png(size: tuple[int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_images_are_decoded_resized_and_centre_cropped_to_what_the_model_takes():
    decoded = RequestDecoder(IMAGES)({"images": [_png((40, 30)), _png((18, 18))]})
    assert decoded.inputs.shape == (2, 16, 16, 3) and decoded.inputs.dtype == np.uint8
    assert decoded.inputs[0, 8, 8].tolist() == [10, 200, 30]
    for body, status, said in [
        ({"image": "@@@"}, 400, "the image is not valid base64"),
        ({"images": [_png((20, 20)), base64.b64encode(b"GIF89a broken").decode()]}, 422, "cannot read image 'image 2'"),
        ({"image": 7}, 400, "'image' must be a base64 string"),
        ({"images": []}, 400, "'image' must be a base64 string"),
        ({"features": [1]}, 400, "with 'image' or 'images'"),
    ]:
        rejected = RequestDecoder(IMAGES)(body)
        assert isinstance(rejected, Rejected) and rejected.status == status and said in rejected.error, rejected.error


def _deep(levels: int, leaf: object) -> object:
    for _ in range(levels):
        leaf = [leaf]
    return leaf


HUGE = 10**500  # JSON allows it: Python parses it to an int float32 cannot hold


@pytest.mark.parametrize(
    ("metadata", "body", "status", "said"),
    [
        (DIGITS, {"features": [HUGE] * 64}, 422, "numbers float32 can hold"),
        (DIGITS, {"features": [[0.5] * 63 + [HUGE]] * 2}, 422, "numbers float32 can hold"),
        (DIGITS, {"features": _deep(3000, 1.0)}, 422, "features must be numbers"),
        (DIGITS, {"features": [1e39] * 64}, 422, "nothing beyond"),
        (HOUSES, {"features": {"area": HUGE, "town": "east"}}, 422, "column 'area' holds an integer beyond float32"),
        (HOUSES, {"features": {"area": 1, "town": HUGE}}, 422, "column 'town' holds an integer beyond float32"),
        (HOUSES, {"features": [{"area": 1, "town": "east"}, {"area": [1], "town": "east"}]}, 422, "record 2: column"),
        (HOUSES, {"features": {"area": 1, "town": {"a": _deep(3000, 1)}}}, 422, "holds an object"),
        (HOUSES, {"features": {"area": 1, "town": "x" * 10**6}}, 422, "holds a text of 1,000,000 characters"),
        (HOUSES, {"features": [{"area": 1, "town": "east"}, 5]}, 422, "give every sample by column name"),
        (IMAGES, {"images": ["aGVsbG8=", _deep(3000, "x")]}, 400, "must be a base64 string"),
    ],
)
def test_hostile_values_are_refused_in_one_short_line_and_never_raise(metadata, body, status, said):
    rejected = RequestDecoder(metadata)(body)  # a raise here would fail every request batched with this one
    assert isinstance(rejected, Rejected) and rejected.status == status and said in rejected.error, rejected
    assert "\n" not in rejected.error and len(rejected.error) <= MAX_ERROR_CHARS


def _png_declaring(width: int, height: int) -> bytes:
    """A real greyscale PNG of ``width`` x ``height`` black pixels: a few hundred KiB for 12000 x 12000."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pack = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte, then the row's pixels
    pixels = b"".join(pack.compress(row) for _ in range(height)) + pack.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_an_image_declaring_too_many_pixels_is_refused_before_it_is_decoded():
    png = _png_declaring(12000, 12000)
    assert len(png) < 1_000_000  # decoded, it would be 144 million pixels: 432 MB as RGB, past 1 GB on the way
    started = time.perf_counter()
    rejected = RequestDecoder(IMAGES)({"images": [_png((20, 20)), base64.b64encode(png).decode()]})
    assert isinstance(rejected, Rejected) and rejected.status == 413, rejected
    assert "image 2 declares 12000 x 12000 pixels" in rejected.error and "at most 40,000,000" in rejected.error
    assert time.perf_counter() - started < 1.0  # the header alone was read; decoding takes seconds
    small = RequestDecoder(IMAGES, max_image_pixels=399)({"image": _png((20, 20))})
    assert isinstance(small, Rejected) and small.status == 413 and "20 x 20 pixels (400)" in small.error


def test_a_bad_image_is_answered_with_what_to_send_not_a_file_to_delete():
    for data in (b"plain text, not a picture", _png_declaring(20, 20)[:45]):
        rejected = RequestDecoder(IMAGES)({"image": base64.b64encode(data).decode()})
        assert isinstance(rejected, Rejected) and rejected.status == 422, rejected
        assert rejected.error.startswith("cannot read image 'the image'") and "send a JPEG or PNG" in rejected.error
        assert "delete or replace" not in rejected.error and " object at 0x" not in rejected.error, rejected.error


def test_responses_name_the_class_and_give_one_value_per_target():
    rows = responses({"label": torch.tensor([1, 0]), "probability": torch.tensor([0.75, 0.25])},
                     {"class_names": ["cat", "dog"]})  # fmt: skip
    assert rows == [{"label": 1, "probability": 0.75, "class_name": "dog"},
                    {"label": 0, "probability": 0.25, "class_name": "cat"}]  # fmt: skip
    assert responses({"prediction": torch.tensor([[2.5], [1.0]])}, {}) == [{"prediction": 2.5}, {"prediction": 1.0}]
    assert responses({"prediction": torch.tensor([[2.5, 1.0]])}, {}) == [{"prediction": [2.5, 1.0]}]
