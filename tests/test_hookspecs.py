"""The hook contract: kinds match hookspecs, and every hook has its own test."""

from __future__ import annotations

import inspect

from lit_nn import hookspecs
from lit_nn.registry import KINDS, hook_name
from tests import test_registry

HOOKS = sorted(n for n, f in vars(hookspecs).items() if n.startswith("lit_nn_") and inspect.isfunction(f))


def test_every_kind_has_a_hookspec_and_back():
    assert HOOKS == sorted(hook_name(k) for k in KINDS)


def test_hooks_take_no_arguments_and_are_documented():
    for name in HOOKS:
        function = getattr(hookspecs, name)
        assert not inspect.signature(function).parameters, name
        assert "Returns:" in (function.__doc__ or ""), name


def test_plugin_hooks_have_tests():
    """As datasette does: a ``test_hook_<name>`` for every hook."""
    missing = [h for h in HOOKS if not hasattr(test_registry, f"test_hook_{h}")]
    assert not missing, f"add tests/test_registry.py::test_hook_<name> for {missing}"
