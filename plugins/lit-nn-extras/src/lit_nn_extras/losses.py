"""The pinball loss: regression to a quantile instead of the mean."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class PinballLoss(nn.Module):
    """Quantile (pinball) loss, ``max(q·e, (q − 1)·e)`` with ``e = target − prediction``.

    With one quantile the model predicts that quantile (0.5: the median, robust to outliers).
    With several, the model needs one output per quantile (``num_targets`` outputs for a single
    target are not enough, so use one quantile per target column) and each output column is
    trained on its own quantile.

    Args:
        quantiles: Quantiles in ``(0, 1)``, one per prediction column.
    """

    def __init__(self, quantiles: Sequence[float] | float = 0.5) -> None:
        super().__init__()
        values = [quantiles] if isinstance(quantiles, (int, float)) else list(quantiles)
        if not values or not all(0.0 < q < 1.0 for q in values):
            raise ValueError(f"quantiles must lie strictly between 0 and 1, got {quantiles}")
        self.register_buffer("quantiles", torch.tensor(values, dtype=torch.float32))

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """Mean pinball loss.

        Args:
            prediction: ``(N, Q)`` or ``(N,)``.
            target: Broadcastable to ``prediction``: ``(N,)``, ``(N, 1)`` or ``(N, Q)``.

        Returns:
            A scalar.
        """
        if prediction.dim() == 1:
            prediction = prediction[:, None]
        target = target.reshape(len(target), -1).to(prediction.dtype)
        if prediction.shape[1] != len(self.quantiles):
            raise ValueError(
                f"the prediction has {prediction.shape[1]} columns but there are {len(self.quantiles)} quantiles"
            )
        error = target - prediction
        q = self.quantiles.to(prediction.dtype)
        return torch.maximum(q * error, (q - 1) * error).mean()
