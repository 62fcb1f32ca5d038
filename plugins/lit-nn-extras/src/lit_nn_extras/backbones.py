"""A Fourier-feature network for low-dimensional inputs (plain ``nn.Module``; no Lightning)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn


class FourierMLP(nn.Module):
    """Random Fourier features ``[sin(2π·Bx), cos(2π·Bx)]`` followed by an MLP (Tancik et al. 2020).

    The fixed random projection ``B`` lets a small MLP fit high-frequency functions of a few
    inputs (spirals, periodic signals) that a plain MLP learns slowly.

    Args:
        input_shape: One sample's shape (flattened; meant for a handful of features).
        output_size: Number of outputs.
        activation: Returns a fresh activation module per call.
        dropout: Dropout after each hidden activation.
        num_frequencies: Rows of ``B``.
        scale: Standard deviation of ``B``'s entries: higher fits finer detail.
        hidden_sizes: Widths of the MLP's hidden layers.
        seed: Seed of ``B`` (saved with the model as a buffer).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        output_size: int,
        activation: Callable[[], nn.Module],
        dropout: float = 0.0,
        num_frequencies: int = 64,
        scale: float = 1.0,
        hidden_sizes: Sequence[int] = (128, 128),
        seed: int = 0,
    ) -> None:
        super().__init__()
        if num_frequencies < 1 or scale <= 0:
            raise ValueError(f"num_frequencies must be positive and scale above 0, got {num_frequencies}, {scale}")
        features = math.prod(input_shape)
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("projection", torch.randn(features, num_frequencies, generator=generator) * scale)
        layers: list[nn.Module] = []
        width = 2 * num_frequencies
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), activation(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, output_size))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(batch, *input_shape)`` to ``(batch, output_size)``."""
        angles = 2 * math.pi * x.flatten(1) @ self.projection
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=1))
