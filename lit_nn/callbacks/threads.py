"""How many threads torch computes with in this process: from its CPUs, its peers and its model.

torch starts one intra-op thread per core of the machine. When other work shares those cores
(another process of the same DDP job, a neighbour on a shared node, a test run beside the
training) a thread that loses its core stalls every parallel operation of the others, and a
step can take 20 times longer; and a small model's step is faster on one thread even on an idle
machine. Figures: docs/performance.md.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.strategies import ParallelStrategy

from lit_nn.console import notice
from lit_nn.errors import ConfigError

THREADS_ENV = "LIT_NN_THREADS"
SMALL_STEP_FLOPS = 2e8
"""A step of fewer floating-point operations than this runs fastest on one thread."""
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def cgroup_cpus(path: Path = CGROUP_CPU_MAX) -> int | None:
    """The CPU quota of this process's control group (``docker run --cpus``), rounded up.

    Args:
        path: The cgroup v2 ``cpu.max`` file (``"QUOTA PERIOD"`` or ``"max PERIOD"``).

    Returns:
        The whole number of CPUs the quota allows, or ``None`` without a quota.
    """
    try:
        quota, period = path.read_text().split()[:2]
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):  # no such file, "max", or something unreadable
        return None


def usable_cpus(environ: Mapping[str, str] | None = None, cgroup: Path = CGROUP_CPU_MAX) -> int:
    """The CPUs this process may use: its affinity, its cgroup quota and SLURM's ``--cpus-per-task``.

    Args:
        environ: The environment (default: ``os.environ``).
        cgroup: The cgroup ``cpu.max`` file.

    Returns:
        The smallest of the limits that apply, at least 1.
    """
    environ = os.environ if environ is None else environ
    limits = [len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1]
    quota = cgroup_cpus(cgroup)
    if quota is not None:
        limits.append(quota)
    per_task = environ.get("SLURM_CPUS_PER_TASK", "")
    if per_task.isdigit() and int(per_task) > 0:
        limits.append(int(per_task))
    return max(1, min(limits))


def _cpu_jiffies(cpus: set[int]) -> tuple[int, int] | None:
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    busy = total = 0
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
            total += sum(values)
            busy += sum(values) - values[3] - values[4]
    return (busy, total) if total else None


def busy_elsewhere(window: float = 0.15) -> float:
    """How many of this process's CPUs other processes keep busy, sampled over ``window`` seconds.

    Args:
        window: Sampling time.

    Returns:
        CPUs' worth of work not done by this process (0 where ``/proc/stat`` is not available).
    """
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    first, own = _cpu_jiffies(cpus), os.times()
    time.sleep(window)
    second, own_after = _cpu_jiffies(cpus), os.times()
    if first is None or second is None or second[1] <= first[1]:
        return 0.0
    share = (second[0] - first[0]) / (second[1] - first[1])  # busy share of the CPUs' time
    mine = (own_after.user + own_after.system - own.user - own.system) / window
    return max(0.0, share * len(cpus) - mine)


def given_threads(environ: Mapping[str, str]) -> int | None:
    """The thread count the user set in ``LIT_NN_THREADS``.

    Args:
        environ: The environment.

    Returns:
        The count, or ``None`` when unset.

    Raises:
        ConfigError: If it is not a positive whole number.
    """
    given = environ.get(THREADS_ENV, "").strip()
    if not given:
        return None
    if not given.isdigit() or int(given) < 1:
        raise ConfigError(f"{THREADS_ENV}={given!r} is not a thread count; set it to a whole number, 1 or more")
    return int(given)


@dataclass(frozen=True)
class ThreadPlan:
    """The thread count chosen and why.

    Attributes:
        threads: Intra-op threads for torch.
        reason: Why, for the console line.
    """

    threads: int
    reason: str


def plan_threads(
    cpus: int,
    peers: int,
    step_flops: float | None,
    busy: float = 0.0,
    environ: Mapping[str, str] | None = None,
    current: int = 1,
) -> ThreadPlan:
    """Choose torch's thread count.

    Args:
        cpus: CPUs this process may use (:func:`usable_cpus`).
        peers: Processes of this job sharing those CPUs (the local world size; 1 when
            ``SLURM_CPUS_PER_TASK`` already gives each task its own).
        step_flops: Floating-point operations of one step, or ``None`` when unknown.
        busy: CPUs' worth of other work on those CPUs now (:func:`busy_elsewhere`).
        environ: The environment (default: ``os.environ``).
        current: torch's thread count now (what ``OMP_NUM_THREADS`` made it).

    Returns:
        ``LIT_NN_THREADS`` when set; torch's own count when ``OMP_NUM_THREADS`` is set; else one
        thread for a small step, and otherwise the process's share of the CPUs other work leaves
        free (a thread whose core is taken stalls all the others).

    Raises:
        ConfigError: If ``LIT_NN_THREADS`` is not a positive whole number.
    """
    environ = os.environ if environ is None else environ
    given = given_threads(environ)
    if given is not None:
        return ThreadPlan(given, f"{THREADS_ENV}={given}")
    if environ.get("OMP_NUM_THREADS", "").strip():
        return ThreadPlan(current, f"OMP_NUM_THREADS={environ['OMP_NUM_THREADS'].strip()}")
    peers = max(peers, 1)
    share = max(1, cpus // peers)
    where = f"{cpus} CPU{'s' * (cpus != 1)} for {peers} process{'es' * (peers != 1)}"
    if share > 1 and step_flops is not None and step_flops < SMALL_STEP_FLOPS:
        return ThreadPlan(1, f"{where}; a step of {step_flops / 1e6:.2g} MFLOP is fastest on one")
    free = max(1, math.floor((cpus - busy) / peers + 0.25))  # a quarter CPU busy elsewhere still counts as free
    if free < share:
        return ThreadPlan(free, f"{where}, {busy:.1f} of them busy with other work")
    return ThreadPlan(share, where)


def step_flops(module: LightningModule, batch_size: int, training: bool) -> float | None:
    """Count the floating-point operations of one step, from one forward pass of two samples.

    Args:
        module: A module with ``hparams.input_shape`` (lit_nn's tasks) or an ``example_input_array``.
        batch_size: Samples per step.
        training: Count the backward pass too (about twice the forward's work).

    Returns:
        The count, or ``None`` when the module gives no input shape, is compiled, or the
        counting pass fails.
    """
    from torch.utils.flop_counter import FlopCounterMode

    shape = getattr(module, "hparams", {}).get("input_shape")
    example = getattr(module, "example_input_array", None)
    if getattr(module, "hparams", {}).get("compile") or (shape is None and not isinstance(example, torch.Tensor)):
        return None
    dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), torch.float32)
    x = torch.zeros(2, *shape, dtype=dtype) if shape is not None else cast(torch.Tensor, example)[:2]
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(x)
    except Exception:  # a model that needs other inputs: choose without its size
        return None
    finally:
        module.train(was_training)
    per_sample = counter.get_total_flops() / len(x)
    return per_sample * batch_size * (3 if training else 1)


class ChooseThreads(Callback):
    """Set torch's intra-op thread count when a run starts (:func:`plan_threads`), say it in one line.

    On an accelerator only the CPU share matters (data preparation in the main process), so the
    model is not measured. The previous count is restored at the end.
    """

    def __init__(self) -> None:
        given_threads(os.environ)  # a bad setting fails before the run starts
        self._previous: int | None = None
        self.plan: ThreadPlan | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Choose and set the thread count.

        Args:
            trainer: The trainer.
            pl_module: The model.
            stage: Lightning's stage.
        """
        per_task = os.environ.get("SLURM_CPUS_PER_TASK", "").isdigit()
        parallel = isinstance(trainer.strategy, ParallelStrategy)
        peers = 1 if per_task or not parallel else max(trainer.num_devices, 1)
        flops = None
        if trainer.strategy.root_device.type == "cpu":
            batch_size = getattr(trainer.datamodule, "batch_size", None)
            flops = step_flops(pl_module, batch_size if isinstance(batch_size, int) else 32, stage == "fit")
        cpus = usable_cpus()
        busy = busy_elsewhere() if cpus // peers > 1 else 0.0
        self.plan = plan_threads(cpus, peers, flops, busy, current=torch.get_num_threads())
        self._previous = torch.get_num_threads()
        torch.set_num_threads(self.plan.threads)
        if trainer.is_global_zero:
            plural = "s" * (self.plan.threads != 1)
            notice(f"torch computes on {self.plan.threads} thread{plural} per process ({self.plan.reason}; "
                   f"{THREADS_ENV}=N to choose)")  # fmt: skip

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Give torch back its previous thread count.

        Args:
            trainer: The trainer.
            pl_module: The model.
            stage: Lightning's stage.
        """
        if self._previous is not None:
            torch.set_num_threads(self._previous)
            self._previous = None
