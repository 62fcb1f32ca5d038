"""Plots: the right figures per task, real PNG files that decode, and their numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from lit_nn.callbacks.plots import PredictionPlots
from lit_nn.plotting import confusion_counts, curves
from lit_nn.registry import build_registry
from tests.helpers.training import task_for, trainer

REGISTRY = build_registry()


def check_png(path):
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG" and image.width >= 300 and image.height >= 300
        assert np.asarray(image.convert("L")).std() > 5  # something is drawn


@pytest.mark.parametrize(
    ("data", "kwargs", "expected"),
    [
        ("binary", {"num_samples": 200}, {"confusion_matrix", "roc", "pr"}),
        ("multiclass", {"num_samples": 200}, {"confusion_matrix"}),
        ("regression", {"num_samples": 200}, {"predicted_vs_true", "residuals"}),
    ],
)
def test_each_task_gets_its_plots(tmp_path, data, kwargs, expected):
    datamodule = REGISTRY.create("datamodules", data, **kwargs)
    plots = PredictionPlots()
    run = trainer(max_epochs=2, callbacks=[plots], default_root_dir=tmp_path)
    model = task_for(datamodule)
    run.fit(model, datamodule)
    run.test(model, datamodule, verbose=False)
    names = {p.name for p in (tmp_path / "plots").iterdir()}
    assert names == {"curves.png"} | {f"{stage}-{kind}.png" for stage in ("val", "test") for kind in expected}
    for path in (tmp_path / "plots").iterdir():
        check_png(path)
    assert len(plots.history) == 2 and {"val/loss", "train/loss_epoch"} <= set(plots.history[-1])


def test_every_n_epochs_and_disabled(tmp_path):
    datamodule = REGISTRY.create("datamodules", "binary", num_samples=200)
    trainer(max_epochs=3, callbacks=[PredictionPlots(every_n_epochs=2)], default_root_dir=tmp_path / "a").fit(
        task_for(datamodule), datamodule
    )
    assert (tmp_path / "a" / "plots" / "val-roc-epoch001.png").exists()
    trainer(max_epochs=1, callbacks=[PredictionPlots(enabled=False)], default_root_dir=tmp_path / "b").fit(
        task_for(datamodule), datamodule
    )
    assert not (tmp_path / "b" / "plots").exists()


def test_confusion_counts():
    counts = confusion_counts(torch.tensor([0, 1, 1, 2, 2]), torch.tensor([0, 1, 2, 2, 0]), 3)
    assert counts.tolist() == [[1, 0, 1], [0, 1, 0], [0, 1, 1]]


def test_curves_handle_missing_values(tmp_path):
    history = [
        {"epoch": 0.0, "val/loss": 1.0, "val/acc": 0.5},
        {"epoch": 1.0, "val/loss": 0.5, "train/loss_epoch": 0.7},
    ]
    check_png(curves(history, tmp_path / "curves.png"))
