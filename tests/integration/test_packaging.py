"""The built wheel is the whole product: it carries the configs, and the README's tour runs unchanged
from an empty folder with it installed."""

from __future__ import annotations

import csv
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
import tomllib
from sklearn.datasets import load_digits

from tests.conftest import ROOT
from tests.helpers.cli import clean_environment
from tests.helpers.data import house_prices_csv, write_csv


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> Path:
    """``pip wheel .`` then ``pip install --target`` it (no dependencies: the test environment has them)."""
    out = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT), "-w", out]
    subprocess.run(build, check=True, capture_output=True, cwd=out)
    (wheel,) = out.glob("lit_nn-*.whl")
    target = out / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)]
    subprocess.run(install, check=True, capture_output=True)
    return target


def test_the_package_list_names_every_package_folder():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "lit_nn").rglob("__init__.py")}
    assert found | {"lit_nn.configs"} == listed


def test_the_wheel_carries_every_shipped_config(installed_wheel):
    (wheel,) = installed_wheel.parent.glob("lit_nn-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for config in (ROOT / "configs").rglob("*.yaml"):
        assert f"lit_nn/configs/{config.relative_to(ROOT / 'configs').as_posix()}" in names


def _serve_once(command: list[str], env: dict[str, str], cwd) -> dict:
    """Start a `lit-nn serve` command on a free port (PL_SERVE__PORT), predict one digit, stop it with SIGTERM."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(command, env={**env, "PL_SERVE__PORT": str(port)}, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except OSError:
                time.sleep(0.25)
        body = json.dumps({"features": load_digits().data[0].tolist()}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", body, {"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0 and "Server stopped" in output, output
    assert set(answer) == {"label", "probabilities", "class_name"} and len(answer["probabilities"]) == 10
    return answer


def test_the_readme_tour_runs_unchanged_from_an_empty_folder(installed_wheel, tmp_path):
    readme = (ROOT / "README.md").read_text()
    tour = readme[readme.index("## 30-second tour") :].split("```console")[1].split("```")[0]
    commands = [re.sub(r"\s+#.*$", "", line[2:]).split() for line in tour.splitlines() if line.startswith("$ ")]
    assert [c[1] for c in commands][:4] == ["configs", "fit", "fit", "test"]
    house_prices_csv(tmp_path / "houses.csv")  # the user's own table, which the README says to bring
    rows = [line.split(",")[:3] for line in (tmp_path / "houses.csv").read_text().splitlines()]
    write_csv(tmp_path / "new_houses.csv", rows[1:20], rows[0])
    script = installed_wheel / "bin" / "lit-nn"
    # the tour's commands as printed; only their length is cut, through lit_nn's documented variables
    short = {"PL_FIT__TRAINER__MAX_EPOCHS": "1", "PL_FIT__TRAINER__LIMIT_TRAIN_BATCHES": "3",
             "PL_FIT__TRAINER__LIMIT_VAL_BATCHES": "2"}  # fmt: skip
    env = clean_environment(PYTHONPATH=str(installed_wheel), LIT_NN_DEFAULT_ENV="1", **short)
    where = subprocess.run([str(script), "plugins"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert where.returncode == 0 and "lit_nn.builtins" in where.stdout
    imported = [sys.executable, "-c", "import lit_nn; print(lit_nn.__file__)"]
    assert (
        str(installed_wheel) in subprocess.run(imported, env=env, cwd=tmp_path, capture_output=True, text=True).stdout
    )
    printed = {}
    for command in commands:
        if command[1] == "serve":  # runs until stopped: called over HTTP, then stopped as docker stop does
            printed["serve", command[2]] = _serve_once([str(script), *command[1:]], env, tmp_path)
            continue
        result = subprocess.run([str(script), *command[1:]], env=env, cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(command)}\n{result.stderr[-3000:]}"
        printed.setdefault(("fit", "--test") if "--test" in command else tuple(command[1:3]), result)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["breast_cancer", "csv", "digits"]

    # what the tour's digits commands say agrees: the test accuracy, the checkpoint alone, the predictions
    accuracy = float(re.search(r"test/acc\W+([\d.]+)", printed["test", "-c"].stdout).group(1))
    tested = printed["fit", "--test"].stdout  # the latest digits run, tested in its own process
    best = re.search(r"Best checkpoint \(val/loss\): (\S+)", tested).group(1)
    assert float(re.search(r"test/acc\W+([\d.]+)", tested).group(1)) == accuracy
    alone = subprocess.run([str(script), "test", "--ckpt_path", best], env=env, cwd=tmp_path, capture_output=True,
                           text=True)  # fmt: skip
    assert alone.returncode == 0 and float(re.search(r"test/acc\W+([\d.]+)", alone.stdout).group(1)) == accuracy
    rows = list(csv.DictReader((tmp_path / "digits.csv").open()))
    assert len(rows) == 360  # the digits test split: 20 % of 1,797
    assert list(rows[0]) == ["id", "target", "label", *[f"p_{d}" for d in range(10)]]
    assert all(abs(sum(float(r[f"p_{d}"]) for d in range(10)) - 1) < 1e-4 for r in rows)
    assert abs(sum(r["label"] == r["target"] for r in rows) / len(rows) - accuracy) < 1e-6
    swept = printed["sweep", "-c"].stdout  # the shipped sweep, four trials of short epochs
    assert "4 of 4 trials:" in swept and "Best: trial" in swept
    assert (tmp_path / "runs/digits/sweeps/digits/best.yaml").is_file()
