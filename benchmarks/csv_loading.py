"""CSV loading: the datamodule on pyarrow's block reader against the previous pure-Python reader.

Two files are generated: the issue's 200,000 rows x 18 columns (14 numbers, 3 categories, an
integer class target) and, unless ``--quick``, that text repeated to about 2 GB. Each load runs
in a fresh process, the two readers alternating, and reports wall time, peak resident memory
above the process's own after imports, and the bytes it read from the file (``rchar`` of
``/proc/self/io``: about one file's size means it was read once). The previous reader is the
module as it was at commit ``BASELINE_COMMIT``, read from git.

    python benchmarks/csv_loading.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, write_result  # noqa: E402

BASELINE_COMMIT = "5501ee6"
ROWS = 200_000
BIG_BYTES = 2 * 10**9
GOAL_SPEEDUP, GOAL_MEMORY = 10.0, 2.0
CHILD = r"""
import importlib.util, json, resource, sys, time
import numpy, torch, pyarrow.compute
import lit_nn.data.csv_data as current
module = current
if sys.argv[1] == "previous":
    spec = importlib.util.spec_from_file_location("previous_csv", sys.argv[3])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
def io():
    return int(dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())["rchar"])
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before_rss, before_io, start = rss(), io(), time.perf_counter()
data = module.CSVDataModule(sys.argv[2], target="target")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_growth_mib": rss() - before_rss, "read_bytes": io() - before_io,
                  "features_mib": data.features.nbytes / 2**20, "shape": list(data.features.shape),
                  "checksum": float(data.features.sum(dtype=numpy.float64)) + float(data.targets.sum())}))
"""


def write_table(path: Path, rows: int, repeat: int = 1, seed: int = 0) -> Path:
    """Write the benchmark's CSV file: 14 numbers, 3 categories and a 5-class target per row.

    Args:
        path: Where.
        rows: Distinct rows generated.
        repeat: How many times the generated rows are written (a bigger file, same content).
        seed: Random seed.

    Returns:
        ``path``.
    """
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(rows, 14)).round(5).astype(str)
    categories = [
        rng.choice(np.array(levels), size=rows)
        for levels in (["red", "green", "blue", "black", "white"], [f"town{i}" for i in range(12)], ["S", "M", "L"])
    ]
    target = rng.integers(0, 5, size=rows).astype(str)
    table = np.column_stack([numbers, *categories, target])
    text = "\n".join(",".join(row) for row in table) + "\n"
    header = ",".join([*(f"x{i}" for i in range(14)), "colour", "town", "size", "target"]) + "\n"
    with path.open("w") as handle:
        handle.write(header)
        for _ in range(repeat):
            handle.write(text)
    return path


def load(reader: str, path: Path, previous: Path) -> dict:
    """Construct the datamodule in a fresh process.

    Args:
        reader: ``"current"`` or ``"previous"``.
        path: The CSV file.
        previous: The previous module's source file.

    Returns:
        The child's figures.

    Raises:
        RuntimeError: If the child fails.
    """
    done = subprocess.run(
        [sys.executable, "-c", CHILD, reader, str(path), str(previous)], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode:
        raise RuntimeError(f"{reader} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(runs: list[dict], key: str) -> float:
    """The median of one figure over runs.

    Args:
        runs: The children's figures.
        key: Which figure.

    Returns:
        The median, rounded.
    """
    return round(statistics.median(run[key] for run in runs), 3)


def main() -> None:
    """Measure and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs, no 2 GB file")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        previous = tmp / "previous_csv_data.py"
        previous.write_bytes(
            subprocess.run(
                ["git", "show", f"{BASELINE_COMMIT}:lit_nn/data/csv_data.py"], cwd=ROOT, capture_output=True, check=True
            ).stdout
        )
        table = write_table(tmp / "table.csv", ROWS)
        runs: dict[str, list[dict]] = {"previous": [], "current": []}
        for _ in range(2 if args.quick else 3):
            for reader in runs:
                runs[reader].append(load(reader, table, previous))
        if {run["checksum"] for run in runs["previous"]} != {run["checksum"] for run in runs["current"]}:
            raise RuntimeError("the two readers encoded the file differently")
        size_mib = table.stat().st_size / 2**20
        figures = {
            reader: {key: median(done, key) for key in ("seconds", "peak_growth_mib", "read_bytes")}
            for reader, done in runs.items()
        }
        result = {
            "benchmark": "csv_loading",
            "rows": ROWS,
            "columns": 18,
            "file_mib": round(size_mib, 1),
            "features_mib": round(runs["current"][0]["features_mib"], 1),
            "readers": figures,
            "speedup": round(figures["previous"]["seconds"] / figures["current"]["seconds"], 1),
            "memory_over_file": round(figures["current"]["peak_growth_mib"] / size_mib, 2),
            "goals": {"speedup": GOAL_SPEEDUP, "memory_over_file": GOAL_MEMORY},
        }
        table.unlink()
        if not args.quick:
            big = write_table(tmp / "big.csv", ROWS, repeat=round(BIG_BYTES / (size_mib * 2**20)))
            done = load("current", big, previous)
            big_mib = big.stat().st_size / 2**20
            result["big"] = {
                "file_mib": round(big_mib),
                "rows": done["shape"][0],
                "seconds": round(done["seconds"], 1),
                "peak_growth_mib": round(done["peak_growth_mib"]),
                "memory_over_file": round(done["peak_growth_mib"] / big_mib, 2),
                "reads_of_the_file": round(done["read_bytes"] / big.stat().st_size, 2),
                "features_mib": round(done["features_mib"]),
            }
    write_result(args.json, result)


if __name__ == "__main__":
    main()
