"""The Makefile's pytest step: an empty selection is reported as such, never as a pass."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def make_pytest(args: str) -> subprocess.CompletedProcess:
    venv = Path(sys.prefix)
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(ROOT),
            "pytest",
            f"VENV={venv}",
            f"PYTEST_ARGS={args}",
            "PYTEST_WORKERS=0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_no_tests_collected_is_reported_and_not_a_pass():
    result = make_pytest("--noconftest -p no:cacheprovider tests/cli/test_errors.py -k no_test_is_called_like_this")
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Error 5" in result.stderr  # make passes pytest's own status on in its message
    assert "pytest collected no tests (exit 5): nothing ran, so nothing passed or failed" in result.stderr


def test_a_selection_that_passes_exits_0():
    result = make_pytest("--noconftest -p no:cacheprovider tests/cli/test_errors.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout
