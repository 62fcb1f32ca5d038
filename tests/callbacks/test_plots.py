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
        ("binary", {"num_samples": 200}, {"confusion_matrix", "roc", "pr", "reliability"}),
        ("multiclass", {"num_samples": 200}, {"confusion_matrix", "reliability"}),
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


def test_regression_curves_give_each_metric_its_own_axis(tmp_path, monkeypatch):
    from lit_nn import plotting

    seen = []
    save = plotting.save_figure
    monkeypatch.setattr(plotting, "save_figure", lambda figure, path: seen.append([a.get_title() for a in figure.axes])
                        or save(figure, path))  # fmt: skip
    history = [{"epoch": float(e), "train/loss_epoch": 1.0 / (e + 1), "val/loss": 1.2 / (e + 1), "val/mse": 40.0 - e,
                "val/rmse": 6.0, "val/mae": 5.0, "val/r2": 0.1 * e} for e in range(4)]  # fmt: skip
    check_png(curves(history, tmp_path / "curves.png"))
    titles = [t for t in seen[0] if t]
    assert titles == ["loss: still improving", "validation mae", "validation mse", "validation r2", "validation rmse"]


def test_a_resumed_run_draws_every_epoch(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    data = REGISTRY.create("datamodules", "regression", num_samples=120, num_features=4, nonlinear=False)

    def fit(epochs, ckpt=None):
        plots = PredictionPlots(subfolder="plots")
        saving = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
        run = trainer(max_epochs=epochs, limit_train_batches=2, default_root_dir=tmp_path, enable_checkpointing=True,
                      callbacks=[plots, saving])  # fmt: skip
        run.fit(task_for(data), data, ckpt_path=ckpt)
        return plots

    fit(2)
    resumed = fit(4, ckpt=str(tmp_path / "ckpt" / "last.ckpt"))
    assert [row["epoch"] for row in resumed.history] == [0.0, 1.0, 2.0, 3.0]
    check_png(tmp_path / "plots" / "curves.png")


@pytest.mark.parametrize("num_classes", [60, 500])
def test_a_confusion_matrix_of_many_classes_is_bounded_and_says_what_it_left_out(tmp_path, monkeypatch, num_classes):
    """500 classes drew 250,000 counts on a 252-inch figure (past 4 GB); now the most confused classes, no counts."""
    from PIL import Image

    from lit_nn import plotting

    targets = torch.arange(num_classes).repeat(10)
    labels = targets.clone()
    labels[:6] = torch.tensor([13, 7, 13, 7, 42, 7]) % num_classes  # classes 0..5 mistaken for 7, 13, 42
    seen = {}
    real_save = plotting.save_figure

    def spy(figure, path, **kwargs):
        axes = figure.axes[0]
        seen.update(size=tuple(figure.get_size_inches()), texts=len(axes.texts), title=axes.get_title())
        seen.update(ticks=[t.get_text() for t in axes.get_xticklabels()])
        return real_save(figure, path, **kwargs)

    monkeypatch.setattr(plotting, "save_figure", spy)
    names = [f"c{i}" for i in range(num_classes)]
    path = plotting.confusion_matrix(labels, targets, names, tmp_path / "cm.png", "val")
    assert max(Image.open(path).size) <= plotting.MAX_FIGURE_INCHES * 100
    assert max(seen["size"]) <= plotting.MAX_FIGURE_INCHES and seen["texts"] == 0
    kept = plotting.MAX_DRAWN_CLASSES
    assert f"the {kept} most confused of {num_classes} classes ({num_classes - kept} left out)" in seen["title"]
    assert "counts not written" in seen["title"] and len(seen["ticks"]) == kept
    assert {"c0", "c1", "c5", "c7", "c13", "c42"} <= set(seen["ticks"])  # every class in a mistake is drawn


def test_a_confusion_matrix_of_few_classes_writes_every_count(tmp_path, monkeypatch):
    from lit_nn import plotting

    texts = []
    real_save = plotting.save_figure

    def spy(figure, path, **kwargs):
        texts.extend(t.get_text() for t in figure.axes[0].texts)
        return real_save(figure, path, **kwargs)

    monkeypatch.setattr(plotting, "save_figure", spy)
    plotting.confusion_matrix(torch.tensor([0, 1, 1, 2, 2]), torch.tensor([0, 1, 2, 2, 0]), ["a", "b", "c"],
                              tmp_path / "cm.png", "val")  # fmt: skip
    assert texts == ["1", "0", "1", "0", "1", "0", "0", "1", "1"]


def test_the_loss_curves_mark_the_best_epoch_and_shade_the_over_fitting(tmp_path, monkeypatch):
    from lit_nn import plotting
    from tests.test_curves_reading import history, overfitting

    seen = []
    save = plotting.save_figure

    def spy(figure, path):
        losses = figure.axes[0]
        lines = {line.get_label(): line.get_xdata() for line in losses.get_lines()}
        spans = []
        for patch in losses.patches:  # axvspan's x in data units (its y in axes units)
            xs = patch.get_patch_transform().transform(patch.get_path().vertices)[:, 0]
            spans.append((patch.get_label(), sorted({round(float(x), 6) for x in xs})))
        seen.append((losses.get_title(), lines, spans))
        return save(figure, path)

    monkeypatch.setattr(plotting, "save_figure", spy)
    check_png(curves(overfitting(epochs=38, best=23), tmp_path / "over.png"))
    title, lines, spans = seen[-1]
    assert title == "loss: over-fitting"
    assert list(lines["best epoch 23"]) == [23, 23]
    assert spans == [("over-fitting (14 epochs)", [23.0, 37.0])]
    curves(history([1.0, 0.8, 0.65, 0.55], [1.1, 0.9, 0.75, 0.66]), tmp_path / "still.png")
    title, lines, spans = seen[-1]
    assert title == "loss: still improving" and list(lines["best epoch 3"]) == [3, 3] and spans == []
    curves(history([1.0, 0.8], [1.1, 0.9]), tmp_path / "short.png")
    assert seen[-1][0] == "loss" and seen[-1][2] == []  # too few epochs: no verdict in the title
