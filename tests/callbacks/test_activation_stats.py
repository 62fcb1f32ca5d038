"""Activation statistics: every registry activation measured, named, warned about, and drawn."""

from __future__ import annotations

import csv

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from lit_nn.callbacks.activation_stats import ActivationStatistics, dead_fraction, derivative, relu_like
from lit_nn.registry import build_registry
from lit_nn.tasks import MulticlassClassificationTask, RegressionTask
from tests.helpers.training import trainer

REGISTRY = build_registry()
BUILT_IN = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "elu", "mish", "prelu", "softplus"]


def digits(batch_size: int = 64):
    return REGISTRY.create("datamodules", "digits", batch_size=batch_size)


def with_dead_units(activation="relu"):
    """An MLP whose first hidden layer has 3 of 8 units below zero for every input."""
    model = RegressionTask(input_shape=[4], backbone_kwargs={"hidden_sizes": [8]}, activation=activation, lr=1e-9)
    first = model.backbone.layers[1]
    with torch.no_grad():
        first.weight.zero_()
        first.bias.copy_(torch.tensor([-1.0, -1, -1, 1, 1, 1, 1, 1]))
    return model


def regression_data(n: int = 200):
    return REGISTRY.create("datamodules", "regression", num_samples=n, num_features=4, nonlinear=False)


@pytest.mark.parametrize("activation", [*[a for a in BUILT_IN if a in REGISTRY.names("activations")], "snake"])
def test_every_registry_activation_is_measured_under_its_own_name(activation):
    model = MulticlassClassificationTask(input_shape=[64], num_classes=10, activation=activation,
                                         backbone_kwargs={"hidden_sizes": [16, 16]})  # fmt: skip
    stats = ActivationStatistics(every_n_steps=1, figure=False)
    trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, callbacks=[stats]).fit(model, digits())
    for layer in (f"hidden1.{activation}", f"hidden2.{activation}"):
        assert 0.0 <= stats.latest[f"stats/{layer}/saturated_fraction"] <= 1.0
        assert stats.latest[f"stats/{layer}/grad_norm"] > 0
        assert (f"stats/{layer}/dead_fraction" in stats.latest) == (activation == "relu")
    assert stats.latest["stats/grad_ratio_first_last"] > 0
    assert stats.latest["stats/backbone.layers.1.weight/grad_norm"] > 0


def test_a_deep_sigmoid_stack_shows_its_vanishing_gradient_and_says_so(capsys, tmp_path):
    torch.manual_seed(0)
    model = MulticlassClassificationTask(input_shape=[64], num_classes=10, activation="sigmoid",
                                         backbone_kwargs={"hidden_sizes": [64] * 8})  # fmt: skip
    stats = ActivationStatistics(every_n_steps=5, subfolder="plots")
    trainer(max_epochs=1, limit_train_batches=10, limit_val_batches=1, callbacks=[stats],
            default_root_dir=tmp_path).fit(model, digits())  # fmt: skip
    assert [row["step"] for row in stats.history] == [0.0, 5.0]
    first, last = stats.latest["stats/hidden1.sigmoid/grad_norm"], stats.latest["stats/hidden8.sigmoid/grad_norm"]
    assert stats.latest["stats/grad_ratio_first_last"] == pytest.approx(first / last) and first / last < 1e-3
    err = capsys.readouterr().err
    assert "lit-nn: the gradient reaching hidden1.sigmoid is" in err
    assert "of the gradient reaching hidden8.sigmoid" in err
    assert err.count("lit-nn: the gradient reaching") == 1  # said once, not at every measurement
    figure = tmp_path / "plots" / "activation_stats.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and stats.written == [figure]


def test_a_relu_net_with_a_large_negative_bias_shows_dead_units_and_says_what_to_try(tmp_path, capsys):
    stats = ActivationStatistics(every_n_steps=2, figure=False)
    logger = CSVLogger(tmp_path, name="", version="")
    model = with_dead_units()
    with torch.no_grad():
        model.backbone.layers[1].bias.copy_(torch.tensor([-5.0, -5, -5, -5, -5, 1, 1, 1]))
    trainer(max_epochs=1, limit_train_batches=3, callbacks=[stats], logger=logger).fit(model, regression_data())
    assert stats.latest["stats/hidden1.relu/dead_fraction"] == pytest.approx(5 / 8)
    err = capsys.readouterr().err
    assert "lit-nn: hidden1.relu: 62% of its units are dead" in err and "leaky_relu" in err
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    logged = [r for r in rows if r.get("stats/hidden1.relu/dead_fraction")]
    assert [int(r["step"]) for r in logged] == [0, 2]


def test_saturation_comes_from_the_activation_s_own_derivative():
    sigmoid, tanh, relu = (REGISTRY.create("activations", n) for n in ("sigmoid", "tanh", "relu"))
    x = torch.tensor([0.0, 10.0])
    assert derivative(sigmoid, x).tolist() == pytest.approx([0.25, 4.54e-5], rel=1e-2)
    assert derivative(tanh, x).tolist() == pytest.approx([1.0, 8.2e-9], rel=1e-1, abs=1e-8)
    assert relu_like(relu) and not relu_like(tanh) and not relu_like(REGISTRY.create("activations", "leaky_relu"))
    model = with_dead_units("tanh")
    with torch.no_grad():
        model.backbone.layers[1].bias.mul_(10)  # every tanh unit pinned at ±1
    stats = ActivationStatistics(every_n_steps=1, figure=False)
    trainer(max_epochs=1, limit_train_batches=1, callbacks=[stats]).fit(model, regression_data(100))
    assert stats.latest["stats/hidden1.tanh/saturated_fraction"] == 1.0


def test_a_resumed_run_keeps_the_measurements_of_the_first(tmp_path):
    def fit(epochs, ckpt=None):
        stats = ActivationStatistics(every_n_steps=3, figure=False)
        saving = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
        run = trainer(max_epochs=epochs, limit_train_batches=3, limit_val_batches=1, default_root_dir=tmp_path,
                      enable_checkpointing=True, callbacks=[stats, saving])  # fmt: skip
        run.fit(with_dead_units(), regression_data(), ckpt_path=ckpt)
        return stats

    fit(2)
    resumed = fit(4, ckpt=str(tmp_path / "ckpt" / "last.ckpt"))
    assert [row["step"] for row in resumed.history] == [0.0, 3.0, 6.0, 9.0]


def test_off_means_no_hooks_and_no_values():
    stats = ActivationStatistics(every_n_steps=0)
    model = with_dead_units()
    seen = []
    run = trainer(max_epochs=1, limit_train_batches=2, callbacks=[stats])
    model.register_forward_pre_hook(lambda module, args: seen.append(len(module.backbone.layers[3]._forward_hooks)))
    run.fit(model, regression_data(100))
    assert stats.latest == {} and stats.history == [] and set(seen) == {0}


def test_dead_fraction_counts_units():
    assert dead_fraction(torch.tensor([[0.0, 1.0], [0.0, 2.0]])) == 0.5
    conv = torch.zeros(2, 4, 3, 3)
    conv[:, 1] = 1.0
    assert dead_fraction(conv) == 0.75


BAD = [({"every_n_steps": -1}, "every_n_steps must be 0 or more"), ({"saturation": 1.5}, "saturation must be between")]


@pytest.mark.parametrize(("kwargs", "message"), BAD)
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ActivationStatistics(**kwargs)


def test_the_real_command_measures_a_plugin_activation_and_draws_it(tmp_path):
    from tests.helpers.cli import run

    result = run(["fit", "-c", "deep_mlp", "--model.activation", "snake", "--trainer.max_epochs", "1",
                  "--model.backbone_kwargs", "{hidden_sizes: [32, 32, 32]}", "--activation_stats.every_n_steps", "5",
                  "--trainer.enable_progress_bar", "false"], cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs" / "digits").iterdir()
    (metrics,) = run_dir.glob("logs/fit-*/metrics.csv")
    rows = [r for r in csv.DictReader(metrics.open()) if r.get("stats/hidden1.snake/grad_norm")]
    assert [int(r["step"]) for r in rows] == list(range(0, 20, 5))  # 20 steps in the epoch, every 5th measured
    for row in rows:
        assert all(float(row[f"stats/hidden{i}.snake/grad_norm"]) > 0 for i in (1, 2, 3))
        assert float(row["stats/grad_ratio_first_last"]) > 0
        assert 0 <= float(row["stats/hidden2.snake/saturated_fraction"]) <= 1
    (figure,) = run_dir.glob("plots/fit-*/activation_stats.png")
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_saturation_is_warned_about_only_where_the_slope_fades_to_zero():
    stats = ActivationStatistics(every_n_steps=1)
    names = ("sigmoid", "tanh", "gelu", "leaky_relu", "relu")
    fades = {name: stats._kind(REGISTRY.create("activations", name))[2] for name in names}
    assert fades == {"sigmoid": True, "tanh": True, "gelu": True, "leaky_relu": False, "relu": True}
