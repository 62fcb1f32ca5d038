"""A 20-trial Optuna sweep of the digits CNN: its best accuracy against the shipped config's, and its wall time.

With one worker and with two, on the same machine in the same run.

Every figure comes from real commands run as fresh processes, in one run, in fresh run roots, W&B offline::

    lit-nn fit   -c configs/digits.yaml --checkpoint.monitor val/acc --checkpoint.mode max   # the shipped config
    lit-nn test  --ckpt_path <its best checkpoint>
    lit-nn sweep -c configs/digits.yaml -c configs/sweeps/digits.yaml                    # one worker
    lit-nn sweep -c configs/digits.yaml -c configs/sweeps/digits.yaml --workers 2        # two, a fresh study
    lit-nn test  --ckpt_path <each sweep's best trial's best checkpoint>

The shipped config's best checkpoint is chosen by ``val/acc``, as the sweep's trials' are, so the
validation accuracies compare like with like; the test split (360 images, never seen by the sweep)
is the same for all.

    python benchmarks/sweep.py              # 20 trials of up to 12 epochs; the plots to docs/images/
    python benchmarks/sweep.py --quick      # 4 trials of 3 epochs
    python benchmarks/sweep.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import Timed, machine, run_lit_nn, write_result  # noqa: E402

CONFIG, SWEEP = "configs/digits.yaml", "configs/sweeps/digits.yaml"
ENV = {"WANDB_MODE": "offline"}  # nothing uploaded, whatever credentials the machine has


def lit_nn(args: list[str]) -> Timed:
    """Run ``lit-nn ARGS`` as a fresh process from the repository, W&B offline.

    Args:
        args: The arguments after ``lit-nn``.

    Returns:
        Its timing.
    """
    return run_lit_nn(args, env=ENV, cwd=ROOT)


def test_accuracy(checkpoint: Path) -> float:
    """Test a checkpoint and read the accuracy its run folder recorded.

    Args:
        checkpoint: A best checkpoint.

    Returns:
        ``test/acc``.
    """
    lit_nn(["test", "--ckpt_path", str(checkpoint), "--trainer.logger", "false"])
    (metrics,) = sorted(checkpoint.parent.parent.glob("test-*-metrics.json"))[-1:]
    return float(json.loads(metrics.read_text())["metrics"]["test/acc"])


def shipped(root: Path, extra: list[str]) -> dict[str, Any]:
    """Train and test the shipped config, its best checkpoint chosen by validation accuracy.

    Args:
        root: A fresh run root.
        extra: Options shortening the run (``--quick``).

    Returns:
        Its best validation accuracy, test accuracy and fit time.
    """
    from lit_nn.sweeps.trial import recorded_score

    fit = lit_nn(["fit", "-c", CONFIG, "--run.root", str(root), "--checkpoint.monitor", "val/acc",
                  "--checkpoint.mode", "max", "--trainer.enable_progress_bar", "false", *extra])  # fmt: skip
    (run_dir,) = [p.parent for p in root.glob("digits/*/run.json")]
    value = recorded_score(run_dir, "val/acc")
    epochs = int(re.search(r"max_epochs=(\d+)` reached", fit.output).group(1))  # Lightning's closing line
    (best,) = (run_dir / "checkpoints").glob("best-*.ckpt")
    return {"val_acc": round(value, 4), "epochs": epochs, "test_acc": round(test_accuracy(best), 4),
            "fit_s": round(fit.seconds, 1)}  # fmt: skip


def sweep(root: Path, workers: int, extra: list[str], figures: Path | None) -> dict[str, Any]:
    """Run the shipped sweep in a fresh run root and test its best trial.

    Args:
        root: A fresh run root.
        workers: ``--workers``.
        extra: Options shortening the sweep (``--quick``).
        figures: Where to copy the sweep's plots (``sweep-history.png`` …), or ``None``.

    Returns:
        Wall time, the best trial's validation and test accuracy, and how the trials ended.
    """
    from lit_nn.sweeps.study import SweepFolder, load_study

    load = os.getloadavg()[0]
    timed = lit_nn(["sweep", "-c", CONFIG, "-c", SWEEP, "--run.root", str(root), "--workers", str(workers), *extra])
    folder = root / "digits" / "sweeps" / "digits"
    study, _ = load_study(SweepFolder(folder))
    trials = study.get_trials()
    best = study.best_trial
    (checkpoint,) = (folder / f"trial-{best.number:04d}" / "checkpoints").glob("best-*.ckpt")
    states = [t.state.name.lower() for t in trials]
    if figures is not None:
        for name in ("history", "importances", "parallel_coordinate"):
            shutil.copyfile(folder / f"{name}.png", figures / f"sweep-{name}.png")
    return {
        "workers": workers,
        "wall_s": round(timed.seconds, 1),
        "trials": len(trials),
        "complete": states.count("complete"),
        "pruned": states.count("pruned"),
        "failed": states.count("fail"),
        "epochs_trained": sum(len(t.intermediate_values) for t in trials),
        "best_trial": best.number,
        "best_val_acc": round(best.value, 4),
        "best_test_acc": round(test_accuracy(checkpoint), 4),
        "best_params": best.params,
        "peak_mib": round(timed.peak_mib, 1),
        "load_1min_at_start": round(load, 2),
    }


def table(result: dict[str, Any]) -> str:
    """The figures as the Markdown table docs/sweeps.md quotes.

    Args:
        result: This script's JSON.

    Returns:
        The table.
    """
    base = result["shipped"]
    rows = [
        "| run | trials (complete / pruned / failed) | epochs trained | wall time | best val/acc | its test/acc |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| shipped configs/digits.yaml | 1 | {base['epochs']} | {base['fit_s']} s | {base['val_acc']:.4f} "
        f"| {base['test_acc']:.4f} |",
    ]
    for run in result["sweeps"]:
        rows.append(
            f"| sweep, {run['workers']} worker{'s' * (run['workers'] > 1)} | {run['trials']} ({run['complete']} / "
            f"{run['pruned']} / {run['failed']}) | {run['epochs_trained']} | {run['wall_s']} s | "
            f"{run['best_val_acc']:.4f} (trial {run['best_trial']}) | {run['best_test_acc']:.4f} |"
        )
    return "\n".join(rows)


def main() -> None:
    """Measure and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 trials of 3 epochs")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args()
    epochs = ["--trainer.max_epochs", "3"] if args.quick else []
    trials = ["--sweep.n_trials", "4"] if args.quick else []
    with tempfile.TemporaryDirectory(prefix="lit-nn-sweep-") as tmp:
        result: dict[str, Any] = {"benchmark": "sweep", "machine": machine(), "quick": args.quick}
        result["shipped"] = shipped(Path(tmp) / "shipped", epochs)
        figures = None if args.quick else ROOT / "docs" / "images"  # docs/sweeps.md shows the one-worker sweep's
        result["sweeps"] = [sweep(Path(tmp) / f"workers-{n}", n, [*epochs, *trials], figures if n == 1 else None)
                            for n in (1, 2)]  # fmt: skip
    one, two = result["sweeps"]
    result["speedup_two_workers"] = round(one["wall_s"] / two["wall_s"], 2)
    result["table"] = table(result)
    print(result["table"])
    print(f"two workers: {result['speedup_two_workers']}x the speed of one ({result['machine']})")
    write_result(args.json, result)


if __name__ == "__main__":
    main()
