"""Re-planned schedules continue exactly as a schedule planned for the new length from the start would."""

from __future__ import annotations

import math

import pytest
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, OneCycleLR

from lit_nn.callbacks.schedule import replan_cosine, replan_one_cycle


def optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)


def steps(scheduler, n):
    for _ in range(n):
        scheduler.optimizer.step()
        scheduler.step()


@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_replanned_at_a_step_follows_the_longer_plan(three_phase):
    short = OneCycleLR(optimizer(), max_lr=0.1, total_steps=40, three_phase=three_phase)
    steps(short, 25)
    replan_one_cycle(short, 100)
    fresh = OneCycleLR(optimizer(), max_lr=0.1, total_steps=100, three_phase=three_phase)
    steps(fresh, 25)
    assert short.optimizer.param_groups[0]["lr"] == pytest.approx(fresh.optimizer.param_groups[0]["lr"])
    steps(short, 75)  # to the new end, without "Tried to step … times"
    steps(fresh, 75)
    assert short.get_last_lr() == pytest.approx(fresh.get_last_lr())


def test_cosine_replanned_follows_the_closed_form_of_the_new_length():
    scheduler = CosineAnnealingLR(optimizer(), T_max=40)
    steps(scheduler, 10)
    replan_cosine(scheduler, 100)
    for step in range(10, 60):
        assert scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * (1 + math.cos(math.pi * step / 100)))
        steps(scheduler, 1)
