"""Run the CLI in process or as a user would, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
import torchvision

from lit_nn.cli import main
from tests.conftest import DISTRIBUTED_ENV
from tests.helpers.shapes import make_shapes_folder


def lit_nn_command() -> list[str]:
    """The installed console script of the running environment."""
    return [str(Path(sys.executable).with_name("lit-nn"))]


def clean_environment(environ: dict[str, str] | None = None, **env: str) -> dict[str, str]:
    """The environment for a ``lit-nn`` subprocess: no LIT_NN_* or rendezvous settings (``environ``
    replaces the test's own environment as the base; ``env`` adds to it)."""
    base = os.environ if environ is None else environ
    clean = {k: v for k, v in base.items() if not k.startswith("LIT_NN_") and k not in DISTRIBUTED_ENV}
    clean.update(env)
    return clean


def run(
    args: list[str], cwd: Path | None = None, environ: dict[str, str] | None = None, **env: str
) -> subprocess.CompletedProcess:
    """``lit-nn ARGS`` in a subprocess, waited for (see :func:`clean_environment`)."""
    environ = clean_environment(environ, **env)
    return subprocess.run([*lit_nn_command(), *args], capture_output=True, text=True, env=environ, cwd=cwd, timeout=600)


def start(args: list[str], log: Path, cwd: Path | None = None, **env: str) -> subprocess.Popen:
    """``lit-nn ARGS`` in a subprocess left running, its output going to ``log``."""
    with log.open("w") as out:
        return subprocess.Popen([*lit_nn_command(), *args], stdout=out, stderr=subprocess.STDOUT,
                                env=clean_environment(**env), cwd=cwd)  # fmt: skip


def fit(config: str, root: Path, *extra: str) -> None:
    """``lit-nn fit -c CONFIG`` in process, quietly, with runs under ``root``."""
    main(["fit", "-c", config, "--run.root", str(root), "--trainer.enable_progress_bar", "false", *extra])


def dogs_vs_cats_overrides(tmp_path: Path) -> list[str]:
    """Arguments that point configs/dogs_vs_cats.yaml at generated images and local weights."""
    root = make_shapes_folder(tmp_path / "images", per_class=6, size=40)
    torch.manual_seed(0)
    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    return [
        "--data.root", str(root), "--data.image_size", "32", "--data.num_workers", "0", "--data.batch_size", "4",
        "--model.backbone_kwargs", f"{{weights: {weights}, freeze_backbone: true}}",
    ]  # fmt: skip
