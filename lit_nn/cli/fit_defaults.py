"""A fit without any limit: lit_nn's epoch budget and early stopping instead of Lightning's 1000 epochs."""

from __future__ import annotations

from typing import Any

from jsonargparse import Namespace

from lit_nn.errors import ConfigError

DEFAULT_MAX_EPOCHS = 100
DEFAULT_PATIENCE = 10


def settle_budget(config: Namespace) -> str | None:
    """Refuse a fit of no epoch; give a fit without any limit lit_nn's defaults.

    Args:
        config: The ``fit`` configuration (changed in place).

    Returns:
        The line that says what was chosen, or ``None`` when the configuration chose.

    Raises:
        ConfigError: When ``max_epochs`` or ``max_steps`` is 0.
    """
    trainer = config.trainer
    for key in ("max_epochs", "max_steps", "limit_train_batches"):
        if trainer.get(key) == 0:
            raise ConfigError(f"trainer.{key} is 0, so fit would train nothing; give 1 or more (-1: no limit)")
    unlimited = trainer.get("max_epochs") is None and trainer.get("max_steps") in (None, -1)
    if not unlimited or trainer.get("max_time") is not None or trainer.get("fast_dev_run"):
        return None
    trainer.max_epochs = DEFAULT_MAX_EPOCHS
    callbacks = trainer.get("callbacks") or []
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    stops = any(str(getattr(c, "class_path", "")).endswith("EarlyStopping") for c in callbacks)
    said = f"no max_epochs given: training for at most {DEFAULT_MAX_EPOCHS} epochs"
    if not stops:
        monitor = config.checkpoint.monitor or "val/loss"
        early = Namespace(
            class_path="lightning.pytorch.callbacks.EarlyStopping",
            init_args=Namespace(monitor=monitor, patience=DEFAULT_PATIENCE, mode=config.checkpoint.mode),
        )
        trainer.callbacks = [*callbacks, early]
        said += f", stopping early once {monitor} has not improved for {DEFAULT_PATIENCE} epochs"
    return said + " (set --trainer.max_epochs, or add your own EarlyStopping, to choose)"


def nothing_to_train(checkpoint: dict[str, Any], trainer: Namespace) -> str | None:
    """Say so when resuming from ``checkpoint`` would train nothing more.

    Args:
        checkpoint: The checkpoint a fit resumes from.
        trainer: The ``trainer`` configuration.

    Returns:
        The line to print, or ``None`` when there is training left to do.
    """
    progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {}).get("current", {})
    done = max(int(progress.get("completed", 0)), int(progress.get("processed", 0)))
    steps = int(checkpoint.get("global_step", 0))
    max_epochs, max_steps = trainer.get("max_epochs"), trainer.get("max_steps") or -1
    if max_steps > 0 and steps >= max_steps:
        reached = (
            f"has made {steps} optimiser steps and max_steps is {max_steps}: give --trainer.max_steps N above {steps}"
        )
    elif max_epochs not in (None, -1) and done >= max_epochs and max_steps <= 0:
        reached = f"has trained {done} epochs and max_epochs is {max_epochs}: give --trainer.max_epochs N above {done}"
    else:
        return None
    return f"nothing to train: the checkpoint {reached} to train longer, or test it. Nothing was changed"
