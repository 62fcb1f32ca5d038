"""The tasks' speed tricks, kept apart so :mod:`lit_nn.tasks.base` reads like a plain LightningModule.

Each trick says what it saves and where that was measured (docs/performance.md, "Where the time
goes"). The Lightning internals they rely on are read through :mod:`lit_nn.compat`.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import LightningModule

from lit_nn.compat import is_hook_bookkeeping, logs_this_step
from lit_nn.tasks.stage_metrics import training_epoch_may_end


class CheapHookBookkeeping(LightningModule):
    """Set Lightning's per-hook bookkeeping attribute without ``nn.Module.__setattr__``'s checks.

    Lightning sets ``_current_fx_name`` twice around every hook call; ``nn.Module.__setattr__``
    checks each assignment against parameters, buffers and submodules. Setting it directly saves
    those checks, a few per cent of a small model's step (docs/performance.md, "The floor").
    """

    def __setattr__(self, name: str, value: Any) -> None:  # noqa: ANN401
        """Set an attribute; Lightning's hook bookkeeping skips ``nn.Module``'s checks."""
        if is_hook_bookkeeping(name):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


def attached_trainer(module: LightningModule) -> Any:  # noqa: ANN401 (a Trainer or None)
    """The module's trainer, or ``None`` outside one (``module.trainer`` raises there).

    Args:
        module: A LightningModule.

    Returns:
        The trainer.
    """
    try:
        return module.trainer
    except RuntimeError:  # not attached
        return None


def step_loss_is_read(module: LightningModule) -> bool:
    """Whether this training step's loss must go through ``self.log``.

    Each ``self.log`` costs about as much as a small model's forward pass: the step loss is
    logged only when a logger writes it and at the epoch's last step, where callbacks read it
    (docs/performance.md, "The training loss"). The progress bar shows every step's loss from the
    step's output.

    Args:
        module: The task, inside a training step.

    Returns:
        True when the loss is to be logged.
    """
    trainer = attached_trainer(module)
    if trainer is None or trainer.fast_dev_run:
        return True
    return logs_this_step(trainer) or training_epoch_may_end(trainer)
