"""A fit with --calibrate temperature --conformal 0.1: its checkpoints hold the calibration, and the test reports it."""

from __future__ import annotations

import json

import pytest

from lit_nn.checkpoints import load_checkpoint
from lit_nn.cli import main


@pytest.mark.parametrize(
    ("case", "metrics", "plot"),
    [
        ("multiclass", {"test/ece", "test/coverage", "test/set_size"}, "test-reliability.png"),
        ("regression", {"test/coverage", "test/interval_width"}, "test-intervals.png"),
    ],
)
def test_a_calibrated_checkpoint_is_tested_with_its_calibration(trained, case, metrics, plot):
    root, args = trained(case)  # fitted with --conformal 0.1 (and --calibrate temperature for digits)
    (run,) = [path for path in root.glob("*/*") if (path / "checkpoints").is_dir()]
    for name in ("best", "last"):  # both files, each on its own weights
        (path,) = (run / "checkpoints").glob(f"{name}*.ckpt")
        state = load_checkpoint(path)["state_dict"]
        assert float(state["calibration.level"]) == pytest.approx(0.1) and state["calibration.samples"] > 0
        assert (float(state["calibration.temperature"]) != 1.0) == (case == "multiclass")
    main(["test", *args, "--run.root", str(root), "--ckpt_path", "best"])
    (tested,) = run.glob("test-*-metrics.json")
    found = json.loads(tested.read_text())["metrics"]
    assert metrics <= set(found) and 0.5 < found["test/coverage"] <= 1.0
    (session,) = (run / "plots").glob("test-*")
    assert (session / plot).stat().st_size > 10_000
