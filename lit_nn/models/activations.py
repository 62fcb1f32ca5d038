"""Built-in activations: the textbook's sigmoid, tanh, ReLU and Leaky ReLU, and modern variants."""

from __future__ import annotations

from typing import Literal

from torch import nn


def identity() -> nn.Module:
    """No non-linearity: stacked linear layers collapse into one linear map (the textbook's point).

    Returns:
        ``nn.Identity``.
    """
    return nn.Identity()


def sigmoid() -> nn.Module:
    """Logistic sigmoid, ``1 / (1 + exp(-x))``; saturates (gradient near 0) for large ``|x|``.

    Returns:
        ``nn.Sigmoid``.
    """
    return nn.Sigmoid()


def tanh() -> nn.Module:
    """Hyperbolic tangent, zero-centred in ``(-1, 1)``; saturates like the sigmoid.

    Returns:
        ``nn.Tanh``.
    """
    return nn.Tanh()


def relu(inplace: bool = False) -> nn.Module:
    """Rectified linear unit, ``max(0, x)``; units stuck below zero stop learning ("dead").

    Args:
        inplace: Overwrite the input tensor to save memory.

    Returns:
        ``nn.ReLU``.
    """
    return nn.ReLU(inplace=inplace)


def leaky_relu(negative_slope: float = 0.01, inplace: bool = False) -> nn.Module:
    """ReLU with a small slope for negative inputs, so no unit dies completely.

    Args:
        negative_slope: Slope for ``x < 0``.
        inplace: Overwrite the input tensor to save memory.

    Returns:
        ``nn.LeakyReLU``.
    """
    return nn.LeakyReLU(negative_slope=negative_slope, inplace=inplace)


def prelu(num_parameters: int = 1, init: float = 0.25) -> nn.Module:
    """Leaky ReLU whose negative slope is learnt.

    Args:
        num_parameters: 1 (one slope shared) or the number of channels (one slope each).
        init: Initial slope.

    Returns:
        ``nn.PReLU``.

    Raises:
        ValueError: If ``num_parameters`` is not positive.
    """
    if num_parameters < 1:
        raise ValueError(f"num_parameters must be at least 1, got {num_parameters}")
    return nn.PReLU(num_parameters=num_parameters, init=init)


def elu(alpha: float = 1.0, inplace: bool = False) -> nn.Module:
    """Exponential linear unit: smooth, tends to ``-alpha`` for large negative inputs.

    Args:
        alpha: The negative saturation value.
        inplace: Overwrite the input tensor to save memory.

    Returns:
        ``nn.ELU``.
    """
    return nn.ELU(alpha=alpha, inplace=inplace)


def gelu(approximate: Literal["none", "tanh"] = "none") -> nn.Module:
    """Gaussian error linear unit, ``x * Phi(x)``.

    Args:
        approximate: ``"none"`` for the exact form, ``"tanh"`` for the tanh approximation.

    Returns:
        ``nn.GELU``.

    Raises:
        ValueError: If ``approximate`` is neither ``"none"`` nor ``"tanh"``.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return nn.GELU(approximate=approximate)


def silu(inplace: bool = False) -> nn.Module:
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``.

    Args:
        inplace: Overwrite the input tensor to save memory.

    Returns:
        ``nn.SiLU``.
    """
    return nn.SiLU(inplace=inplace)


def softplus(beta: float = 1.0, threshold: float = 20.0) -> nn.Module:
    """Smooth ReLU, ``log(1 + exp(beta * x)) / beta``.

    Args:
        beta: Sharpness; larger is closer to ReLU.
        threshold: Above ``beta * x > threshold`` the function is linear (numerical stability).

    Returns:
        ``nn.Softplus``.

    Raises:
        ValueError: If ``beta`` is not positive.
    """
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    return nn.Softplus(beta=beta, threshold=threshold)


def mish(inplace: bool = False) -> nn.Module:
    """Mish, ``x * tanh(softplus(x))``.

    Args:
        inplace: Overwrite the input tensor to save memory.

    Returns:
        ``nn.Mish``.
    """
    return nn.Mish(inplace=inplace)
