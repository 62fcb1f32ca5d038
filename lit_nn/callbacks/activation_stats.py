"""The textbook's failure modes made visible: dead ReLUs, saturated sigmoid/tanh, norms."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle


def dead_fraction(output: Tensor) -> float:
    """Share of units that are zero for every sample (and position) of the batch.

    Args:
        output: A ReLU's output, ``(N, units, …)`` or ``(N,)``.

    Returns:
        A fraction in ``[0, 1]``; a unit is a feature or a channel.
    """
    units = output.transpose(0, 1).reshape(output.shape[1], -1) if output.dim() > 1 else output.reshape(1, -1)
    return float((units.amax(dim=1) <= 0).float().mean())


def saturated_fraction(output: Tensor, low: float, high: float) -> float:
    """Share of outputs at the flat ends of a sigmoid or tanh.

    Args:
        output: The activation's output.
        low: At or below this the function is saturated.
        high: At or above this the function is saturated.

    Returns:
        A fraction in ``[0, 1]``.
    """
    return float(((output <= low) | (output >= high)).float().mean())


class ActivationStatistics(Callback):
    """Per-layer statistics every ``every_n_steps`` training steps.

    Measured: the fraction of dead ReLU units, the fraction of saturated sigmoid/tanh outputs,
    and each parameter's weight and gradient norm. Hooks are attached only for the measured
    step, so the callback costs nothing in between,
    and nothing at all with ``every_n_steps=0`` (the default). Values go to every logger as
    ``stats/<layer>/dead_fraction``, ``stats/<layer>/saturated_fraction``,
    ``stats/<parameter>/weight_norm`` and ``stats/<parameter>/grad_norm``; the last ones are
    also kept in :attr:`latest`.

    Args:
        every_n_steps: Measure every N optimiser steps (0: never).
        saturation: A sigmoid output within ``1 - saturation`` of 0 or 1, or a tanh output
            beyond ``±saturation``, counts as saturated.
    """

    def __init__(self, every_n_steps: int = 0, saturation: float = 0.99) -> None:
        if every_n_steps < 0 or not 0.5 < saturation < 1.0:
            raise ValueError(
                f"every_n_steps must be 0 or more and saturation in (0.5, 1), got {every_n_steps}, {saturation}"
            )
        self.every_n_steps, self.saturation = every_n_steps, saturation
        self.latest: dict[str, float] = {}
        self._handles: list[RemovableHandle] = []
        self._step = 0

    def _hook(self, name: str, kind: str) -> Any:  # noqa: ANN401 (a forward hook)
        low, high = (1 - self.saturation, self.saturation) if kind == "sigmoid" else (-self.saturation, self.saturation)

        def record(module: nn.Module, inputs: Any, output: Tensor) -> None:  # noqa: ANN401
            with torch.no_grad():
                if kind == "relu":
                    self.latest[f"stats/{name}/dead_fraction"] = dead_fraction(output)
                else:
                    self.latest[f"stats/{name}/saturated_fraction"] = saturated_fraction(output, low, high)

        return record

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:  # noqa: ANN401
        """Attach forward hooks when this step is measured."""
        if not self.every_n_steps or trainer.global_step % self.every_n_steps:
            return
        self.latest, self._step = {}, trainer.global_step
        kinds = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
        for name, module in pl_module.named_modules():
            kind = kinds.get(type(module))
            if kind is not None:
                self._handles.append(module.register_forward_hook(self._hook(name, kind)))

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Any) -> None:  # noqa: ANN401
        """Measure weight and gradient norms on measured steps."""
        if not self._handles:
            return
        for name, parameter in pl_module.named_parameters():
            self.latest[f"stats/{name}/weight_norm"] = float(parameter.detach().norm())
            if parameter.grad is not None:
                self.latest[f"stats/{name}/grad_norm"] = float(parameter.grad.detach().norm())

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:  # noqa: ANN401
        """Detach the hooks and log what was measured."""
        if not self._handles:
            return
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for logger in trainer.loggers:
            logger.log_metrics(self.latest, step=self._step)  # the step measured, not the next one
