"""Calibration and conformal prediction on the shipped configs: ECE before and after, coverage, set size, width.

For breast_cancer, diabetes and digits (``configs/*.yaml`` as shipped, W&B disabled) this runs, as a
fresh process in an empty folder, the command docs/evaluation.md shows::

    lit-nn fit -c NAME --calibrate temperature --conformal 0.1 --test true   # no --calibrate for diabetes

and records what the test measured on the test split with the calibration fitted on the validation
split (``test/ece``, ``test/coverage``, ``test/set_size`` or ``test/interval_width``). The best
checkpoint is then loaded here to give the test split's ECE without the temperature (the same
weights, temperature 1), and to repeat the calibration over ``--splits`` random divisions of the
held-out samples (validation and test: data the weights never trained on) into a calibration part
(90 %) and a test part (10 %): the mean and spread of the coverage over those divisions, and whether
the total count lies inside the binomial 99 % interval around 0.9 (as ``tests/tasks/test_calibration.py``
checks on shorter fits).

    python benchmarks/calibration.py                    # benchmarks/results/calibration.json
    python benchmarks/calibration.py --only digits --json /tmp/c.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, run_lit_nn, write_result  # noqa: E402

DATASETS = ("breast_cancer", "diabetes", "digits")
ENV = {"WANDB_MODE": "disabled"}
LEVEL = 0.1
FIGURES = {"digits": "reliability", "diabetes": "intervals"}
"""The test plot of each data set that docs/calibration.md shows, copied to docs/images/<plot>-<data>.png."""


def _task_and_data(run: Path, config: dict[str, Any]) -> tuple[Any, Any]:
    """The run's best checkpoint as a task (weights and calibration), and its datamodule as configured."""
    import importlib

    from lit_nn.checkpoints import load_checkpoint
    from lit_nn.registry import default_registry

    (best,) = (run / "checkpoints").glob("best*.ckpt")
    checkpoint = load_checkpoint(best)
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if not k.startswith("_")}
    module, name = checkpoint["hyper_parameters"]["_class_path"].rsplit(".", 1)
    task = getattr(importlib.import_module(module), name)(**hparams)
    task.load_state_dict(checkpoint["state_dict"])
    data_section = config["data"]
    data = default_registry().create("datamodules", data_section["class_path"], **data_section.get("init_args", {}))
    data.setup("fit")
    return task.eval(), data


def _batches(loader: Any) -> tuple[Any, Any]:  # noqa: ANN401
    import torch

    xs, ys = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys)


def measure(name: str, splits: int) -> dict[str, Any]:
    """Fit, calibrate and test one shipped config; then repeat the calibration over random divisions.

    Args:
        name: ``breast_cancer``, ``diabetes`` or ``digits``.
        splits: How many random divisions of the held-out samples.

    Returns:
        The figures.
    """
    import copy

    import torch
    import yaml
    from scipy.stats import binom
    from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

    from lit_nn.tasks.calibration import calibrate

    config = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
    classifier = config["model"]["class_path"] != "RegressionTask"
    calibrate_args = ["--calibrate", "temperature"] if classifier else []
    with tempfile.TemporaryDirectory() as folder:
        command = ["fit", "-c", name, *calibrate_args, "--conformal", str(LEVEL), "--test", "true"]
        timed = run_lit_nn([*command, "--trainer.enable_progress_bar", "false"], env=ENV, cwd=Path(folder))
        (run,) = Path(folder).glob(f"runs/{name}/*")
        (tested,) = run.glob("test-*-metrics.json")
        if name in FIGURES:  # docs/calibration.md shows it
            (plot,) = run.glob(f"plots/test-*/test-{FIGURES[name]}.png")
            shutil.copyfile(plot, ROOT / "docs/images" / f"{FIGURES[name]}-{name}.png")
        metrics = json.loads(tested.read_text())["metrics"]
        task, data = _task_and_data(run, config)
    calibrated = [line for line in timed.output.splitlines() if line.startswith("Calibrated best")]
    found: dict[str, Any] = {
        "command": "lit-nn " + " ".join(command),
        "seconds": round(timed.seconds, 1),
        "line": calibrated[0] if calibrated else None,
        "validation_samples": len(data.val_dataloader().dataset),
        "test_samples": len(data.test_dataloader().dataset),
        "test_metrics": {k: round(v, 4) for k, v in metrics.items()},
    }
    (x_val, y_val), (x_test, y_test) = _batches(data.val_dataloader()), _batches(data.test_dataloader())
    if classifier:
        raw = copy.deepcopy(task)
        raw.calibration.reset()
        with torch.no_grad():
            before, after = raw.predict_outputs(x_test), task.predict_outputs(x_test)
        if "probabilities" in before:
            classes = before["probabilities"].shape[1]
            ece = [
                multiclass_calibration_error(o["probabilities"], y_test, classes, n_bins=15) for o in (before, after)
            ]
        else:
            ece = [binary_calibration_error(o["probability"], y_test, n_bins=15) for o in (before, after)]
        found.update(
            temperature=round(float(task.calibration.temperature), 4),
            ece_before=round(float(ece[0]), 4),
            ece_after=round(float(ece[1]), 4),
            labels_unchanged=bool(torch.equal(before["label"], after["label"])),
        )
    x, y = torch.cat([x_val, x_test]), torch.cat([y_val, y_test])
    with torch.no_grad():
        outputs = task.calibration_outputs(x)
    held = len(y) // 10
    coverages, sizes = [], []
    for seed in range(splits):
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
        cal, test = order[held:], order[:held]
        with torch.no_grad():
            calibrate(task, outputs[cal], y[cal], temperature=classifier, level=LEVEL)
            answers = task.predict_outputs(x[test])
        if "prediction_set" in answers:
            sets = answers["prediction_set"]
            hit = sets.gather(1, y[test].long().reshape(-1, 1)).float()
            sizes.append(float(sets.sum(dim=1).float().mean()))
        else:
            truth = y[test].reshape(answers["prediction"].shape)
            hit = ((answers["lower"] <= truth) & (truth <= answers["upper"])).float()
            sizes.append(float((answers["upper"] - answers["lower"]).mean()))
        coverages.append(float(hit.mean()))
    total = splits * held
    covered = round(sum(c * held for c in coverages))
    low, high = binom.ppf(0.005, total, 1 - LEVEL), binom.ppf(0.995, total, 1 - LEVEL)
    spread = torch.tensor(coverages)
    found["splits"] = {
        "count": splits,
        "calibration_samples": len(y) - held,
        "test_samples": held,
        "coverage_mean": round(covered / total, 4),
        "coverage_std": round(float(spread.std()), 4),
        "coverage_min_max": [round(min(coverages), 4), round(max(coverages), 4)],
        "binomial_99_interval": [round(low / total, 4), round(high / total, 4)],
        "inside": bool(low <= covered <= high),
        ("mean_set_size" if classifier else "mean_interval_width"): round(sum(sizes) / len(sizes), 4),
    }
    return found


def main() -> None:
    """Measure every data set (or ``--only`` one) and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=DATASETS)
    parser.add_argument("--splits", type=int, default=50)
    parser.add_argument("--json", default=str(ROOT / "benchmarks/results/calibration.json"))
    args = parser.parse_args()
    path = Path(args.json)
    previous = json.loads(path.read_text()).get("datasets", {}) if path.is_file() and args.only else {}
    datasets = {**previous}
    for name in (args.only,) if args.only else DATASETS:
        datasets[name] = measure(name, args.splits)
    import os

    write_result(path, {"machine": machine(), "load_average": os.getloadavg(), "level": LEVEL, "datasets": datasets})


if __name__ == "__main__":
    main()
