"""5-fold cross-validation of the shipped configs against their classical baselines, with one worker and with two.

For breast_cancer, diabetes and digits (``configs/*.yaml`` as shipped, W&B disabled) this runs, as a
fresh process in an empty folder, the command docs/evaluation.md shows::

    lit-nn cv -c NAME --cv.folds 5 --workers 1
    lit-nn cv -c NAME --cv.folds 5 --workers 2      # a second empty folder: a fresh study, the same seed

and records from the study's ``summary.json`` the network's held-out mean ± std of every metric,
the baseline's (logistic regression / least squares) and the floor's (majority class / training
mean), the corrected paired t-test against each, and each command's wall time. The same seed draws the
same folds, so the two commands must give the same per-fold metrics (read at full precision from
each fold's ``test-*-metrics.json``); whether they do is recorded.

    python benchmarks/cv.py                       # all three; benchmarks/results/cv.json, docs/images/cv-*.png
    python benchmarks/cv.py --only diabetes       # rerun one; the file's other entries stay
    python benchmarks/cv.py --folds 3 --workers 1 --json /tmp/cv.json   # quicker, elsewhere
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, run_lit_nn, write_result  # noqa: E402
from lit_nn.cv.numbers import p_text, significant  # noqa: E402

DATASETS = ("breast_cancer", "diabetes", "digits")
SHOWN = {"breast_cancer": ("acc", "auroc"), "diabetes": ("mse", "r2"), "digits": ("acc", "f1_macro")}
"""The metrics the table shows per data set; the study's own (acc, mse) first."""
FIGURES = ("breast_cancer", "diabetes")
"""The studies whose ``cv.png`` docs/evaluation.md shows (from the one-worker run)."""
ENV = {"WANDB_MODE": "disabled"}  # the shipped configs' W&B logger becomes CSV: nothing online, nothing to sync
PER_STUDY = ("study", "per_fold", "summary", "report", "samples", "seed")
"""What :func:`cross_validate` returns that is recorded once per data set, not per run."""
THREADS = "LIT_NN_THREADS"
THREADS_CHOSEN = re.compile(r"torch computes on (\d+) thread")  # lit_nn.callbacks.threads' line
FOLD_DONE = re.compile(r"^(fold-\d+) done: held-out \S+ \S+ in ([\d.]+) s$", re.M)


def machine_details() -> dict[str, Any]:
    """The machine the figures come from, piece by piece.

    Returns:
        CPUs this process may use, the CPU model (``/proc/cpuinfo``), Python, torch, Lightning and scikit-learn.
    """
    import lightning
    import sklearn
    import torch

    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        model = found.group(1).strip() if found else model
    return {"cpus": len(os.sched_getaffinity(0)), "cpu_model": model, "python": platform.python_version(),
            "torch": torch.__version__, "lightning": lightning.__version__, "sklearn": sklearn.__version__}  # fmt: skip


def fold_metrics(study: Path) -> dict[str, dict[str, float]]:
    """Every fold's held-out metrics at full precision, as its run folder recorded the test.

    Args:
        study: The study's folder.

    Returns:
        ``fold-1`` … to its metrics without the ``test/`` prefix.
    """
    metrics = {}
    for run_dir in sorted(study.glob("fold-*"), key=lambda p: int(p.name.split("-")[-1])):
        (record,) = run_dir.glob("test-*-metrics.json")  # without --cv.test a fold is tested once: on its held-out part
        row = json.loads(record.read_text())["metrics"]
        metrics[run_dir.name] = {k.removeprefix("test/"): float(v) for k, v in row.items() if k.startswith("test/")}
    return metrics


def threads_used(study: Path) -> list[int]:
    """The torch thread counts the folds said they computed on (each fit's, test's and predict's line).

    Args:
        study: The study's folder.

    Returns:
        The distinct counts, sorted.
    """
    logs = (path.read_text() for path in (study / "logs").glob("*.log"))
    return sorted({int(count) for text in logs for count in THREADS_CHOSEN.findall(text)})


def report_lines(output: str) -> list[str]:
    """The report a cv command printed after its folds: the per-fold table and the findings.

    Args:
        output: Its console output.

    Returns:
        The lines from the table's header on.
    """
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("fold  "))
    return lines[start:]


def cross_validate(name: str, folds: int, workers: int, folder: Path, threads: int | None = None) -> dict[str, Any]:
    """Run ``lit-nn cv -c NAME --cv.folds K --workers N`` in an empty folder and read what it wrote.

    Args:
        name: The shipped config.
        folds: K.
        workers: N.
        folder: The empty folder it runs in (its ``runs/`` is the study's run root).
        threads: ``LIT_NN_THREADS`` (torch's threads per process), or ``None`` for lit_nn's choice.

    Returns:
        Wall time, per-fold seconds and metrics, the summary and the printed report.
    """
    folder.mkdir(parents=True)
    load = os.getloadavg()[0]
    env = {**ENV, **({THREADS: str(threads)} if threads else {})}
    args = ["cv", "-c", name, "--cv.folds", str(folds), "--workers", str(workers)]
    timed = run_lit_nn(args, env=env, cwd=folder)
    (summary_file,) = folder.glob("runs/*/cv/*/summary.json")
    study = summary_file.parent
    record = json.loads((study / "folds.json").read_text())
    return {
        "command": f"{THREADS}={threads} " * bool(threads) + "lit-nn " + " ".join(args),
        "workers": workers,
        "threads_set": threads,
        "threads_per_process": threads_used(study),
        "wall_s": round(timed.seconds, 1),
        "fold_s": {fold: float(seconds) for fold, seconds in FOLD_DONE.findall(timed.output)},
        "peak_mib": round(timed.peak_mib, 1),
        "load_1min_at_start": round(load, 2),
        "samples": record["samples"],
        "seed": record["seed"],
        "study": study,
        "per_fold": fold_metrics(study),
        "summary": json.loads(summary_file.read_text()),
        "report": report_lines(timed.output),
    }


def agreement(first: dict[str, dict[str, float]], other: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Whether two studies of the same folds gave the same per-fold metrics.

    Args:
        first: One study's :func:`fold_metrics`.
        other: The other's.

    Returns:
        ``identical`` (every value bit for bit) and the largest absolute difference.
    """
    same_keys = first.keys() == other.keys() and all(first[f].keys() == other[f].keys() for f in first)
    differences = [abs(first[f][k] - other[f][k]) for f in first if f in other for k in first[f] if k in other[f]]
    return {"identical": same_keys and first == other, "max_abs_difference": max(differences, default=float("nan"))}


def rounded(stats: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """``{metric: {mean, std}}`` to 6 significant digits."""
    return {k: {s: float(f"{v:.6g}") for s, v in values.items()} for k, values in stats.items()}


def entry(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One data set's figures: the first run's estimates, every run's time, and whether the runs agree.

    Args:
        name: The config.
        runs: :func:`cross_validate` of each worker count, one worker first.

    Returns:
        Plain values for the JSON file.
    """
    first = runs[0]
    summary = first["summary"]
    baselines = summary.get("baselines", {})
    result: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "command": f"lit-nn cv -c {name} --cv.folds {summary['folds']}",
        "samples": first["samples"],
        "seed": first["seed"],
        "metric": summary["metric"],
        "complete": summary["complete"],
        "network": rounded(summary["network"]),
        "baseline": dict(zip(("name", "stats"), next(iter(baselines.items()), (None, {})), strict=True)),
        "floor": dict(
            zip(("name", "stats"), list(baselines.items())[1] if len(baselines) > 1 else (None, {}), strict=True)
        ),
        "estimate": {k: float(f"{v:.6g}") for k, v in summary["estimate"].items()},
        "out_of_fold": [{k: float(f"{v:.6g}") for k, v in repeat.items()} for repeat in summary.get("out_of_fold", [])],
        "comparisons": [
            {k: (float(f"{v:.6g}") if isinstance(v, float) else v) for k, v in c.items() if k != "differences"}
            for c in summary["comparisons"]
        ],
        "verdicts": [line for line in first["report"] if "corrected paired t-test" in line],
        "per_fold": {fold: {k: float(f"{v:.6g}") for k, v in m.items()} for fold, m in first["per_fold"].items()},
        "runs": [{k: v for k, v in run.items() if k not in PER_STUDY} for run in runs],
        "report": first["report"],
    }
    for part in ("baseline", "floor"):
        result[part]["stats"] = rounded(result[part]["stats"])
    timed = [run for run in runs if run["threads_set"] is None]  # lit_nn's own choice of threads
    if len(timed) > 1:
        result["workers_agree"] = {label(run): agreement(first["per_fold"], run["per_fold"]) for run in timed[1:]}
        result["speedup"] = {label(run): round(first["wall_s"] / run["wall_s"], 2) for run in timed[1:]}
    for run in runs:
        if run["threads_set"] is not None:
            result["threads_check"] = {"runs": [label(run), label(timed[-1])],
                                       **agreement(run["per_fold"], timed[-1]["per_fold"])}  # fmt: skip
    return result


def label(run: dict[str, Any]) -> str:
    """``2 workers``, ``1 worker, LIT_NN_THREADS=1``."""
    workers = f"{run['workers']} worker{'s' * (run['workers'] > 1)}"
    return workers + (f", {THREADS}={run['threads_set']}" if run["threads_set"] is not None else "")


def _cell(stats: dict[str, dict[str, float]], metric: str) -> str:
    values = stats.get(metric)
    if not values:
        return "–"
    digits = 4 if abs(values["mean"]) < 10 else 0
    return f"{values['mean']:.{digits}f} ± {values['std']:.{digits}f}"


def tables(datasets: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The figures as the two Markdown tables docs/evaluation.md quotes.

    Args:
        datasets: Name to :func:`entry`.

    Returns:
        The estimates (network, baseline and floor per metric; the paired test on the study's
        metric) and the wall times.
    """
    rows = [
        "| data | metric | lit_nn (mean ± std) | baseline | baseline (mean ± std) | floor (mean ± std) "
        "| lit_nn − baseline, p |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, data in datasets.items():
        base, floor = data["baseline"], data["floor"]
        test = next((c for c in data["comparisons"] if c["baseline"] == base["name"]), None)
        for metric in SHOWN.get(name, (data["metric"],)):
            judged = test is not None and metric == data["metric"]
            difference = significant(test["mean_difference"], 2, sign=True) if judged else ""
            paired = f"{difference}, {p_text(test['p_value'])}" if judged else ""
            rows.append(f"| {name} | {metric} | {_cell(data['network'], metric)} | {base['name']} | "
                        f"{_cell(base['stats'], metric)} | {floor['name']}: {_cell(floor['stats'], metric)} "
                        f"| {paired} |")  # fmt: skip
    times = ["| data | samples folded | 1 worker | 2 workers | speed-up | per-fold metrics, 1 and 2 workers |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, data in datasets.items():
        walls = {run["workers"]: f"{run['wall_s']:.0f} s" for run in data["runs"] if run["threads_set"] is None}
        agree, check = data.get("workers_agree", {}).get("2 workers"), data.get("threads_check")
        same = "–" if agree is None else "identical" if agree["identical"] else (
            f"differ by up to {agree['max_abs_difference']:.2g}")  # fmt: skip
        if check:
            same += f"; {check['runs'][0]} and {check['runs'][1]}: " + (
                "identical" if check["identical"] else f"differ by up to {check['max_abs_difference']:.2g}"
            )
        times.append(f"| {name} | {data['samples']} | {walls.get(1, '–')} | {walls.get(2, '–')} | "
                     f"{data.get('speedup', {}).get('2 workers', '–')} | {same} |")  # fmt: skip
    return "\n".join(rows), "\n".join(times)


def earlier_entries(path: Path, folds: int) -> dict[str, Any]:
    """The data sets of an earlier result file, to keep those not rerun.

    Args:
        path: The earlier file.
        folds: This run's folds; the earlier file must have been made with as many.

    Returns:
        Name to entry (none when there is no file).

    Raises:
        SystemExit: If the earlier file was made with other folds.
    """
    if not path.is_file():
        return {}
    earlier = json.loads(path.read_text())
    if earlier.get("folds") != folds:
        raise SystemExit(f"{path} was made with {earlier.get('folds')} folds, this run uses {folds}: its entries would "
                         "not compare. Use the same --folds, or pass --json elsewhere")  # fmt: skip
    return dict(earlier.get("datasets", {}))


def main() -> None:
    """Measure, write the JSON file and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to time, one first")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "cv.json"))
    parser.add_argument(
        "--figures",
        default=str(ROOT / "docs" / "images"),
        help="where breast_cancer's and diabetes' one-worker cv.png go (cv-NAME.png); '' for none",
    )
    parser.add_argument("--keep", help="keep the study folders here (default: a temporary folder, removed)")
    args = parser.parse_args()
    out = Path(args.json)
    datasets = earlier_entries(out, args.folds) if set(args.only) != set(DATASETS) else {}
    started = datetime.datetime.now()
    with tempfile.TemporaryDirectory(prefix="lit-nn-cv-") as tmp:
        base = Path(args.keep) if args.keep else Path(tmp)
        for name in args.only:
            runs = []
            for workers in args.workers:
                runs.append(cross_validate(name, args.folds, workers, base / f"{name}-workers-{workers}"))
                print(f"{name}, {workers} worker(s): {runs[-1]['wall_s']} s", flush=True)
            if len(runs) > 1 and agreement(runs[0]["per_fold"], runs[-1]["per_fold"])["identical"] is False:
                # Is it the workers or torch's threads? One worker on as many threads as each of the last run's.
                threads = runs[-1]["threads_per_process"][0]
                runs.append(cross_validate(name, args.folds, 1, base / f"{name}-workers-1-threads-{threads}", threads))
                print(f"{name}, 1 worker on {threads} thread(s): {runs[-1]['wall_s']} s", flush=True)
            if args.figures and name in FIGURES:
                shutil.copyfile(runs[0]["study"] / "cv.png", Path(args.figures) / f"cv-{name}.png")
            datasets[name] = entry(name, runs)
    datasets = {name: datasets[name] for name in DATASETS if name in datasets}
    estimates, times = tables(datasets)
    result = {
        "benchmark": "cv",
        "machine": machine(),
        "machine_details": machine_details(),
        "date": started.date().isoformat(),
        "folds": args.folds,
        "rerun": args.only if set(args.only) != set(DATASETS) else None,
        "seconds": round((datetime.datetime.now() - started).total_seconds(), 1),
        "datasets": datasets,
        "table": estimates,
        "timing_table": times,
    }
    print(estimates, times, sep="\n\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_result(out, result)


if __name__ == "__main__":
    main()
