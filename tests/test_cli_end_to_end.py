"""fit → test the best → test from the checkpoint alone → predict, as a user types it."""

from __future__ import annotations

import csv
import re

from tests.helpers.cli import run


def test_fit_test_predict_chain(tmp_path):
    root = str(tmp_path / "runs")
    fitted = run(["fit", "-c", "configs/digits.yaml", "--trainer.max_epochs", "3", "--run.root", root,
                  "--trainer.enable_progress_bar", "false"])  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr[-2000:]
    best = re.search(r"Best checkpoint \(val/loss\): (\S+)", fitted.stdout).group(1)

    tested = run(["test", "-c", "configs/digits.yaml", "--ckpt_path", "best", "--run.root", root])
    assert tested.returncode == 0, tested.stderr[-2000:]
    accuracy = float(re.search(r"test/acc\s+([\d.]+)", tested.stdout).group(1))
    assert accuracy > 0.8

    alone = run(["test", "--ckpt_path", best])
    assert alone.returncode == 0, alone.stderr[-2000:]
    assert float(re.search(r"test/acc\s+([\d.]+)", alone.stdout).group(1)) == accuracy

    output = tmp_path / "predictions.csv"
    predicted = run(["predict", "-c", "configs/digits.yaml", "--ckpt_path", "best", "--run.root", root,
                     "--output", str(output)])  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == 360  # the digits test split: 20 % of 1,797
    assert list(rows[0]) == ["id", "target", "label", *[f"p_{d}" for d in range(10)]]
    assert all(abs(sum(float(r[f"p_{d}"]) for d in range(10)) - 1) < 1e-4 for r in rows)
    correct = sum(r["label"] == r["target"] for r in rows) / len(rows)
    assert abs(correct - accuracy) < 1e-6
