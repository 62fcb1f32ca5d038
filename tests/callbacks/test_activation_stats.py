"""The activation-statistics callback: known dead and saturated fractions, norms, nothing when off."""

from __future__ import annotations

import csv

import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from lit_nn.callbacks.activation_stats import ActivationStatistics, dead_fraction, saturated_fraction
from lit_nn.registry import build_registry
from lit_nn.tasks import RegressionTask
from tests.helpers.training import trainer

REGISTRY = build_registry()


def with_dead_units(activation="relu"):
    """An MLP whose first hidden layer has 3 of 8 units below zero for every input."""
    model = RegressionTask(input_shape=[4], backbone_kwargs={"hidden_sizes": [8]}, activation=activation, lr=1e-9)
    first = model.backbone.layers[1]
    with torch.no_grad():
        first.weight.zero_()
        first.bias.copy_(torch.tensor([-1.0, -1, -1, 1, 1, 1, 1, 1]))
    return model


def test_reports_the_dead_fraction_of_a_network_built_to_have_one(tmp_path):
    stats = ActivationStatistics(every_n_steps=2)
    logger = CSVLogger(tmp_path, name="", version="")
    data = REGISTRY.create("datamodules", "regression", num_samples=200, num_features=4, nonlinear=False)
    trainer(max_epochs=1, limit_train_batches=3, callbacks=[stats], logger=logger).fit(with_dead_units(), data)
    assert stats.latest["stats/backbone.layers.3/dead_fraction"] == pytest.approx(3 / 8)
    assert stats.latest["stats/backbone.layers.1.weight/grad_norm"] >= 0
    assert stats.latest["stats/backbone.layers.4.weight/weight_norm"] > 0
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    logged = [r for r in rows if r.get("stats/backbone.layers.3/dead_fraction")]
    assert [int(r["step"]) for r in logged] == [0, 2]
    assert all(float(r["stats/backbone.layers.3/dead_fraction"]) == pytest.approx(0.375) for r in logged)


def test_saturated_tanh_is_measured():
    model = with_dead_units("tanh")
    with torch.no_grad():
        model.backbone.layers[1].bias.mul_(10)  # every tanh unit pinned at ±1
    stats = ActivationStatistics(every_n_steps=1)
    data = REGISTRY.create("datamodules", "regression", num_samples=100, num_features=4, nonlinear=False)
    trainer(max_epochs=1, limit_train_batches=1, callbacks=[stats]).fit(model, data)
    assert stats.latest["stats/backbone.layers.3/saturated_fraction"] == 1.0


def test_off_means_no_hooks_and_no_values():
    stats = ActivationStatistics(every_n_steps=0)
    model = with_dead_units()
    seen = []

    class Spy(torch.nn.Module):
        pass

    data = REGISTRY.create("datamodules", "regression", num_samples=100, num_features=4, nonlinear=False)
    run = trainer(max_epochs=1, limit_train_batches=2, callbacks=[stats])
    model.register_forward_pre_hook(lambda module, args: seen.append(len(module.backbone.layers[3]._forward_hooks)))
    run.fit(model, data)
    assert stats.latest == {} and set(seen) == {0}


def test_fraction_helpers():
    assert dead_fraction(torch.tensor([[0.0, 1.0], [0.0, 2.0]])) == 0.5
    conv = torch.zeros(2, 4, 3, 3)
    conv[:, 1] = 1.0
    assert dead_fraction(conv) == 0.75
    assert saturated_fraction(torch.tensor([0.001, 0.5, 0.999, 0.2]), 0.01, 0.99) == 0.5


def test_bad_settings():
    with pytest.raises(ValueError, match="every_n_steps must be 0 or more"):
        ActivationStatistics(every_n_steps=-1)
