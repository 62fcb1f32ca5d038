"""Built-in losses, each an ``nn.Module`` called as ``loss(prediction, target)``.

Shapes, as the tasks pass them: regression ``(N, T)`` predictions with ``(N, T)`` or ``(N,)``
targets; binary ``(N,)`` logits with ``(N,)`` 0/1 labels; multiclass ``(N, C)`` logits with
``(N,)`` class indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Reduction = Literal["mean", "sum", "none"]


def _check_reduction(reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class TargetAsPrediction(nn.Module):
    """Give the target the prediction's shape and dtype, then apply an element-wise loss.

    Without this, an ``(N, 1)`` prediction against an ``(N,)`` target silently broadcasts to
    ``(N, N)`` in ``nn.MSELoss``.

    Args:
        loss: An element-wise torch loss taking ``(input, target)`` of equal shapes.
    """

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            prediction: Model output.
            target: Targets with as many elements as ``prediction``.

        Returns:
            The reduced loss.

        Raises:
            ValueError: If the element counts differ.
        """
        if target.numel() != prediction.numel():
            raise ValueError(
                f"prediction of shape {tuple(prediction.shape)} and target of shape "
                f"{tuple(target.shape)} have different numbers of elements"
            )
        return self.loss(prediction, target.reshape(prediction.shape).to(prediction.dtype))


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): cross-entropy scaled by ``(1 - p_t) ** gamma``.

    Binary when prediction and target have the same number of elements (logits and 0/1
    labels), multiclass when the prediction has one more dimension (logits ``(N, C)`` and class
    indices ``(N,)``).

    Args:
        gamma: Focusing parameter; 0 gives (weighted) cross-entropy.
        alpha: Binary: weight of the positive class in ``[0, 1]`` (negatives get
            ``1 - alpha``). Multiclass: one weight per class, or a single weight for all.
            ``None`` weights nothing.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    alpha: Tensor | None  # a buffer (saved with the module), or None

    def __init__(
        self, gamma: float = 2.0, alpha: float | Sequence[float] | None = None, reduction: Reduction = "mean"
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be non-negative, got {gamma}")
        _check_reduction(reduction)
        self.gamma = float(gamma)
        self.reduction = reduction
        alpha_tensor = None if alpha is None else torch.as_tensor(alpha, dtype=torch.float32)
        self.register_buffer("alpha", alpha_tensor)

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            prediction: Logits, ``(N,)`` for binary or ``(N, C)`` for multiclass.
            target: 0/1 labels ``(N,)`` for binary, class indices ``(N,)`` for multiclass.

        Returns:
            The reduced loss.
        """
        if prediction.dim() == target.dim() + 1:
            return self._multiclass(prediction, target.long())
        return self._binary(prediction, target.reshape(prediction.shape).to(prediction.dtype))

    def _binary(self, logits: Tensor, target: Tensor) -> Tensor:
        ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        p = torch.sigmoid(logits)
        p_t = p * target + (1 - p) * (1 - target)
        loss = ce * (1 - p_t) ** self.gamma
        if self.alpha is not None:
            loss = loss * (self.alpha * target + (1 - self.alpha) * (1 - target))
        return _reduce(loss, self.reduction)

    def _multiclass(self, logits: Tensor, target: Tensor) -> Tensor:
        log_p_t = F.log_softmax(logits, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
        loss = -((1 - log_p_t.exp()) ** self.gamma) * log_p_t
        if self.alpha is not None:
            loss = loss * (self.alpha[target] if self.alpha.dim() else self.alpha)
        return _reduce(loss, self.reduction)


def mse(reduction: Reduction = "mean") -> nn.Module:
    """Mean squared error, the default regression loss.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The loss module.
    """
    _check_reduction(reduction)
    return TargetAsPrediction(nn.MSELoss(reduction=reduction))


def l1(reduction: Reduction = "mean") -> nn.Module:
    """Mean absolute error; robust to outliers.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The loss module.
    """
    _check_reduction(reduction)
    return TargetAsPrediction(nn.L1Loss(reduction=reduction))


def huber(delta: float = 1.0, reduction: Reduction = "mean") -> nn.Module:
    """Huber loss: quadratic for errors below ``delta``, linear above.

    Args:
        delta: Where the loss turns linear; must be positive.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The loss module.

    Raises:
        ValueError: If ``delta`` is not positive.
    """
    if delta <= 0:
        raise ValueError(f"delta must be positive, got {delta}")
    _check_reduction(reduction)
    return TargetAsPrediction(nn.HuberLoss(delta=delta, reduction=reduction))


def smooth_l1(beta: float = 1.0, reduction: Reduction = "mean") -> nn.Module:
    """Smooth L1: Huber loss divided by ``beta``.

    Args:
        beta: Where the loss turns linear; must be non-negative.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The loss module.

    Raises:
        ValueError: If ``beta`` is negative.
    """
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got {beta}")
    _check_reduction(reduction)
    return TargetAsPrediction(nn.SmoothL1Loss(beta=beta, reduction=reduction))


def bce_with_logits(pos_weight: float | None = None, reduction: Reduction = "mean") -> nn.Module:
    """Binary cross-entropy on logits, the default binary loss.

    Args:
        pos_weight: Weight of positive examples (``n_negative / n_positive`` balances classes).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The loss module.

    Raises:
        ValueError: If ``pos_weight`` is not positive.
    """
    if pos_weight is not None and pos_weight <= 0:
        raise ValueError(f"pos_weight must be positive, got {pos_weight}")
    _check_reduction(reduction)
    weight = None if pos_weight is None else torch.tensor(float(pos_weight))
    return TargetAsPrediction(nn.BCEWithLogitsLoss(pos_weight=weight, reduction=reduction))


def cross_entropy(
    label_smoothing: float = 0.0,
    weight: Sequence[float] | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> nn.Module:
    """Cross-entropy on logits, the default multiclass loss.

    Args:
        label_smoothing: Mass in ``[0, 1)`` spread uniformly over all classes.
        weight: One weight per class, for imbalanced data.
        ignore_index: Target value that contributes nothing.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        ``nn.CrossEntropyLoss``.

    Raises:
        ValueError: If ``label_smoothing`` is outside ``[0, 1)``.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    _check_reduction(reduction)
    weights = None if weight is None else torch.as_tensor(weight, dtype=torch.float32)
    return nn.CrossEntropyLoss(
        weight=weights, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
    )


def focal(gamma: float = 2.0, alpha: float | Sequence[float] | None = None, reduction: Reduction = "mean") -> nn.Module:
    """Focal loss for binary or multiclass classification (see :class:`FocalLoss`).

    Args:
        gamma: Focusing parameter; larger down-weights easy examples more.
        alpha: Class weighting (see :class:`FocalLoss`).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The loss module.
    """
    return FocalLoss(gamma=gamma, alpha=alpha, reduction=reduction)
