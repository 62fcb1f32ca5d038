"""Fixture plugin whose entry point is named like the 'good' fixture plugin's."""

from torch import nn

import lit_nn


@lit_nn.hookimpl
def lit_nn_register_activations():
    return {"fixture_samename": nn.ReLU}
