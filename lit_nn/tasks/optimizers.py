"""The tasks' optimisers and learning-rate schedules, by short name or by torch import path.

Short names are the task's own set-ups (``adamw``, ``onecycle`` …). An import path under
``torch.optim`` (``torch.optim.SGD``, ``torch.optim.lr_scheduler.StepLR``) with its keyword
arguments is what the CLI records when Lightning's ``--optimizer`` / ``--lr_scheduler`` replaced the
task's set-up, so a checkpoint says what ran and rebuilds it; nothing outside ``torch.optim`` is
imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

import torch

from lit_nn.errors import InvalidArgumentsError

PLANNED = "lit_nn_planned"
"""Attribute set on a scheduler the task planned over the run's steps (kept in its state_dict)."""

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": partial(torch.optim.SGD, momentum=0.9, nesterov=True),
    "rmsprop": torch.optim.RMSprop,
}
SCHEDULES = ("none", "cosine", "onecycle", "plateau")


def torch_class(path: str, package: str, base: type, what: str) -> type:
    """Import a class by path from inside ``package`` only.

    Args:
        path: ``package.Name``.
        package: The package it must live in (``torch.optim`` …).
        base: The class it must derive from.
        what: How to name it in messages.

    Returns:
        The class.

    Raises:
        InvalidArgumentsError: For a path outside ``package`` or a class that is not a ``base``.
    """
    module, _, name = path.rpartition(".")
    if module != package and not module.startswith(package + "."):
        raise InvalidArgumentsError(f"{what} {path!r} must be one of the task's names or a class in {package}")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise InvalidArgumentsError(f"{what} {path!r}: no such class in {module}") from None
    if not (isinstance(found, type) and issubclass(found, base)):
        raise InvalidArgumentsError(f"{what} {path!r} is not a {base.__name__}")
    return found


def check_choice(optimizer: str, scheduler: str, lr: float = 1e-3, weight_decay: float = 0.0) -> None:
    """Refuse an optimiser, schedule or rate the task cannot use, before anything is built.

    Args:
        optimizer: A short name or a ``torch.optim`` class path.
        scheduler: A short name or a ``torch.optim.lr_scheduler`` class path.
        lr: The learning rate (positive).
        weight_decay: The L2 penalty (0 or more).

    Raises:
        InvalidArgumentsError: Saying which names or values are accepted.
    """
    if not lr > 0:
        raise InvalidArgumentsError(f"lr must be positive, got {lr}")
    if not weight_decay >= 0:
        raise InvalidArgumentsError(f"weight_decay must be 0 or more, got {weight_decay}")
    if optimizer not in OPTIMIZERS and not optimizer.startswith("torch.optim."):
        raise InvalidArgumentsError(
            f"optimizer must be one of {', '.join(OPTIMIZERS)} (or a torch.optim class path), got {optimizer!r}"
        )
    if scheduler not in SCHEDULES and not scheduler.startswith("torch.optim.lr_scheduler."):
        raise InvalidArgumentsError(
            f"scheduler must be one of {', '.join(SCHEDULES)} (or a torch.optim.lr_scheduler class path), "
            f"got {scheduler!r}"
        )


def build_optimizer(
    name: str, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, kwargs: Mapping[str, Any]
) -> torch.optim.Optimizer:
    """Build the optimiser.

    Args:
        name: A short name or a ``torch.optim`` class path.
        params: The parameters to optimise.
        lr: Learning rate.
        weight_decay: Weight decay.
        kwargs: Further keyword arguments.

    Returns:
        The optimiser.
    """
    factory: Callable[..., torch.optim.Optimizer] = OPTIMIZERS.get(name) or torch_class(
        name, "torch.optim", torch.optim.Optimizer, "optimizer"
    )
    return factory(params, lr=lr, weight_decay=weight_decay, **dict(kwargs))


def build_schedule(
    name: str, optimizer: torch.optim.Optimizer, lr: float, total_steps: int, monitor: str, kwargs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Build the learning-rate schedule as Lightning's scheduler configuration.

    Args:
        name: ``none``, ``cosine``, ``onecycle``, ``plateau`` or a scheduler class path.
        optimizer: The optimiser.
        lr: The peak rate (``onecycle``).
        total_steps: Optimiser steps of the whole fit (``cosine``, ``onecycle``).
        monitor: The metric ``plateau`` watches.
        kwargs: A class path's keyword arguments (``monitor`` among them names what a plateau
            schedule watches).

    Returns:
        ``{"scheduler": …, "interval": …}`` (and ``monitor``), or ``None`` for ``none``.
    """
    if name == "none":
        return None
    if name == "plateau":
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=5)
        return {"scheduler": plateau, "monitor": monitor}
    if name in ("onecycle", "cosine"):
        if name == "onecycle":
            scheduler: Any = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)
        else:
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
        setattr(scheduler, PLANNED, True)  # planned over the run: ReplanSchedule keeps it right
        return {"scheduler": scheduler, "interval": "step"}
    cls = torch_class(name, "torch.optim.lr_scheduler", torch.optim.lr_scheduler.LRScheduler, "scheduler")
    kwargs = dict(kwargs)
    monitor = kwargs.pop("monitor", monitor)
    scheduler = cls(optimizer, **kwargs)
    if issubclass(cls, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return {"scheduler": scheduler, "monitor": monitor}
    return {"scheduler": scheduler}
