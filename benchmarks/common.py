"""Shared pieces of the performance benchmarks: the machine, timed child processes, JSON results.

Every benchmark script writes its figures as JSON (``--json FILE``) with :func:`write_result`;
``benchmarks/performance.py`` runs them one after another and renders ``docs/performance.md``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def machine() -> str:
    """Describe this machine the way every figure is labelled.

    Returns:
        For example ``"x86_64, 2 CPUs, 23.4 GiB, torch 2.14.1+cu130, no GPU"``.
    """
    import torch

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    cpus = len(os.sched_getaffinity(0))
    return f"{platform.machine()}, {cpus} CPUs, {memory:.1f} GiB, torch {torch.__version__}, {gpu}"


@dataclass(frozen=True)
class Timed:
    """One finished child process.

    Attributes:
        seconds: Wall time from start to exit.
        peak_mib: Its peak resident memory (``ru_maxrss`` of the child and its waited-for children).
        returncode: Its exit status.
        output: Its stdout and stderr together.
        cpu_seconds: CPU time it used, user and system (of the child and its waited-for children):
            what a busy machine stretches least.
    """

    seconds: float
    peak_mib: float
    returncode: int
    output: str
    cpu_seconds: float = 0.0


def run_timed(command: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Timed:
    """Run a command and measure its wall time and peak memory.

    Args:
        command: The program and its arguments.
        env: Extra environment variables on top of this process's.
        cwd: Working directory (default: the repository root).

    Returns:
        The timing, peak memory, exit status and output.
    """
    full_env = {**os.environ, **(env or {})}
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(command),
        cwd=cwd or ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Timed(seconds, usage.ru_maxrss / 1024, proc.returncode, output, usage.ru_utime + usage.ru_stime)


def run_lit_nn(args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Timed:
    """Run ``lit-nn ARGS`` as a fresh process (see :func:`run_timed`), and insist that it succeeds.

    Args:
        args: The arguments after ``lit-nn``.
        env: Extra environment variables.
        cwd: The folder it runs in.

    Returns:
        Its timing.

    Raises:
        RuntimeError: If it fails, with the end of its output.
    """
    timed = run_timed([str(VENV_BIN / "lit-nn"), *args], env=env, cwd=cwd)
    if timed.returncode:
        raise RuntimeError(f"lit-nn {' '.join(args)} failed ({timed.returncode}):\n{timed.output[-4000:]}")
    return timed


def peak_mib() -> float:
    """Peak resident memory of this process so far.

    Returns:
        Mebibytes.
    """
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_result(path: str | Path | None, result: Mapping[str, Any]) -> None:
    """Write one benchmark's figures as JSON (and always print them).

    Args:
        path: The JSON file, or ``None`` to only print.
        result: The figures; ``machine`` and ``peak_mib`` are added when missing.
    """
    data = {"machine": machine(), "peak_mib": round(peak_mib(), 1), **result}
    text = json.dumps(data, indent=2)
    print(text)
    if path:
        Path(path).write_text(text + "\n")


def photo(rng: np.random.Generator) -> Image.Image:
    """A photo-like image: a smooth colour field, a few soft-edged shapes and sensor grain.

    Args:
        rng: Random source.

    Returns:
        An RGB image 300-500 px a side.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    width, height = (int(v) for v in rng.integers(300, 501, 2))
    coarse = rng.integers(0, 256, (int(rng.integers(3, 9)), int(rng.integers(3, 9)), 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 6))):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(20, width / 3), rng.uniform(20, height / 3)
        draw.ellipse([x - rx, y - ry, x + rx, y + ry], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 5, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
