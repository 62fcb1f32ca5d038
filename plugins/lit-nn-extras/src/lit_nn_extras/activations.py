"""Activations with learnable parameters."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Snake(nn.Module):
    """Snake, ``x + sin²(a·x) / a`` (Ziyin et al. 2020).

    ReLU-like growth plus a periodic bias, so a network can extrapolate periodic signals that
    ReLU and tanh networks cannot.

    Args:
        a: Initial frequency; must be positive.
        learnable: Learn ``a`` (one value per layer).
    """

    def __init__(self, a: float = 1.0, learnable: bool = True) -> None:
        super().__init__()
        if a <= 0:
            raise ValueError(f"a must be positive, got {a}")
        self.a = nn.Parameter(torch.tensor(float(a)), requires_grad=learnable)

    def forward(self, x: Tensor) -> Tensor:
        """Apply Snake element-wise."""
        a = self.a.abs() + 1e-6  # keep the frequency away from zero while it is learnt
        return x + torch.sin(a * x) ** 2 / a


class LearnableSwish(nn.Module):
    """Swish, ``x · sigmoid(β·x)``, with β learnt: β→0 gives a linear unit, β→∞ a ReLU.

    Args:
        beta: Initial β.
    """

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(float(beta)))

    def forward(self, x: Tensor) -> Tensor:
        """Apply Swish element-wise."""
        return x * torch.sigmoid(self.beta * x)
