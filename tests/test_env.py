"""Yes/no environment settings."""

from __future__ import annotations

import pytest

from lit_nn.env import flag
from lit_nn.errors import ConfigError, PluginConfigError


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("Yes", True), (" on ", True), ("0", False),
                                                 ("", False), ("off", False)])  # fmt: skip
def test_yes_and_no(value, expected):
    assert flag("X", {"X": value}) is expected


def test_unset_is_no_and_anything_else_is_an_error_of_the_callers_kind():
    assert flag("X", {}) is False
    with pytest.raises(ConfigError, match="X='maybe' is not a yes/no value; set it to 1 or 0"):
        flag("X", {"X": "maybe"})
    with pytest.raises(PluginConfigError):
        flag("X", {"X": "maybe"}, PluginConfigError)
