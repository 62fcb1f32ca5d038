"""Start-up: wall time and peak memory of lit-nn's commands, against the floors below them.

Each command runs as a fresh process, alternated with the floors measured in the same run: an
empty Python, Python importing torch, and Python importing Lightning (``lightning.pytorch``: what
every command that trains, tests or prints a Lightning command's help pays before lit_nn does
anything). ``first step``: the seconds from launching ``lit-nn fit -c configs/digits.yaml`` (W&B
offline, as ``make demo`` runs it) to the start of its first training batch, stamped by
:class:`benchmarks.first_step.FirstStepClock`. Goals: the listing commands under 2 seconds;
``lit-nn fit --help`` under 3.5 s and the first step under 4 s (fit + test of digits is
``benchmarks/time_to_accuracy.py``'s).

    python benchmarks/startup.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, VENV_BIN, run_timed, write_result  # noqa: E402

GOAL_SECONDS = 2.0
GOAL_FIT_HELP, GOAL_FIRST_STEP = 3.5, 4.0
FIRST_STEP = "first step of lit-nn fit -c configs/digits.yaml"
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "python -c 'import lightning.pytorch'": [sys.executable, "-c", "import lightning.pytorch"],
    "lit-nn --help": [str(VENV_BIN / "lit-nn"), "--help"],
    "lit-nn plugins": [str(VENV_BIN / "lit-nn"), "plugins"],
    "lit-nn plugins --kind losses": [str(VENV_BIN / "lit-nn"), "plugins", "--kind", "losses"],
    "lit-nn fit --help": [str(VENV_BIN / "lit-nn"), "fit", "--help"],
}
GOALS = ("lit-nn --help", "lit-nn plugins")


def measure(repeats: int) -> dict[str, dict[str, float]]:
    """Run every command ``repeats`` times, alternating, and take medians.

    Args:
        repeats: Runs per command.

    Returns:
        Command to median seconds, min seconds and peak MiB.

    Raises:
        RuntimeError: If a command fails.
    """
    seconds: dict[str, list[float]] = {name: [] for name in (*COMMANDS, FIRST_STEP)}
    peaks: dict[str, list[float]] = {name: [] for name in (*COMMANDS, FIRST_STEP)}
    for _ in range(repeats):
        for name, command in COMMANDS.items():
            timed = run_timed(command)
            if timed.returncode:
                raise RuntimeError(f"{name} failed ({timed.returncode}):\n{timed.output}")
            seconds[name].append(timed.seconds)
            peaks[name].append(timed.peak_mib)
        first, peak = first_step()
        seconds[FIRST_STEP].append(first)
        peaks[FIRST_STEP].append(peak)
    return {
        name: {
            "median_s": round(statistics.median(seconds[name]), 3),
            "min_s": round(min(seconds[name]), 3),
            "peak_mib": round(max(peaks[name]), 1),
        }
        for name in seconds
    }


def first_step() -> tuple[float, float]:
    """Launch ``lit-nn fit -c configs/digits.yaml`` in an empty run root and time its first batch.

    Returns:
        Seconds from the launch to the first training batch, and the process's peak MiB.

    Raises:
        RuntimeError: If the command fails or never reaches a batch.
    """
    with tempfile.TemporaryDirectory() as tmp:
        stamp = Path(tmp) / "first-step"
        command = [
            str(VENV_BIN / "lit-nn"), "fit", "-c", "configs/digits.yaml", "--run.root", str(Path(tmp) / "runs"),
            "--trainer.callbacks+=benchmarks.first_step.FirstStepClock",
        ]  # fmt: skip
        env = {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "WANDB_MODE": "offline",
            "LIT_NN_BENCH_OUT": str(stamp),
            "LIT_NN_BENCH_T0": repr(time.time()),
        }
        timed = run_timed(command, env=env)
        if timed.returncode or not stamp.exists():
            raise RuntimeError(f"the first-step run failed ({timed.returncode}):\n{timed.output[-3000:]}")
        return float(stamp.read_text()), timed.peak_mib


def main() -> None:
    """Measure and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs per command instead of 5")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args()
    figures = measure(2 if args.quick else 5)
    goals = {name: figures[name]["median_s"] < GOAL_SECONDS for name in GOALS}
    goals["lit-nn fit --help"] = figures["lit-nn fit --help"]["median_s"] < GOAL_FIT_HELP
    goals[FIRST_STEP] = figures[FIRST_STEP]["median_s"] < GOAL_FIRST_STEP
    write_result(
        args.json,
        {
            "benchmark": "startup",
            "goal_seconds": GOAL_SECONDS,
            "goals_s": {"lit-nn fit --help": GOAL_FIT_HELP, FIRST_STEP: GOAL_FIRST_STEP},
            "commands": figures,
            "goals_met": goals,
        },
    )


if __name__ == "__main__":
    main()
