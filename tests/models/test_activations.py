"""Every built-in activation: forward and backward on a real tensor, every keyword honoured."""

from __future__ import annotations

import inspect
import math

import pytest
import torch

from lit_nn.errors import InvalidArgumentsError
from lit_nn.registry import build_registry

REGISTRY = build_registry(autoload=False)
BUILTINS = [e.name for e in REGISTRY.entries("activations") if e.plugin.builtin]


def _in_place(act, x):
    return act(x) is x


# (name, kwargs, check(module) -> bool); every keyword of every built-in appears at least once.
KEYWORD_CASES = [
    ("relu", {"inplace": True}, lambda m: _in_place(m, torch.tensor([-1.0, 2.0]))),
    (
        "leaky_relu",
        {"negative_slope": 0.2},
        lambda m: m(torch.tensor([-1.0, 2.0])).tolist() == pytest.approx([-0.2, 2.0]),
    ),
    ("leaky_relu", {"inplace": True}, lambda m: _in_place(m, torch.tensor([-1.0, 2.0]))),
    ("prelu", {"num_parameters": 3}, lambda m: m.weight.shape == (3,)),
    ("prelu", {"init": 0.1}, lambda m: m(torch.tensor([-2.0])).item() == pytest.approx(-0.2)),
    ("elu", {"alpha": 0.5}, lambda m: m(torch.tensor([-100.0])).item() == pytest.approx(-0.5)),
    ("elu", {"inplace": True}, lambda m: _in_place(m, torch.tensor([-1.0, 2.0]))),
    (
        "gelu",
        {"approximate": "tanh"},
        lambda m: (
            m(torch.tensor([1.0])).item()
            == pytest.approx(0.5 * (1 + math.tanh(math.sqrt(2 / math.pi) * (1 + 0.044715))), abs=1e-7)
        ),
    ),
    ("silu", {"inplace": True}, lambda m: _in_place(m, torch.tensor([-1.0, 2.0]))),
    ("softplus", {"beta": 2.0}, lambda m: m(torch.tensor([0.0])).item() == pytest.approx(math.log(2) / 2)),
    ("softplus", {"threshold": 1.0}, lambda m: m(torch.tensor([3.0])).item() == 3.0),
    ("mish", {"inplace": True}, lambda m: _in_place(m, torch.tensor([-1.0, 2.0]))),
]

# Activations without keywords: checked against their formula.
FORMULAS = {
    "identity": lambda x: x,
    "sigmoid": lambda x: 1 / (1 + torch.exp(-x)),
    "tanh": lambda x: (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x)),
}


@pytest.mark.parametrize("name", BUILTINS)
def test_forward_and_backward(name):
    activation = REGISTRY.create("activations", name)
    x = torch.linspace(-3, 3, 24).reshape(4, 6).requires_grad_()
    y = activation(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    if name != "identity":  # a non-linearity: not an affine map of x
        assert not torch.allclose(x.grad, x.grad.flatten()[0].expand_as(x.grad))


@pytest.mark.parametrize(
    ("name", "kwargs", "check"), KEYWORD_CASES, ids=lambda v: str(v) if isinstance(v, (str, dict)) else ""
)
def test_keyword_is_honoured(name, kwargs, check):
    assert check(REGISTRY.create("activations", name, **kwargs))


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_keywordless_activation_matches_formula(name):
    x = torch.linspace(-4, 4, 17)
    torch.testing.assert_close(REGISTRY.create("activations", name)(x), FORMULAS[name](x))


@pytest.mark.parametrize("name", BUILTINS)
def test_every_keyword_is_covered(name):
    params = set(inspect.signature(REGISTRY.get("activations", name)).parameters)
    covered = {key for case, kwargs, _ in KEYWORD_CASES if case == name for key in kwargs}
    assert params == covered, f"add a KEYWORD_CASES entry for {name}: {sorted(params - covered)}"
    if not params:
        assert name in FORMULAS, f"add a FORMULAS entry for {name}"


@pytest.mark.parametrize("name", BUILTINS)
def test_unknown_keyword_is_rejected(name):
    with pytest.raises(InvalidArgumentsError, match=f"activation '{name}' got an unknown argument 'bogus'"):
        REGISTRY.create("activations", name, bogus=1)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("gelu", {"approximate": "erf"}, "approximate must be 'none' or 'tanh'"),
        ("softplus", {"beta": 0.0}, "beta must be positive"),
        ("prelu", {"num_parameters": 0}, "num_parameters must be at least 1"),
    ],
)
def test_bad_values_are_rejected(name, kwargs, message):
    with pytest.raises(InvalidArgumentsError, match=message):
        REGISTRY.create("activations", name, **kwargs)
