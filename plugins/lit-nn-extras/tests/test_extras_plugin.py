"""lit-nn-extras, found through its installed entry point, and each part doing its job."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything

from lit_nn.cli import main
from lit_nn.registry import build_registry
from lit_nn.tasks import BinaryClassificationTask, MulticlassClassificationTask, RegressionTask

PLUGIN = Path(__file__).resolve().parents[1]
REGISTRY = build_registry()


def quiet_trainer(epochs: int) -> Trainer:
    return Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False)  # fmt: skip


def test_found_through_the_installed_entry_point():
    info = REGISTRY.entry("activations", "snake").plugin
    assert (info.name, info.distribution, info.version, info.entry_point) == (
        "extras",
        "lit-nn-extras",
        "0.1.0",
        "lit_nn_extras.plugin",
    )
    assert info.registers == {
        "activations": ["learnable_swish", "snake"],
        "losses": ["pinball"],
        "backbones": ["fourier_mlp"],
        "datamodules": ["multilabel", "noisy_sine", "spirals", "two_moons"],
        "tasks": ["MultilabelTask"],
    }


def test_lit_nn_plugins_lists_it_with_its_version():
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIT_NN_")}
    result = subprocess.run([sys.executable, "-m", "lit_nn", "plugins"], capture_output=True, text=True, env=environ)
    row = next(line for line in result.stdout.splitlines() if line.startswith("extras "))
    assert row.split()[:3] == ["extras", "lit-nn-extras", "0.1.0"]


def test_snake_is_periodic_plus_identity_and_learns_its_frequency():
    snake = REGISTRY.create("activations", "snake", a=2.0)
    x = torch.linspace(-3, 3, 13, requires_grad=True)
    torch.testing.assert_close(snake(x), x + torch.sin(2 * x) ** 2 / 2)
    snake(x).sum().backward()
    assert snake.a.grad is not None and x.grad is not None
    with pytest.raises(Exception, match="a must be positive"):
        REGISTRY.create("activations", "snake", a=0.0)


def test_learnable_swish_learns_beta():
    swish = REGISTRY.create("activations", "learnable_swish", beta=1.5)
    x = torch.tensor([-1.0, 0.5, 2.0])
    torch.testing.assert_close(swish(x), x * torch.sigmoid(1.5 * x))
    swish(x).sum().backward()
    assert swish.beta.grad is not None


def test_pinball_loss_values_and_quantile():
    loss = REGISTRY.create("losses", "pinball", quantiles=0.9)
    value = loss(torch.tensor([[0.0], [0.0]]), torch.tensor([1.0, -1.0]))
    assert value.item() == pytest.approx((0.9 * 1 + 0.1 * 1) / 2)
    # Minimising it over a constant finds the 90th percentile of the data.
    data = torch.linspace(0, 1, 1001)
    constant = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([constant], lr=0.01)
    for _ in range(1500):
        optimizer.zero_grad()
        loss(constant.expand(len(data), 1), data).backward()
        optimizer.step()
    assert constant.item() == pytest.approx(0.9, abs=0.01)


def test_fourier_backbone_shape_and_fixed_projection():
    net = REGISTRY.create("backbones", "fourier_mlp", input_shape=(2,), output_size=3,
                          activation=torch.nn.ReLU, dropout=0.0, num_frequencies=8)  # fmt: skip
    assert net(torch.randn(5, 2)).shape == (5, 3)
    assert "projection" in dict(net.named_buffers()) and not net.projection.requires_grad


def test_two_moons_need_a_non_linear_model():
    """The textbook's point: stacked linear layers stay linear; one hidden non-linearity suffices."""

    def accuracy(hidden):
        seed_everything(0, verbose=False)
        data = REGISTRY.create("datamodules", "two_moons", num_samples=600, batch_size=32)
        model = BinaryClassificationTask(
            input_shape=data.input_shape, backbone_kwargs={"hidden_sizes": hidden}, lr=0.01
        )
        run = quiet_trainer(30)
        run.fit(model, data)
        return run.test(model, data, verbose=False)[0]["test/acc"]

    assert accuracy([]) < 0.92
    assert accuracy([32, 32]) > 0.97


def test_spirals_need_fourier_features():
    def accuracy(backbone, backbone_kwargs):
        seed_everything(0, verbose=False)
        data = REGISTRY.create("datamodules", "spirals", num_samples=200, batch_size=32)
        model = MulticlassClassificationTask(input_shape=data.input_shape, num_classes=3, backbone=backbone,
                                             backbone_kwargs=backbone_kwargs, lr=0.01)  # fmt: skip
        run = quiet_trainer(30)
        run.fit(model, data)
        return run.test(model, data, verbose=False)[0]["test/acc"]

    assert accuracy("mlp", {"hidden_sizes": []}) < 0.6  # three arms, chance 1/3
    assert accuracy("fourier_mlp", {"num_frequencies": 32, "scale": 0.3}) > 0.9


def test_quantile_regression_covers_ninety_percent():
    seed_everything(0, verbose=False)
    data = REGISTRY.create("datamodules", "noisy_sine", num_samples=2000, batch_size=64)
    model = RegressionTask(input_shape=data.input_shape, backbone="fourier_mlp", activation="snake",
                           backbone_kwargs={"num_frequencies": 32, "scale": 0.1, "hidden_sizes": [64, 64]},
                           loss="pinball", loss_kwargs={"quantiles": 0.9}, lr=0.003)  # fmt: skip
    run = quiet_trainer(40)
    run.fit(model, data)
    predictions = torch.cat([p["prediction"] for p in run.predict(model, data)]).squeeze(1)
    targets = torch.from_numpy(data.targets[data.split().test])
    covered = (targets <= predictions).float().mean().item()
    assert math.isclose(covered, 0.9, abs_tol=0.06), covered


def test_a_whole_fit_on_the_plugins_names_alone(tmp_path):
    main(["fit", "-c", str(PLUGIN / "configs" / "noisy_sine_q90.yaml"), "--trainer.max_epochs", "2",
          "--trainer.enable_progress_bar", "false", "--run.root", str(tmp_path)])  # fmt: skip
    assert list((tmp_path / "noisy_sine").glob("*/checkpoints/last.ckpt"))
