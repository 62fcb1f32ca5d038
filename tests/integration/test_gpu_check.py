"""`make gpu-check` (benchmarks/gpu.py): its one line without a GPU, its step isolation, and its choice of tests."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import pytest
import torch

from benchmarks.gpu import Step, gpu_test_files, run_steps
from tests.conftest import ROOT

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="the no-GPU path needs a machine without a CUDA GPU")


@no_gpu
def test_without_a_gpu_the_script_says_so_in_one_line_and_exits_0(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--work", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    (line,) = done.stdout.splitlines()
    assert line.startswith("gpu-check: no CUDA GPU here") and "nothing was run" in line
    assert not (tmp_path / "work").exists()  # nothing installed, nothing written


@no_gpu
@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_make_gpu_check_without_a_gpu_is_one_line_and_exit_0():
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "gpu-check", f"GPU_PYTHON={sys.executable}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert len((done.stdout + done.stderr).splitlines()) == 1
    assert "no CUDA GPU here" in done.stdout


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_failing_or_late_step_is_recorded_and_the_others_still_run(tmp_path):
    commands = {
        "writes": "import json, sys; open(sys.argv[1], 'w').write(json.dumps({'images_per_s': 1.5}))",
        "fails": "print('something broke'); raise SystemExit(3)",
        "hangs": "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)",
        "after-fails": "pass",
        "last": "pass",
    }
    steps = [
        Step("writes", 30, alone=True),
        Step("fails", 30),
        Step("hangs", 1.5),
        Step("after-fails", 30, after="fails"),
        Step("last", 30),
    ]

    def command(step: Step, figures) -> list[str]:
        return [*_python(commands[step.name]), str(figures)]

    started = time.monotonic()
    said = []
    results = run_steps(steps, command, tmp_path / "logs", budget_s=60, parallel=2, say=said.append)
    assert time.monotonic() - started < 30  # the hanging step, and the process it started, were stopped
    assert {name: r["status"] for name, r in results.items()} == {
        "writes": "ok",
        "fails": "failed",
        "hangs": "timed out",
        "after-fails": "skipped",
        "last": "ok",
    }
    assert results["writes"]["figures"] == {"images_per_s": 1.5}
    assert "exit 3" in results["fails"]["error"] and "something broke" in results["fails"]["error"]
    assert "stopped after 2 s" in results["hangs"]["error"]
    assert "needs step fails" in results["after-fails"]["error"]
    assert (tmp_path / "logs" / "fails.log").read_text() == "something broke\n"
    assert any(line == "gpu-check: writes: ok" or line.startswith("gpu-check: writes: ok (") for line in said)
    json.dumps(results)  # what gpu.json holds


def test_a_step_that_would_start_past_the_budget_is_skipped(tmp_path):
    steps = [Step("slow", 30), Step("next", 30)]

    def command(step: Step, figures) -> list[str]:
        return _python("import time; time.sleep(2)" if step.name == "slow" else "pass")

    results = run_steps(steps, command, tmp_path / "logs", budget_s=16, parallel=1, say=lambda line: None)
    assert results["slow"]["status"] == "ok"
    assert results["next"] == {"status": "skipped", "error": "the budget of 16 s was spent"}


def test_gpu_only_selects_every_test_run_if_marks(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--collect-only",
            "-q",
            "--gpu-only",
            *gpu_test_files(),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    selected = {line for line in done.stdout.splitlines() if "::" in line}
    assert selected == {
        "tests/test_configs.py::test_preset_composes_with_a_dataset_config[configs/trainer/16-mixed.yaml]",
        "tests/test_configs.py::test_preset_composes_with_a_dataset_config[configs/trainer/fsdp.yaml]",
        "tests/test_configs.py::test_preset_composes_with_a_dataset_config[configs/trainer/gpu.yaml]",
        "tests/integration/test_distributed.py::test_16_mixed_on_a_gpu",
        "tests/integration/test_distributed.py::test_ddp_over_gpus",
    }


def test_every_gpu_only_test_is_marked_through_run_if():
    """A bare ``skipif`` on CUDA would hide a GPU test from ``make gpu-check``."""
    bare = re.compile(r"skipif\(\s*(not\s+torch\.cuda\.is_available\(\)|torch\.cuda\.device_count\(\)\s*<)")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in (ROOT / "tests").rglob("*.py")
        if path.name != "run_if.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if bare.search(line)
    ]
    assert found == [], "mark GPU-only tests with tests.helpers.run_if.gpu / gpus(N)"
