"""The textbook's failure modes made visible: dead units, saturated outputs, vanishing gradients.

Every activation the task built from the registry is measured, whatever its class (lit_nn's tasks
list them in ``activation_layers``; other modules' ``torch.nn`` activations are found by class).
Saturation is defined from each activation's own derivative, so sigmoid, tanh and a plugin's
activation are judged alike.
"""

from __future__ import annotations

import math
import weakref
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from lit_nn.console import notice

PROBE = torch.linspace(-20.0, 20.0, 4001)
"""Where each activation's peak |f'| is looked for."""


def dead_fraction(output: Tensor) -> float:
    """Share of units that are never positive for any sample (and position) of the batch.

    Args:
        output: An activation's output, ``(N, units, …)`` or ``(N,)``.

    Returns:
        A fraction in ``[0, 1]``; a unit is a feature or a channel.
    """
    units = output.transpose(0, 1).reshape(output.shape[1], -1) if output.dim() > 1 else output.reshape(1, -1)
    return float((units.amax(dim=1) <= 0).float().mean())


def derivative(module: nn.Module, x: Tensor) -> Tensor:
    """The elementwise derivative of an activation at ``x``.

    Args:
        module: The activation (applied elementwise).
        x: Where to take it.

    Returns:
        ``f'(x)``, shaped like ``x``.
    """
    with torch.enable_grad():
        leaf = x.detach().to(torch.float32).requires_grad_(True)
        # forward, not __call__: no hooks (this runs inside them); the clone keeps in-place ones legal
        (grad,) = torch.autograd.grad(module.forward(leaf.clone()).sum(), leaf)
    return grad


def relu_like(module: nn.Module, device: torch.device | None = None) -> bool:
    """Whether an activation is exactly zero for negative inputs (ReLU, ReLU6 …), so its units can die.

    Args:
        module: The activation.
        device: Where its parameters live (default: the CPU).

    Returns:
        True when ``f(-3) == f(-1) == 0``.
    """
    with torch.no_grad():
        return bool((module.forward(torch.tensor([-3.0, -1.0], device=device)) == 0).all())


class ActivationStatistics(Callback):
    """Per-layer statistics every ``every_n_steps`` training steps, a figure, and a warning line.

    Measured on one batch, for each activation layer: the share of dead units (never positive
    over the batch, for ReLU-like activations), the share of saturated outputs (where
    ``|f'(x)|`` falls under ``saturation`` times the activation's peak), and the norm of the
    gradient reaching the layer's output; the ratio of the first layer's gradient norm to the
    last's; and each parameter's weight and gradient norm. Logged to every logger as
    ``stats/<layer>/dead_fraction``, ``…/saturated_fraction``, ``…/grad_norm``,
    ``stats/grad_ratio_first_last``, ``stats/<parameter>/weight_norm`` and ``…/grad_norm``.
    A layer that crosses a threshold is named once, in one line, with what to try. With
    ``figure`` on, ``activation_stats.png`` (layers by measured steps) is redrawn at each epoch's
    end in ``<run>/<subfolder>`` and logged to W&B. Hooks are attached only for measured steps;
    ``every_n_steps=0`` (the default) measures nothing.

    Args:
        every_n_steps: Measure every N optimiser steps (0: never).
        saturation: Fraction of an activation's peak ``|f'|`` under which an output counts as
            saturated.
        dead_warning: Warn when more than this share of a layer's units are dead.
        saturated_warning: Warn when more than this share of a layer's outputs are saturated
            (activations that are not ReLU-like).
        vanishing_warning: Warn when the gradient reaching the first layer is less than this
            fraction of the gradient reaching the last.
        figure: Draw ``activation_stats.png``.
        subfolder: Where the figure goes, under the trainer's root folder.
    """

    def __init__(
        self,
        every_n_steps: int = 0,
        saturation: float = 0.05,
        dead_warning: float = 0.5,
        saturated_warning: float = 0.5,
        vanishing_warning: float = 1e-3,
        figure: bool = True,
        subfolder: str = "plots",
    ) -> None:
        if every_n_steps < 0:
            raise ValueError(f"every_n_steps must be 0 or more, got {every_n_steps}")
        limits = {"saturation": saturation, "dead_warning": dead_warning, "saturated_warning": saturated_warning,
                  "vanishing_warning": vanishing_warning}  # fmt: skip
        for name, value in limits.items():
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        self.every_n_steps, self.saturation = every_n_steps, saturation
        self.dead_warning, self.saturated_warning, self.vanishing_warning = (
            dead_warning,
            saturated_warning,
            vanishing_warning,
        )
        self.figure, self.subfolder = figure, subfolder
        self.latest: dict[str, float] = {}
        self.history: list[dict[str, float]] = []
        """One row per measured step: ``step``, ``epoch`` and the logged values."""
        self.written: list[Path] = []
        self._handles: list[RemovableHandle] = []
        self._inputs: dict[str, Tensor] = {}
        self._grads: dict[str, Tensor] = {}
        self._kinds: weakref.WeakKeyDictionary[nn.Module, tuple[bool, float, bool]] = weakref.WeakKeyDictionary()
        self._warned: set[tuple[str, str]] = set()
        self._step = 0

    @staticmethod
    def layers(pl_module: LightningModule) -> dict[str, nn.Module]:
        """The activation layers to measure, by readable name, in the order they are applied.

        Args:
            pl_module: The model.

        Returns:
            Name to module: the task's ``activation_layers``, else every ``torch.nn`` activation.
        """
        modules = dict(pl_module.named_modules())
        named = getattr(pl_module, "activation_layers", None)
        if named:
            return {label: modules[name] for name, label in named.items() if name in modules}
        return {name: m for name, m in modules.items() if type(m).__module__ == "torch.nn.modules.activation"}

    def _kind(self, module: nn.Module) -> tuple[bool, float, bool]:
        """Whether units can die, the peak slope, and whether the slope fades to zero (sigmoid, tanh, GELU)."""
        key = module  # weakly held: an id() could come back for another module once this one is gone
        if key not in self._kinds:
            device = next((p.device for p in module.parameters()), torch.device("cpu"))  # PReLU on a GPU
            slope = derivative(module, PROBE.to(device)).abs()
            peak = float(slope.max())
            self._kinds[key] = (relu_like(module, device), peak, float(slope.min()) < 1e-3 * peak)
        return self._kinds[key]

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:  # noqa: ANN401
        """Attach hooks when this step is measured."""
        if not self.every_n_steps or trainer.global_step % self.every_n_steps:
            return
        self.latest, self._step, self._inputs, self._grads = {}, trainer.global_step, {}, {}
        for label, module in self.layers(pl_module).items():
            self._handles.append(module.register_forward_pre_hook(self._keep_input(label)))
            self._handles.append(module.register_forward_hook(self._measure(label)))

    def _keep_input(self, label: str) -> Any:  # noqa: ANN401 (a hook)
        def keep(module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
            if label not in self._inputs:  # a module applied twice (ResNet blocks): its first use
                self._inputs[label] = inputs[0].detach().clone()

        return keep

    def _measure(self, label: str) -> Any:  # noqa: ANN401 (a hook)
        def measure(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            if f"stats/{label}/saturated_fraction" in self.latest:
                return
            is_relu_like, peak, _ = self._kind(module)
            with torch.no_grad():
                if is_relu_like:
                    self.latest[f"stats/{label}/dead_fraction"] = dead_fraction(output)
                slope = derivative(module, self._inputs.pop(label)).abs()
                self.latest[f"stats/{label}/saturated_fraction"] = float(
                    (slope < self.saturation * peak).float().mean()
                )
            if output.requires_grad:
                output.register_hook(self._keep_grad(label))

        return measure

    def _keep_grad(self, label: str) -> Any:  # noqa: ANN401 (a tensor hook)
        def keep(grad: Tensor) -> None:  # returns nothing: the gradient flows on unchanged
            self._grads.setdefault(label, grad.detach().norm())

        return keep

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Any) -> None:  # noqa: ANN401
        """Measure the gradients reaching each layer, and weight and gradient norms, on measured steps."""
        if not self._handles:
            return
        norms = {label: float(grad) for label, grad in self._grads.items()}
        order = [label for label in self.layers(pl_module) if label in norms]
        for label in order:
            self.latest[f"stats/{label}/grad_norm"] = norms[label]
        if len(order) > 1 and norms[order[-1]] > 0:
            self.latest["stats/grad_ratio_first_last"] = norms[order[0]] / norms[order[-1]]
        for name, parameter in pl_module.named_parameters():
            self.latest[f"stats/{name}/weight_norm"] = float(parameter.detach().norm())
            if parameter.grad is not None:
                self.latest[f"stats/{name}/grad_norm"] = float(parameter.grad.detach().norm())

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:  # noqa: ANN401
        """Detach the hooks, log what was measured, and say what crossed a threshold."""
        if not self._handles:
            return
        for handle in self._handles:
            handle.remove()
        self._handles, self._inputs = [], {}
        for logger in trainer.loggers:
            logger.log_metrics(self.latest, step=self._step)  # the step measured, not the next one
        self.history.append({"step": float(self._step), "epoch": float(trainer.current_epoch), **self.latest})
        if trainer.is_global_zero:
            layers = self.layers(pl_module)
            fading = {label for label, module in layers.items() if self._kind(module)[2]}
            self._warn(list(layers), fading)

    def _warn(self, order: list[str], fading: set[str]) -> None:
        """Say once per layer what crossed a threshold; saturation only where the slope fades to zero."""
        step, latest = self._step, self.latest
        for label in order:
            dead = latest.get(f"stats/{label}/dead_fraction")
            if dead is not None and dead > self.dead_warning and ("dead", label) not in self._warned:
                self._warned.add(("dead", label))
                notice(f"{label}: {dead:.0%} of its units are dead (never positive on a batch) at step {step}; try "
                       "--model.activation leaky_relu, a lower --model.lr, or normalisation "
                       "(--model.backbone_kwargs.norm batch)")  # fmt: skip
            saturated = latest.get(f"stats/{label}/saturated_fraction")
            if dead is None and label in fading and saturated is not None and saturated > self.saturated_warning:
                if ("saturated", label) not in self._warned:
                    self._warned.add(("saturated", label))
                    notice(f"{label}: {saturated:.0%} of its outputs are saturated (slope under "
                           f"{self.saturation:.0%} of its peak) at step {step}; try --model.activation relu or "
                           "leaky_relu, normalisation, or a lower --model.lr")  # fmt: skip
        ratio = latest.get("stats/grad_ratio_first_last")
        if ratio is not None and ratio < self.vanishing_warning and ("vanishing", "") not in self._warned:
            self._warned.add(("vanishing", ""))
            notice(f"the gradient reaching {order[0]} is {ratio:.1e} of the gradient reaching {order[-1]} at step "
                   f"{step}: it vanishes on the way to the first layers; try --model.activation relu or leaky_relu, "
                   "normalisation (--model.backbone_kwargs.norm batch), or fewer layers")  # fmt: skip

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Redraw the figure from every measurement so far."""
        if not (self.figure and self.history and trainer.is_global_zero):
            return
        from lit_nn import plotting

        folder = Path(trainer.default_root_dir) / self.subfolder
        path = plotting.activation_statistics(
            self.history, list(self.layers(pl_module)), folder / "activation_stats.png"
        )
        if path not in self.written:
            self.written.append(path)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key="plots/activation_stats", images=[str(path)])

    def state_dict(self) -> dict[str, Any]:
        """The measurements so far, kept in checkpoints so a resumed run's figure shows them all."""
        return {"history": [dict(row) for row in self.history]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take back the measurements of the run being resumed.

        Args:
            state_dict: From :meth:`state_dict`.
        """
        self.history = [
            {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and math.isfinite(v)}
            for row in state_dict.get("history", [])
        ]
