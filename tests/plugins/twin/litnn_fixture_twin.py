"""Fixture plugin registering a name that the 'good' fixture plugin registers too."""

from torch import nn

import lit_nn


@lit_nn.hookimpl
def lit_nn_register_activations():
    return {"fixture_swish": nn.SiLU, "fixture_twin_only": nn.Tanh}
