"""The request rules of lit-nn serve, in process: what each JSON body becomes, or its status and reason."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from lit_nn.data.csv_data import encode_records
from lit_nn.deploy.requests import MAX_SAMPLES, Decoded, Rejected, RequestDecoder, responses

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
    assert decoded.inputs.shape == (count, 1, 8, 8) and decoded.inputs.dtype == torch.float32


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
    np.testing.assert_array_equal(decoded.inputs.numpy(), [[50, 0, 0, 1], [7.5, 1, 0, 0]])
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
    assert decoded.inputs.shape == (2, 16, 16, 3) and decoded.inputs.dtype == torch.uint8
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


def test_responses_name_the_class_and_give_one_value_per_target():
    rows = responses({"label": torch.tensor([1, 0]), "probability": torch.tensor([0.75, 0.25])},
                     {"class_names": ["cat", "dog"]})  # fmt: skip
    assert rows == [{"label": 1, "probability": 0.75, "class_name": "dog"},
                    {"label": 0, "probability": 0.25, "class_name": "cat"}]  # fmt: skip
    assert responses({"prediction": torch.tensor([[2.5], [1.0]])}, {}) == [{"prediction": 2.5}, {"prediction": 1.0}]
    assert responses({"prediction": torch.tensor([[2.5, 1.0]])}, {}) == [{"prediction": [2.5, 1.0]}]
