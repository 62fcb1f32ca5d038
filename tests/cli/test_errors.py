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


def raised(make):
    try:
        make()
    except Exception as exc:  # noqa: BLE001 (the chain is what is tested)
        return exc
    raise AssertionError("nothing raised")


def test_root_cause_follows_causes_and_contexts_but_stops_at_from_none():
    from lit_nn.cli.messages import root_cause

    inner = KeyError("inner")

    def chained(suppress):
        def make():
            try:
                raise inner
            except KeyError:
                wrapped = ValueError("what the class says")
                if suppress:
                    raise wrapped from None
                raise wrapped  # noqa: B904 (the implicit context is what is tested)

        try:
            make()
        except ValueError as exc:
            raise TypeError("the report") from exc

    assert root_cause(raised(lambda: chained(False))) is inner
    suppressed = root_cause(raised(lambda: chained(True)))
    assert isinstance(suppressed, ValueError) and str(suppressed) == "what the class says"
