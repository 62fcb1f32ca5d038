"""Train each shipped config on five seeded splits and compare with a classical baseline.

For every seed the datamodule's own split is used twice: lit_nn trains on its train split
(choosing the checkpoint on val) and is scored on test; the baseline (scikit-learn) fits on
train + val, the same 80 %, and is scored on the same test rows.

    python benchmarks/accuracy.py               # all configs, seeds 0-4; writes docs/accuracy.md
    python benchmarks/accuracy.py --seeds 2     # quicker
    python benchmarks/accuracy.py --only digits # rerun one row; the file's other rows stay
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lit_nn.cli import main  # noqa: E402
from lit_nn.registry import default_registry  # noqa: E402
from tests.helpers.shapes import make_shapes_folder  # noqa: E402


def lit_nn_metrics(args: list[str], root: Path) -> dict[str, float]:
    """Fit, test the best checkpoint, and read the test metrics the CSV logger wrote."""
    quiet = [
        "--run.root",
        str(root),
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_model_summary",
        "false",
    ]
    main(["fit", *args, *quiet])
    main(["test", *args, "--ckpt_path", "best", *quiet])
    # The run folder's record of the test, written whatever the logger (W&B, CSV or none).
    (metrics,) = root.glob("*/*/test-*-metrics.json")
    row = json.loads(metrics.read_text())["metrics"]
    return {k.removeprefix("test/"): float(v) for k, v in row.items() if k.startswith("test/")}


def split_arrays(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The raw features and targets of the datamodule's split: (train + val) and test."""
    data = default_registry().create("datamodules", name, seed=seed)
    split = data.split()
    fit_rows = np.concatenate([split.train, split.val])
    x = data.features.reshape(len(data.features), -1)
    return x[fit_rows], data.targets[fit_rows], x[split.test], data.targets[split.test]


def svc_digits(seed: int) -> dict[str, float]:
    """scikit-learn's digits example: SVC(gamma=0.001) on raw pixels."""
    x, y, xt, yt = split_arrays("digits", seed)
    return {"acc": accuracy_score(yt, SVC(gamma=0.001).fit(x, y).predict(xt))}


def logistic_breast_cancer(seed: int) -> dict[str, float]:
    """Standardised logistic regression."""
    x, y, xt, yt = split_arrays("breast_cancer", seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x, y)
    return {"acc": accuracy_score(yt, model.predict(xt)), "auroc": roc_auc_score(yt, model.predict_proba(xt)[:, 1])}


def ols_diabetes(seed: int) -> dict[str, float]:
    """Ordinary least squares."""
    x, y, xt, yt = split_arrays("diabetes", seed)
    return {"r2": r2_score(yt, LinearRegression().fit(x, y).predict(xt))}


def shapes_args(folder: Path) -> list[str]:
    """A small CNN on generated circles and squares (chance: 0.5)."""
    make_shapes_folder(folder, per_class=300, size=40, splits=("train", "val", "test"))
    return ["--model", "BinaryClassificationTask", "--model.backbone", "cnn",
            "--model.backbone_kwargs", "{channels: [16, 32, 64]}", "--model.lr", "0.001",
            "--data", "image_folder", "--data.root", str(folder), "--data.image_size", "32",
            "--data.num_workers", "2", "--data.batch_size", "32", "--trainer.max_epochs", "5"]  # fmt: skip


BENCHMARKS: dict[str, tuple[list[str], Callable[[int], dict[str, float]] | None, str, list[str]]] = {
    "digits": (["-c", "configs/digits.yaml"], svc_digits, "SVC(gamma=0.001)", ["acc"]),
    "breast_cancer": (
        ["-c", "configs/breast_cancer.yaml"],
        logistic_breast_cancer,
        "logistic regression",
        ["acc", "auroc"],
    ),
    "diabetes": (["-c", "configs/diabetes.yaml"], ols_diabetes, "OLS", ["r2"]),
    "image_folder": ([], None, "chance", ["acc"]),
}


def mean_std(values: list[float]) -> str:
    """``0.990 ± 0.004``."""
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {spread:.4f}"


TABLE = [
    "| data | metric | lit_nn (mean ± std) | baseline | baseline (mean ± std) | lit_nn − baseline per split |",
    "| --- | --- | --- | --- | --- | --- |",
]
RERUN_NOTE = "Rows rerun on their own afterwards: `--only {names}` ({seeds} seeds, {seconds:.0f} s)."


def previous_file(path: Path, seeds: int) -> tuple[list[str], dict[str, list[str]]]:
    """The header and the rows (by data name) of an earlier ``accuracy.md``, to keep rows not rerun.

    Args:
        path: The earlier file.
        seeds: Seeds of this run; the earlier file must have the same number.

    Returns:
        Its lines above the table, and its table rows by their ``data`` column.

    Raises:
        SystemExit: If the file has no table or was made with another number of seeds.
    """
    text = path.read_text().splitlines()
    if TABLE[0] not in text:
        raise SystemExit(f"{path} has no accuracy table to merge into; run every benchmark, or pass --out")
    start = text.index(TABLE[0])
    header, rows = text[:start], {}
    for line in text[start + len(TABLE) :]:
        if line.startswith("| "):
            rows.setdefault(line.split("|")[1].strip(), []).append(line)
    found = re.search(r"\((\d+) seeds", "\n".join(header))
    if not found or int(found.group(1)) != seeds:
        raise SystemExit(
            f"{path} was made with {found.group(1) if found else 'an unknown number of'} seeds, this run uses "
            f"{seeds}: its rows would not compare. Use the same --seeds, or pass --out"
        )
    return header, rows


def merged_header(header: list[str], names: list[str], seeds: int, seconds: float) -> list[str]:
    """The earlier header with a note on the rows just rerun (replacing older notes on fewer rows).

    Args:
        header: The earlier file's lines above the table.
        names: The benchmarks just rerun.
        seeds: Their seeds.
        seconds: How long they took.

    Returns:
        The header to write above the merged table.
    """
    kept = []
    for line in header:
        found = re.match(r"Rows rerun on their own afterwards: `--only ([^`]*)`", line)
        if found and set(found.group(1).split()) <= set(names):
            continue
        kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return [*kept, RERUN_NOTE.format(names=" ".join(names), seeds=seeds, seconds=seconds), ""]


def main_benchmark() -> None:
    """Run the benchmarks and write the Markdown table (keeping the rows of those not run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=list(BENCHMARKS), choices=list(BENCHMARKS))
    parser.add_argument("--out", default=str(ROOT / "docs" / "accuracy.md"))
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more lit-nn arguments, for trials")
    options = parser.parse_args()
    os.chdir(ROOT)
    # No W&B runs for the trials: the metrics are read from the run folder whatever the logger.
    os.environ.setdefault("WANDB_MODE", "disabled")
    out = Path(options.out)
    merging = set(options.only) != set(BENCHMARKS) and out.exists()
    earlier = previous_file(out, options.seeds) if merging else None  # refuse before training
    rows: dict[str, list[str]] = {}
    started = time.time()
    for name in options.only:
        args, baseline, baseline_name, metrics = BENCHMARKS[name]
        ours: dict[str, list[float]] = {m: [] for m in metrics}
        theirs: dict[str, list[float]] = {m: [] for m in metrics}
        for seed in range(options.seeds):
            with tempfile.TemporaryDirectory() as tmp:
                seeded = ["--seed_everything", str(seed), "--data.seed", str(seed)]
                run_args = shapes_args(Path(tmp) / "shapes") if name == "image_folder" else args
                result = lit_nn_metrics([*run_args, *seeded, *options.extra], Path(tmp) / "runs")
            reference = baseline(seed) if baseline else {"acc": 0.5}
            for m in metrics:
                ours[m].append(result[m])
                theirs[m].append(reference[m])
            print(name, seed, {m: round(result[m], 4) for m in metrics}, {m: round(reference[m], 4) for m in metrics})
        rows[name] = []
        for m in metrics:
            diffs = ", ".join(f"{a - b:+.4f}" for a, b in zip(ours[m], theirs[m], strict=True))
            rows[name].append(
                f"| {name} | {m} | {mean_std(ours[m])} | {baseline_name} | {mean_std(theirs[m])} | {diffs} |"
            )
    seconds = time.time() - started
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, no GPU"
    if earlier:
        header = merged_header(earlier[0], options.only, options.seeds, seconds)
        rows = {name: rows.get(name) or earlier[1].get(name, []) for name in BENCHMARKS}
    else:
        header = [
            "# Accuracy: lit_nn against classical baselines on identical splits",
            "",
            f"Produced by `python benchmarks/accuracy.py` ({options.seeds} seeds: 0–{options.seeds - 1}; "
            f"{seconds:.0f} s on {machine}).",
            "Each seed is one stratified split: 70 % train, 10 % validation (checkpoint choice), 20 % test",
            "(breast_cancer's config: 75 % and 5 %; the test rows are the same whatever the validation share).",
            "The baseline fits on train + validation (the same 80 %) and is scored on the same test rows.",
            "image_folder: generated circles and squares of random colours (300 per class in each of train,",
            "val and test; 40 px, cropped to 32), a small CNN, 5 epochs; chance is 0.5.",
            "",
        ]
    lines = [*TABLE, *(line for name_rows in rows.values() for line in name_rows)]
    out.write_text("\n".join(header + lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main_benchmark()
