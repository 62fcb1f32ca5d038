"""Ruff (with pydocstyle and annotation rules) passes: public functions keep types and docstrings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def ruff() -> str:
    exe = Path(sys.executable).with_name("ruff")
    if exe.exists():
        return str(exe)
    found = shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return found


def test_ruff_check():
    result = subprocess.run(
        [ruff(), "check", "lit_nn", "tests", "benchmarks", "plugins"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes_over_the_package():
    """The type checker over lit_nn/ (settings: pyproject.toml [tool.mypy])."""
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]')")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "lit_nn"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr


def test_pre_commit_runs_the_same_ruff_checks():
    """.pre-commit-config.yaml checks what test_ruff_check and `make lint` check, with pyproject.toml's rules."""
    import re

    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    (repo,) = [r for r in config["repos"] if r["repo"].endswith("/ruff-pre-commit")]
    hooks = {hook["id"]: hook for hook in repo["hooks"]}
    for folder in ("lit_nn", "tests", "benchmarks", "plugins"):
        assert re.search(hooks["ruff"]["files"], f"{folder}/x.py"), folder
    assert re.search(hooks["ruff-format"]["files"], "lit_nn/x.py")
    assert not re.search(hooks["ruff-format"]["files"], "tests/x.py")  # as `make lint`: lit_nn only
    for hook in hooks.values():  # the rules are pyproject.toml's, not the hook's own
        assert not any(arg.startswith(("--select", "--ignore", "--config", "--line-length")) for arg in hook["args"])
