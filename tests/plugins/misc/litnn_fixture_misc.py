"""Fixture plugins, one class each, that break the plugin contract in different ways."""

from torch import nn

import lit_nn


class Typo:
    @staticmethod
    @lit_nn.hookimpl
    def lit_nn_register_activation():
        return {"fixture_typo": nn.ReLU}


class Unmarked:
    @staticmethod
    def lit_nn_register_activations():
        return {"fixture_unmarked": nn.ReLU}


class WrongArgs:
    @staticmethod
    @lit_nn.hookimpl
    def lit_nn_register_activations(config):
        return {"fixture_wrong_args": nn.ReLU}


class ReturnsList:
    @staticmethod
    @lit_nn.hookimpl
    def lit_nn_register_activations():
        return [("fixture_list", nn.ReLU)]


class ReturnsNone:
    @staticmethod
    @lit_nn.hookimpl
    def lit_nn_register_losses():
        """Builds the table but forgets to return it."""
        {"fixture_none": nn.MSELoss}  # noqa: B018


class BadName:
    @staticmethod
    @lit_nn.hookimpl
    def lit_nn_register_activations():
        return {"Fixture-Bad": nn.ReLU}


class NotCallable:
    @staticmethod
    @lit_nn.hookimpl
    def lit_nn_register_losses():
        return {"fixture_not_callable": 3.5}


class NotDataModule:
    @staticmethod
    @lit_nn.hookimpl
    def lit_nn_register_datamodules():
        return {"fixture_not_datamodule": nn.Linear}
