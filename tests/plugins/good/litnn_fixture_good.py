"""Fixture plugin registering through every hook, found through its dist-info entry point."""

import math

import torch
from lightning.pytorch import LightningDataModule
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lit_nn


class Swish(nn.Module):
    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)


class Pinball(nn.Module):
    def __init__(self, quantile: float = 0.5) -> None:
        super().__init__()
        self.quantile = quantile

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = target.reshape(prediction.shape) - prediction
        return torch.maximum(self.quantile * error, (self.quantile - 1) * error).mean()


def linear_net(input_shape, output_size, activation, dropout, hidden=16):
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(input_shape), hidden),
        activation(),
        nn.Dropout(dropout),
        nn.Linear(hidden, output_size),
    )


class Blobs(LightningDataModule):
    """Two point clouds; it does not call save_hyperparameters(), as many third-party datamodules do not."""

    def __init__(self, num_samples: int = 64, batch_size: int = 16) -> None:
        super().__init__()
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.input_shape = (2,)
        self.num_classes = 2

    def setup(self, stage: str) -> None:
        generator = torch.Generator().manual_seed(0)
        labels = torch.arange(self.num_samples) % 2
        points = torch.randn(self.num_samples, 2, generator=generator) + 3 * labels[:, None]
        self.dataset = TensorDataset(points, labels)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size)

    val_dataloader = test_dataloader = train_dataloader


@lit_nn.hookimpl
def lit_nn_register_activations():
    return {"fixture_swish": Swish}


@lit_nn.hookimpl
def lit_nn_register_losses():
    return {"fixture_pinball": Pinball}


@lit_nn.hookimpl
def lit_nn_register_backbones():
    return {"fixture_linear": linear_net}


@lit_nn.hookimpl
def lit_nn_register_datamodules():
    return {"fixture_blobs": Blobs}
