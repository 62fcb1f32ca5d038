"""Every performance benchmark, one after another, then ``docs/performance.md`` from the figures.

Each benchmark runs as its own process (so its peak memory is its own) and writes JSON to
``benchmarks/results/<name>.json``; this script renders the page from those files.

    python benchmarks/performance.py                  # all of them (about 10 minutes on 2 CPUs)
    python benchmarks/performance.py --quick          # fewer repeats, for a quick look
    python benchmarks/performance.py --only startup   # one, the others' last results kept
    python benchmarks/performance.py --render         # only rewrite the page from the results
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, run_timed  # noqa: E402
from benchmarks.report import render  # noqa: E402

BENCHMARKS = ("overhead", "image_pipeline", "time_to_accuracy", "startup", "threads", "csv_loading", "serving")
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "performance.md"


def run_one(name: str, quick: bool) -> dict[str, Any]:
    """Run one benchmark script in a fresh process and read back its JSON.

    Args:
        name: One of :data:`BENCHMARKS`.
        quick: Pass ``--quick``.

    Returns:
        Its figures, with the script's wall time, peak memory and date added.

    Raises:
        SystemExit: If the benchmark fails, with its output.
    """
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json"
    command = [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--json", str(out)]
    print(f"== {name} ==", flush=True)
    timed = run_timed([*command, *(["--quick"] if quick else [])])
    if timed.returncode:
        raise SystemExit(f"benchmarks/{name}.py failed (exit {timed.returncode}):\n{timed.output[-4000:]}")
    result = json.loads(out.read_text())
    result["script"] = {
        "seconds": round(timed.seconds, 1),
        "peak_mib": round(timed.peak_mib, 1),
        "quick": quick,
        "date": datetime.date.today().isoformat(),
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    """Run the benchmarks asked for and rewrite the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--render", action="store_true", help="run nothing; rewrite the page from the results")
    args = parser.parse_args()
    if not args.render:
        for name in args.only or BENCHMARKS:
            run_one(name, args.quick)
    results = {}
    for name in BENCHMARKS:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            raise SystemExit(f"no results for {name} yet ({path}); run: python benchmarks/performance.py --only {name}")
        results[name] = json.loads(path.read_text())
    if (RESULTS / "gpu.json").exists():  # make gpu-check, run on a GPU machine (benchmarks/gpu.py)
        results["gpu"] = json.loads((RESULTS / "gpu.json").read_text())
    PAGE.write_text(render(results))
    print(f"Wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
