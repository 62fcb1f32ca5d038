"""Inputs generated in a model's input space, to check an export where the test data is not here."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lit_nn.deploy.inference import ImagePixels, Preprocessing, Standardise, generated_batches, generated_input
from lit_nn.deploy.requests import RequestDecoder
from tests.deploy.test_requests import ENCODING, HOUSES


def test_csv_rows_are_drawn_around_the_training_scaling_with_valid_one_hot_categories():
    mean, std = torch.tensor([120.0, 0.0, 0.0, 0.0]), torch.tensor([40.0, 1.0, 1.0, 1.0])
    details = {"encoding": ENCODING, "feature_mean": mean.tolist(), "feature_std": std.tolist()}
    preprocessing = Preprocessing(Standardise(mean, std), (4,), "float32", "", details)
    rows = generated_input(preprocessing, 4000)
    assert rows.shape == (4000, 4) and rows.dtype == torch.float32
    assert abs(rows[:, 0].mean() - 120) < 3 and abs(rows[:, 0].std() - 40) < 3  # standard normal, de-standardised
    assert set(rows[:, 1:].unique().tolist()) == {0.0, 1.0} and (rows[:, 1:].sum(dim=1) == 1).all()
    assert (rows[:, 1:].sum(dim=0) > 1000).all()  # every level drawn
    assert torch.equal(rows, generated_input(preprocessing, 4000))  # the same inputs every time
    town = ["east", "north", "south"]  # each row is one a client could send by name
    named = [{"area": float(r[0]), "town": town[int(r[1:].argmax())]} for r in rows[:5]]
    np.testing.assert_array_equal(RequestDecoder(HOUSES)({"features": named}).inputs, rows[:5].numpy())


def test_images_are_random_pixels_and_the_task_gets_them_as_the_preprocessing_makes_them():
    pixels = ImagePixels(torch.full((1, 3, 1, 1), 128.0), torch.full((1, 3, 1, 1), 1 / 64))
    preprocessing = Preprocessing(pixels, (16, 16, 3), "uint8", "")
    batches = []
    for batch in generated_batches(preprocessing, 100, batch_size=64):
        assert not torch.is_inference_mode_enabled()  # not left on while the caller holds a batch
        batches.append(batch)
    assert [len(raw) for raw, _ in batches] == [64, 36]
    raw, task_input = batches[0]
    assert raw.dtype == torch.uint8 and task_input.shape == (64, 3, 16, 16)
    assert torch.equal(task_input, pixels(raw)) and raw.min() < 10 and raw.max() > 245
    plain = generated_input(Preprocessing(nn.Identity(), (1, 8, 8), "float32", ""), 3)
    assert plain.shape == (3, 1, 8, 8)
