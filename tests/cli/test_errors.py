"""Suggestions in error messages."""

import pytest

from lit_nn.errors import suggest


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("rellu", " Did you mean 'relu'?"),
        ("slope", " Did you mean 'negative_slope'?"),
        ("zzz", ""),
        ("tanhh", " Did you mean 'tanh'?"),
    ],
)
def test_suggest(word, expected):
    assert suggest(word, ["relu", "tanh", "negative_slope", "inplace"]) == expected


def test_suggest_joins_several():
    assert suggest("elu", ["elu", "gelu", "selu", "relu"]) == " Did you mean 'elu', 'selu' or 'relu'?"
