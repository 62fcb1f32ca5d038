"""Fixture plugin whose hook raises; its other hook must not register anything either."""

from torch import nn

import lit_nn


@lit_nn.hookimpl
def lit_nn_register_activations():
    return {"fixture_raising_ok": nn.ReLU}


@lit_nn.hookimpl
def lit_nn_register_losses():
    raise RuntimeError("the loss table could not be read")
