"""Every registered backbone builds, maps inputs to outputs, takes its keywords and trains."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lit_nn.errors import InvalidArgumentsError
from lit_nn.registry import build_registry
from tests.helpers.training import task_for, trainer

REGISTRY = build_registry()
BACKBONES = REGISTRY.names("backbones")


def build(name, input_shape=(1, 8, 8), output_size=3, activation="relu", dropout=0.1, **kwargs):
    return REGISTRY.create(
        "backbones",
        name,
        input_shape=input_shape,
        output_size=output_size,
        activation=lambda: REGISTRY.create("activations", activation),
        dropout=dropout,
        **kwargs,
    )


@pytest.mark.parametrize("name", BACKBONES)
def test_maps_images_to_outputs_and_backpropagates(name):
    net = build(name)
    x = torch.randn(4, 1, 8, 8)
    out = net(x)
    assert out.shape == (4, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", BACKBONES)
def test_uses_the_activation_it_is_given(name):
    net = build(name, activation="tanh")
    assert any(isinstance(m, nn.Tanh) for m in net.modules())
    assert not any(isinstance(m, nn.ReLU) for m in net.modules())


@pytest.mark.parametrize("name", BACKBONES)
def test_unknown_keyword_is_rejected(name):
    with pytest.raises(InvalidArgumentsError, match=f"backbone '{name}' got an unknown argument 'widht'"):
        build(name, widht=3)


@pytest.mark.parametrize("name", BACKBONES)
def test_fast_dev_run_fit_on_digit_images(name):
    datamodule = REGISTRY.create("datamodules", "digits", batch_size=16)
    model = task_for(datamodule, backbone=name)
    trainer(fast_dev_run=1).fit(model, datamodule)
    assert trainer is not None and model.backbone is not None


def test_mlp_hidden_sizes_norm_and_dropout():
    net = build("mlp", input_shape=(5,), hidden_sizes=[7, 6], norm="layer", dropout=0.25)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5, 7), (7, 6), (6, 3)]
    assert sum(isinstance(m, nn.LayerNorm) for m in net.modules()) == 2
    assert [m.p for m in net.modules() if isinstance(m, nn.Dropout)] == [0.25, 0.25]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in build("mlp", input_shape=(5,), norm="batch").modules()) == 2


def test_mlp_without_hidden_layers_is_linear():
    net = build("mlp", input_shape=(4,), hidden_sizes=[], dropout=0.0)
    x = torch.randn(6, 4)
    (linear,) = [m for m in net.modules() if isinstance(m, nn.Linear)]
    torch.testing.assert_close(net(x), linear(x))


@pytest.mark.parametrize("size", [8, 32, 64, 224])
def test_cnn_handles_8_to_224_pixels(size):
    net = build("cnn", input_shape=(3, size, size), channels=[8, 16])
    assert net(torch.randn(2, 3, size, size)).shape == (2, 3)


def test_cnn_refuses_vectors_and_bad_settings():
    with pytest.raises(InvalidArgumentsError, match="cnn needs image input"):
        build("cnn", input_shape=(64,))
    with pytest.raises(InvalidArgumentsError, match="kernel_size must be odd"):
        build("cnn", kernel_size=4)
    with pytest.raises(InvalidArgumentsError, match="pool must be 'max' or 'avg'"):
        build("cnn", pool="median")
