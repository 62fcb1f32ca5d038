"""Every built-in loss: forward and backward on real tensors, every keyword honoured."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from lit_nn.errors import InvalidArgumentsError
from lit_nn.registry import build_registry

REGISTRY = build_registry(autoload=False)
BUILTINS = [e.name for e in REGISTRY.entries("losses") if e.plugin.builtin]


def problem(kind):
    """Predictions (requiring grad) and targets as the tasks pass them."""
    g = torch.Generator().manual_seed(0)
    if kind == "regression":
        return torch.randn(8, 1, generator=g).requires_grad_(), torch.randn(8, generator=g)
    if kind == "binary":
        return torch.randn(8, generator=g).requires_grad_(), torch.randint(0, 2, (8,), generator=g)
    return torch.randn(8, 3, generator=g).requires_grad_(), torch.randint(0, 3, (8,), generator=g)


PROBLEMS = {
    "mse": ["regression"],
    "l1": ["regression"],
    "huber": ["regression"],
    "smooth_l1": ["regression"],
    "bce_with_logits": ["binary"],
    "cross_entropy": ["multiclass"],
    "focal": ["binary", "multiclass"],
}

P, T = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])
LOGITS, LABELS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]]), torch.tensor([0, 2])
BIN_LOGITS, BIN_LABELS = torch.tensor([0.0, 1.5, -2.0]), torch.tensor([1, 0, 1])


def close(a, b):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32), atol=1e-6)


# (name, kwargs, check(loss) -> bool); every keyword of every built-in appears at least once.
KEYWORD_CASES = [
    ("mse", {"reduction": "sum"}, lambda m: close(m(P, T), 5.0)),
    ("l1", {"reduction": "none"}, lambda m: close(m(P, T), [1.0, 2.0])),
    ("huber", {"delta": 0.5}, lambda m: close(m(torch.tensor([2.0, 0.2]), torch.zeros(2)), (0.875 + 0.02) / 2)),
    ("huber", {"reduction": "sum"}, lambda m: close(m(torch.tensor([2.0, 0.2]), torch.zeros(2)), 1.5 + 0.02)),
    ("smooth_l1", {"beta": 0.5}, lambda m: close(m(torch.tensor([2.0, 0.2]), torch.zeros(2)), (1.75 + 0.04) / 2)),
    ("smooth_l1", {"reduction": "none"}, lambda m: close(m(torch.tensor([2.0, 0.2]), torch.zeros(2)), [1.5, 0.02])),
    (
        "bce_with_logits",
        {"pos_weight": 3.0},
        lambda m: close(m(torch.zeros(2), torch.tensor([1, 0])), (3 + 1) * math.log(2) / 2),
    ),
    (
        "bce_with_logits",
        {"reduction": "sum"},
        lambda m: close(m(torch.zeros(2), torch.tensor([1, 0])), 2 * math.log(2)),
    ),
    (
        "cross_entropy",
        {"label_smoothing": 0.2},
        lambda m: close(m(LOGITS, LABELS), F.cross_entropy(LOGITS, LABELS, label_smoothing=0.2)),
    ),
    (
        "cross_entropy",
        {"weight": [1.0, 1.0, 3.0]},
        lambda m: close(
            m(LOGITS, LABELS), (F.cross_entropy(LOGITS, LABELS, reduction="none") * torch.tensor([1.0, 3.0])).sum() / 4
        ),
    ),
    ("cross_entropy", {"ignore_index": 2}, lambda m: close(m(LOGITS, LABELS), F.cross_entropy(LOGITS[:1], LABELS[:1]))),
    ("cross_entropy", {"reduction": "none"}, lambda m: m(LOGITS, LABELS).shape == (2,)),
    ("focal", {"gamma": 0.0}, lambda m: close(m(LOGITS, LABELS), F.cross_entropy(LOGITS, LABELS))),
    (
        "focal",
        {"alpha": 0.25},
        lambda m: close(
            m(BIN_LOGITS, BIN_LABELS),
            sigmoid_focal_loss(BIN_LOGITS, BIN_LABELS.float(), alpha=0.25, gamma=2.0, reduction="mean"),
        ),
    ),
    (
        "focal",
        {"reduction": "sum"},
        lambda m: close(
            m(BIN_LOGITS, BIN_LABELS),
            sigmoid_focal_loss(BIN_LOGITS, BIN_LABELS.float(), alpha=-1, gamma=2.0, reduction="sum"),
        ),
    ),
]


def test_focal_multiclass_alpha_and_gamma_by_hand():
    loss = REGISTRY.create("losses", "focal", gamma=1.0, alpha=[0.5, 1.0, 2.0], reduction="none")
    p = F.softmax(LOGITS, dim=-1)
    expected = torch.stack([-0.5 * (1 - p[0, 0]) * p[0, 0].log(), -2.0 * (1 - p[1, 2]) * p[1, 2].log()])
    torch.testing.assert_close(loss(LOGITS, LABELS), expected)


@pytest.mark.parametrize(("name", "kind"), [(n, k) for n in BUILTINS for k in PROBLEMS.get(n, ["?"])])
def test_forward_and_backward(name, kind):
    assert kind != "?", f"add {name} to PROBLEMS"
    prediction, target = problem(kind)
    value = REGISTRY.create("losses", name)(prediction, target)
    assert value.dim() == 0 and torch.isfinite(value) and value.item() >= 0
    value.backward()
    assert prediction.grad is not None and torch.isfinite(prediction.grad).all() and prediction.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("name", "kwargs", "check"), KEYWORD_CASES, ids=lambda v: str(v) if isinstance(v, (str, dict)) else ""
)
def test_keyword_is_honoured(name, kwargs, check):
    assert check(REGISTRY.create("losses", name, **kwargs))


@pytest.mark.parametrize("name", BUILTINS)
def test_every_keyword_is_covered(name):
    params = set(inspect.signature(REGISTRY.get("losses", name)).parameters)
    covered = {key for case, kwargs, _ in KEYWORD_CASES if case == name for key in kwargs}
    assert params == covered, f"add a KEYWORD_CASES entry for {name}: {sorted(params - covered)}"


@pytest.mark.parametrize("name", BUILTINS)
def test_unknown_keyword_is_rejected(name):
    with pytest.raises(InvalidArgumentsError, match=f"loss '{name}' got an unknown argument 'bogus'. It accepts"):
        REGISTRY.create("losses", name, bogus=1)


def test_regression_target_takes_the_prediction_shape():
    # (8, 1) against (8,) would broadcast to (8, 8) in plain nn.MSELoss
    prediction, target = problem("regression")
    value = REGISTRY.create("losses", "mse")(prediction, target)
    torch.testing.assert_close(value, ((prediction.squeeze(1) - target) ** 2).mean())


def test_mismatched_sizes_say_so():
    with pytest.raises(ValueError, match=r"prediction of shape \(4, 1\) and target of shape \(3,\)"):
        REGISTRY.create("losses", "mse")(torch.zeros(4, 1), torch.zeros(3))


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("mse", {"reduction": "avg"}, "reduction must be 'mean', 'sum' or 'none'"),
        ("huber", {"delta": 0.0}, "delta must be positive"),
        ("smooth_l1", {"beta": -1.0}, "beta must be non-negative"),
        ("bce_with_logits", {"pos_weight": -2.0}, "pos_weight must be positive"),
        ("cross_entropy", {"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\)"),
        ("focal", {"gamma": -1.0}, "gamma must be non-negative"),
    ],
)
def test_bad_values_are_rejected(name, kwargs, message):
    with pytest.raises(InvalidArgumentsError, match=message):
        REGISTRY.create("losses", name, **kwargs)
