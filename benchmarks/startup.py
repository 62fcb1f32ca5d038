"""Start-up: wall time and peak memory of ``lit-nn --help`` and ``lit-nn plugins``.

Each command runs as a fresh process, alternated with the floors measured in the same run: an
empty Python, and Python importing torch (what any command that trains pays). Goal: the listing
commands under 2 seconds.

    python benchmarks/startup.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import VENV_BIN, run_timed, write_result  # noqa: E402

GOAL_SECONDS = 2.0
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
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
    seconds: dict[str, list[float]] = {name: [] for name in COMMANDS}
    peaks: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeats):
        for name, command in COMMANDS.items():
            timed = run_timed(command)
            if timed.returncode:
                raise RuntimeError(f"{name} failed ({timed.returncode}):\n{timed.output}")
            seconds[name].append(timed.seconds)
            peaks[name].append(timed.peak_mib)
    return {
        name: {
            "median_s": round(statistics.median(seconds[name]), 3),
            "min_s": round(min(seconds[name]), 3),
            "peak_mib": round(max(peaks[name]), 1),
        }
        for name in COMMANDS
    }


def main() -> None:
    """Measure and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs per command instead of 5")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args()
    figures = measure(2 if args.quick else 5)
    goals = {name: figures[name]["median_s"] < GOAL_SECONDS for name in GOALS}
    write_result(
        args.json,
        {"benchmark": "startup", "goal_seconds": GOAL_SECONDS, "commands": figures, "goals_met": goals},
    )


if __name__ == "__main__":
    main()
