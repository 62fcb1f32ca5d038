"""Fixture plugin that fails on import."""

import litnn_fixture_dependency_that_is_not_installed  # noqa: F401

import lit_nn


@lit_nn.hookimpl
def lit_nn_register_activations():
    return {}
