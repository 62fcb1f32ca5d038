"""Threads: a digits fit alone and beside a competing CPU load, with torch's default and lit_nn's choice.

Before: ``LIT_NN_THREADS`` set to the CPU count (torch's own default, one thread per core).
After: lit_nn's choice (:class:`lit_nn.callbacks.threads.ChooseThreads`). The load is one busy
Python loop per CPU, started before the fit and stopped after it. Runs alternate, so both
variants see the same machine.

    python benchmarks/threads.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import VENV_BIN, run_timed, write_result  # noqa: E402

EPOCHS = 2
CHOSEN = re.compile(r"torch computes on (\d+) thread")


def fit(env: dict[str, str], folder: Path) -> tuple[float, int]:
    """One ``lit-nn fit -c digits`` of :data:`EPOCHS` epochs.

    Args:
        env: Extra environment.
        folder: Where its runs go.

    Returns:
        Wall seconds and the thread count it reported.

    Raises:
        RuntimeError: If the fit fails.
    """
    command = [str(VENV_BIN / "lit-nn"), "fit", "-c", "digits", "--trainer.max_epochs", str(EPOCHS), "--run.root",
               str(folder), "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]  # fmt: skip
    timed = run_timed(command, env=env, cwd=folder)
    if timed.returncode:
        raise RuntimeError(f"fit failed ({timed.returncode}):\n{timed.output[-3000:]}")
    found = CHOSEN.search(timed.output)
    return timed.seconds, int(found.group(1)) if found else -1


def busy_loops(count: int) -> list[subprocess.Popen]:
    """Start ``count`` processes that each keep one CPU busy.

    Args:
        count: How many.

    Returns:
        The processes (kill them when done).
    """
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def measure(repeats: int) -> dict[str, dict[str, float]]:
    """Time every (load, variant) pair ``repeats`` times, alternating.

    Args:
        repeats: Runs per pair.

    Returns:
        ``"alone/default"`` … to median seconds and the thread count used.
    """
    cpus = len(os.sched_getaffinity(0))
    variants = {"torch default": {"LIT_NN_THREADS": str(cpus)}, "lit_nn's choice": {}}
    seconds: dict[str, list[float]] = {}
    threads: dict[str, int] = {}
    for key in ("OMP_NUM_THREADS", "LIT_NN_THREADS"):  # each variant sets its own
        os.environ.pop(key, None)
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for load in ("alone", f"beside {cpus} busy loops"):
                for variant, env in variants.items():
                    loops = busy_loops(cpus) if load != "alone" else []
                    try:
                        took, used = fit(env, Path(tmp))
                    finally:
                        for loop in loops:
                            loop.kill()
                            loop.wait()
                    key = f"{load} / {variant}"
                    seconds.setdefault(key, []).append(took)
                    threads[key] = used
    return {k: {"median_s": round(statistics.median(v), 2), "threads": threads[k]} for k, v in seconds.items()}


def main() -> None:
    """Measure and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 run per case instead of 2")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args()
    write_result(args.json, {"benchmark": "threads", "epochs": EPOCHS, "fits": measure(1 if args.quick else 2)})


if __name__ == "__main__":
    main()
