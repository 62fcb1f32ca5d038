"""The textbook's stack of linear layers with a non-linearity between them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from torch import Tensor, nn

Norm = Literal["none", "batch", "layer"]


def norm_layer(norm: str, features: int) -> nn.Module:
    """Build a normalisation layer for ``features`` features.

    Args:
        norm: ``"none"``, ``"batch"`` or ``"layer"``.
        features: Number of features.

    Returns:
        The layer (``nn.Identity`` for ``"none"``).

    Raises:
        ValueError: For an unknown ``norm``.
    """
    if norm == "batch":
        return nn.BatchNorm1d(features)
    if norm == "layer":
        return nn.LayerNorm(features)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'none', 'batch' or 'layer', got {norm!r}")


class MLP(nn.Module):
    """Flatten, then ``Linear → norm → activation → dropout`` per hidden layer, then a linear head.

    Args:
        input_shape: One sample's shape; it is flattened.
        output_size: Number of outputs.
        activation: Returns a fresh activation module per call.
        hidden_sizes: Width of each hidden layer; empty gives a linear model.
        dropout: Dropout probability after each hidden activation.
        norm: Normalisation after each hidden linear layer.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        output_size: int,
        activation: Callable[[], nn.Module],
        hidden_sizes: Sequence[int] = (128, 64),
        dropout: float = 0.0,
        norm: Norm = "none",
    ) -> None:
        super().__init__()
        if any(h < 1 for h in hidden_sizes):
            raise ValueError(f"hidden_sizes must be positive, got {list(hidden_sizes)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(input_shape)
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), norm_layer(norm, hidden), activation()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, output_size))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(batch, *input_shape)`` to ``(batch, output_size)``.

        Args:
            x: Input batch.

        Returns:
            Raw outputs.
        """
        return self.layers(x)
