"""`lit-nn plugins new`: the skeleton installs, is discovered through its entry point, and trains."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lit_nn.cli import main
from lit_nn.cli.scaffold import ScaffoldError, new_plugin
from tests.helpers.cli import run


def test_writes_a_package_with_an_example_for_every_hook(tmp_path, capsys):
    main(["plugins", "new", "demo", "--dir", str(tmp_path)])
    root = tmp_path / "lit-nn-demo"
    assert f"Wrote {root}/" in capsys.readouterr().out
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    package = ["src/lit_nn_demo/__init__.py", "src/lit_nn_demo/components.py", "src/lit_nn_demo/plugin.py"]
    assert files == ["README.md", "pyproject.toml", *package, "tests/test_plugin.py"]
    assert '[project.entry-points.lit_nn]\ndemo = "lit_nn_demo.plugin"' in (root / "pyproject.toml").read_text()
    plugin = (root / "src/lit_nn_demo/plugin.py").read_text()
    for hook in ("activations", "losses", "backbones", "datamodules"):
        assert f"def lit_nn_register_{hook}()" in plugin


@pytest.mark.parametrize("name", ["Demo", "9lives", "my plugin", "a.b"])
def test_invalid_names_are_refused(tmp_path, name):
    with pytest.raises(ScaffoldError, match="must be lower case letters"):
        new_plugin(name, tmp_path)
    assert not list(tmp_path.iterdir())


def test_an_existing_folder_is_left_alone(tmp_path):
    (tmp_path / "lit-nn-demo").mkdir()
    (tmp_path / "lit-nn-demo" / "keep.txt").write_text("mine")
    result = run(["plugins", "new", "demo", "--dir", str(tmp_path)])
    assert result.returncode == 2 and "already exists" in result.stderr
    assert [p.name for p in (tmp_path / "lit-nn-demo").iterdir()] == ["keep.txt"]


def test_the_skeleton_installs_is_discovered_trains_and_passes_its_tests(tmp_path):
    root = new_plugin("sketch", tmp_path)
    site = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(root),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    listed = run(["plugins"], **env)
    row = next(line for line in listed.stdout.splitlines() if line.startswith("sketch "))
    assert row.split()[:3] == ["sketch", "lit-nn-sketch", "0.1.0"]

    fitted = run(["fit", "--model", "BinaryClassificationTask", "--data", "sketch_circles",
                  "--model.backbone", "sketch_wide_mlp", "--model.activation", "sketch_relu_squared",
                  "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false",
                  "--run.root", str(tmp_path / "runs")], **env)  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr[-2000:]
    assert list((tmp_path / "runs" / "sketch_circles").glob("*/checkpoints/last.ckpt"))

    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIT_NN_")} | env
    own_tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        capture_output=True,
        text=True,
        env=environ,
    )
    assert own_tests.returncode == 0, own_tests.stdout[-2000:]
    assert "2 passed" in own_tests.stdout
