"""Schedules planned over the whole run, kept right when the run's length changes.

One-cycle and cosine schedules are planned for a number of optimiser steps. A run resumed with a
larger ``max_epochs`` restores the old plan from its checkpoint, and the batch-size finder changes
the steps per epoch after the plan was made; either way the scheduler would step past its end
(``Tried to step 41 times. The specified number of total steps is 40``).
"""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from torch.optim.lr_scheduler import CosineAnnealingLR, OneCycleLR

from lit_nn.compat import onecycle_phases
from lit_nn.errors import ConfigError
from lit_nn.tasks.optimizers import PLANNED


def replan_one_cycle(scheduler: OneCycleLR, total_steps: int) -> None:
    """Stretch a one-cycle schedule to ``total_steps``, keeping its warm-up share.

    The learning rate continues from the new plan's value at the current step.

    Args:
        scheduler: The scheduler (its ``last_epoch`` is the steps done).
        total_steps: The run's new total of optimiser steps.
    """
    old = scheduler.total_steps
    phases = onecycle_phases(scheduler)
    warmup_share = (float(phases[0]["end_step"]) + 1) / old
    if len(phases) == 3:  # three_phase: warm-up, mirror, annihilate
        ends = [warmup_share * total_steps - 1, 2 * warmup_share * total_steps - 2, total_steps - 1]
    else:
        ends = [warmup_share * total_steps - 1, total_steps - 1]
    for phase, end in zip(phases, ends, strict=True):
        phase["end_step"] = float(end)
    scheduler.total_steps = total_steps
    with warnings.catch_warnings():  # get_lr outside step() warns; here it is asked for the new plan's rate
        warnings.simplefilter("ignore", UserWarning)
        rates = scheduler.get_lr()
    for group, lr in zip(scheduler.optimizer.param_groups, rates, strict=True):
        group["lr"] = lr


def replan_cosine(scheduler: CosineAnnealingLR, total_steps: int) -> None:
    """Stretch a cosine schedule to ``total_steps``; the rate continues from the new curve.

    Args:
        scheduler: The scheduler (stepped once per optimiser step).
        total_steps: The run's new total of optimiser steps.
    """
    scheduler.T_max = total_steps
    step = scheduler.last_epoch
    for group, base in zip(scheduler.optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["lr"] = scheduler.eta_min + (base - scheduler.eta_min) * (1 + math.cos(math.pi * step / total_steps)) / 2


class ReplanSchedule(Callback):
    """Re-plan the task's one-cycle and cosine schedules for the steps this fit really runs.

    The task marks the schedulers it planned over the run; those are stretched (or shortened) to
    the fit's total and the change is said in one line. A one-cycle schedule given by hand
    (``--lr_scheduler OneCycleLR``) that would end before the fit does is refused before the first
    step, saying what to set.
    """

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Compare every schedule with the fit's total of optimiser steps (or epochs, for one stepped per epoch)."""
        steps = trainer.estimated_stepping_batches
        for config in trainer.lr_scheduler_configs:
            scheduler: Any = config.scheduler
            planned = getattr(scheduler, PLANNED, False)
            total = steps if config.interval == "step" else (trainer.max_epochs or -1)
            if not math.isfinite(total) or total < 0:
                continue
            total = int(total)
            if isinstance(scheduler, OneCycleLR) and scheduler.total_steps != total:
                if not planned:
                    if scheduler.total_steps < total:
                        unit = "optimiser steps" if config.interval == "step" else "epochs (it steps once an epoch)"
                        raise ConfigError(
                            f"OneCycleLR was given total_steps={scheduler.total_steps}, but this fit runs {total} "
                            f"{unit}: set --lr_scheduler.total_steps {total}, or use the task's own "
                            "--model.scheduler onecycle, which plans for the run's length"
                        )
                    continue
                before = scheduler.total_steps
                replan_one_cycle(scheduler, total)
                self._say(trainer, "one-cycle", before, total, scheduler)
            elif isinstance(scheduler, CosineAnnealingLR) and planned and scheduler.T_max != total:
                before = scheduler.T_max
                replan_cosine(scheduler, total)
                self._say(trainer, "cosine", before, total, scheduler)

    @staticmethod
    def _say(trainer: Trainer, name: str, before: int, total: int, scheduler: Any) -> None:  # noqa: ANN401
        if trainer.is_global_zero:
            lr = scheduler.optimizer.param_groups[0]["lr"]
            print(
                f"lit-nn: the {name} schedule was planned for {before} optimiser steps and this fit runs {total}: "
                f"re-planned for {total}, continuing from step {scheduler.last_epoch} at learning rate {lr:.3g}",
                file=sys.stderr,
                flush=True,
            )
