"""Trained runs shared by the export and serving tests: one short fit per task, made once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lit_nn.cli import main
from tests.helpers.data import house_prices_csv
from tests.helpers.shapes import make_shapes_folder

QUICK = ["--trainer.logger", "false", "--trainer.enable_model_summary", "false"]


def _runs(tmp: Path) -> dict[str, list[str]]:
    """Each case's config arguments (what export and serve take again to find its best checkpoint).

    The digits, breast_cancer and diabetes models are calibrated (temperature, 90 % conformal sets or
    intervals), so every export and server test carries the calibrated outputs too.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    images = make_shapes_folder(tmp / "shapes", per_class=6, size=40, splits=("train", "val", "test"))
    houses = house_prices_csv(tmp / "houses.csv")
    conformal = tmp / "conformal.yaml"
    conformal.write_text("conformal: 0.1\n")
    return {
        "multiclass": ["-c", "digits", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "8",
                       "--calibrate", "temperature", "--conformal", "0.1"],
        "binary": ["-c", "breast_cancer", "--trainer.max_epochs", "2", "--calibrate", "temperature",
                   "--conformal", "0.1"],
        "regression": ["-c", "diabetes", "-c", str(conformal), "--trainer.max_epochs", "3"],  # the config key
        "csv": ["--model", "RegressionTask", "--data", "csv", "--data.path", str(houses), "--data.target", "price",
                "--data.categorical", "[town]", "--trainer.max_epochs", "3"],
        "image": ["--model", "BinaryClassificationTask", "--model.backbone", "cnn",
                  "--model.backbone_kwargs", "{channels: [8, 16]}", "--data", "image_folder",
                  "--data.root", str(images), "--data.image_size", "32", "--data.batch_size", "4",
                  "--data.num_workers", "0", "--trainer.max_epochs", "1"],
    }  # fmt: skip


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, list[str]]]:
    """A function of a case name to (its runs root, the config arguments that trained it), fitting once.

    Fitted on first use, so a test process (pytest-xdist) trains only the cases its tests need.
    """
    tmp = tmp_path_factory.mktemp("deploy")
    done: dict[str, tuple[Path, list[str]]] = {}

    def get(name: str) -> tuple[Path, list[str]]:
        if name not in done:
            args = _runs(tmp / name)[name]
            root = tmp / name / "runs"
            main(["fit", *args, "--run.root", str(root), "--trainer.enable_progress_bar", "false", *QUICK])
            done[name] = (root, args)
        return done[name]

    return get
