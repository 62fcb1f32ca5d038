"""predict, export and serve from a checkpoint whose training data is gone: the same answers as before it went.

Each case trains a model, takes its predictions, its export and what `lit-nn serve` would serve, then
deletes the training data (the CSV file; the image folder, with the run moved to a fresh folder) and
takes them again from the checkpoint alone, in a folder where the training data never was.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

from lit_nn.cli import main
from lit_nn.deploy.requests import RequestDecoder
from tests.deploy.conftest import QUICK
from tests.deploy.test_serve import _free_port
from tests.helpers.data import house_prices_csv
from tests.helpers.shapes import draw_shape, make_shapes_folder

CSV_CASES = {
    "regression": ["--model", "RegressionTask", "--data.target", "price", "--data.categorical", "[town]"],
    "multiclass": ["--model", "MulticlassClassificationTask", "--data.target", "town"],
}


def strings(value: object) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def assert_names_no_path(metadata: dict, *folders: Path) -> None:
    for text in strings(metadata):
        assert not Path(text).is_absolute() and not any(str(f) in text for f in folders), text
    assert "source" not in metadata["input"].get("encoding", {})


@pytest.fixture
def serve(monkeypatch):
    """`lit-nn serve` run up to starting its server: gives the API it would serve (model and metadata).

    The server itself (LitServe, HTTP) is tested in test_serve.py; here what matters is that the
    command builds the datamodule, the model and the metadata without the training data.
    """
    served = []

    class NotStarted:
        def run(self, **kwargs):
            """Return at once, as a server stopped by Ctrl+C would."""

    def build(apis, options, accelerator="auto"):
        served.extend(apis)
        return NotStarted()

    monkeypatch.setattr("lit_nn.deploy.server.build_server", build)
    monkeypatch.setattr(os, "register_at_fork", lambda **kwargs: None)  # no fork handler left in the test process

    def run(*args: str):
        main(["serve", *args, "--port", str(_free_port())])
        api = served.pop()
        api.device = "cpu"  # LitServe's worker would set it in setup()
        return api

    return run


def answers(api, body: dict) -> object:
    """What the served model answers a request body, through the server's own decoding and prediction."""
    return api.predict(api.decoder(40_000_000)(body))


def exported(capsys, *args: str) -> tuple[Path, dict, str]:
    main(["export", *args, "--overwrite", "true"])
    out = capsys.readouterr().out
    path = Path(next(line for line in out.splitlines() if line.startswith("Exported ")).split(" ", 1)[1])
    return path, json.loads(path.with_name(path.name + ".json").read_text()), out


def onnx_outputs(path: Path, features: np.ndarray) -> list[np.ndarray]:
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"features": features})


def same_model(before: dict, after: dict) -> None:
    """Two exports' metadata describe the same model: input, encoding, scaling, outputs, classes."""
    for key in ("task", "input", "outputs", "class_names", "checkpoint", "run", "threshold"):
        assert before.get(key) == after.get(key), key


def records(path: Path, target: str) -> list[dict]:
    """A CSV file's rows as a client sends them by column name (numbers as numbers)."""
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    return [{k: v if k == "town" else float(v) for k, v in row.items() if k != target} for row in rows]


@pytest.mark.parametrize("case", CSV_CASES)
def test_a_csv_model_predicts_exports_and_serves_the_same_once_its_training_file_is_gone(
    case, tmp_path, capsys, serve, monkeypatch
):
    project, fresh = tmp_path / "project", tmp_path / "fresh"
    project.mkdir()
    fresh.mkdir()
    houses = house_prices_csv(project / "houses.csv")
    new = house_prices_csv(tmp_path / "new.csv", n=15, seed=7)
    target = CSV_CASES[case][CSV_CASES[case].index("--data.target") + 1]
    main(["fit", "--data", "csv", *CSV_CASES[case], "--data.path", str(houses), "--trainer.max_epochs", "2",
          "--run.root", str(project / "runs"), "--trainer.enable_progress_bar", "false", *QUICK])  # fmt: skip
    (checkpoint,) = project.glob("runs/*/*/checkpoints/best-*.ckpt")
    ckpt = ["--ckpt_path", str(checkpoint)]
    body = {"features": records(new, target)}

    def taken(tag: str) -> tuple[str, Path, dict, str, object]:
        predictions = tmp_path / f"predictions-{tag}.csv"
        main(["predict", *ckpt, "--data.path", str(new), "--output", str(predictions)])
        path, metadata, out = exported(capsys, *ckpt, "--output", str(tmp_path / f"{tag}.onnx"))
        api = serve(*ckpt)
        assert_names_no_path(api.metadata, tmp_path)
        return predictions.read_text(), path, metadata, out, answers(api, body)

    before = taken("before")
    houses.unlink()
    monkeypatch.chdir(fresh)
    after = taken("after")

    assert after[0] == before[0] and len(after[0].splitlines()) == 16  # predict: the same file, every row
    (_, path_before, metadata_before, out_before, served_before) = before
    (_, path_after, metadata_after, out_after, served_after) = after
    assert "on 24 test samples:" in out_before and metadata_before["check"]["inputs"] == "test"
    assert "on 256 generated inputs (the test data is not here): largest absolute difference" in out_after
    assert metadata_after["check"]["inputs"] == "generated" and metadata_after["check"]["samples"] == 256
    same_model(metadata_before, metadata_after)
    assert metadata_after["checkpoint"] == checkpoint.name
    assert metadata_after["run"]["name"] == checkpoint.parents[1].name
    features = RequestDecoder(metadata_after)(body).inputs
    for want, got in zip(onnx_outputs(path_before, features), onnx_outputs(path_after, features), strict=True):
        np.testing.assert_array_equal(want, got)
    assert served_after == served_before and len(served_after["predictions"]) == 15
    if case == "multiclass":
        assert metadata_after["class_names"] == ["east", "north", "south"]
        assert {p["class_name"] for p in served_after["predictions"]} <= {"east", "north", "south"}
    for metadata in (metadata_before, metadata_after):
        assert_names_no_path(metadata, tmp_path)
    inside = {p.key: p.value for p in onnx.load(str(path_after)).metadata_props}["lit_nn"]  # the ONNX file's copy
    assert_names_no_path(json.loads(inside), tmp_path)

    with pytest.raises(SystemExit) as exit_info:
        main(["predict", *ckpt])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"lit-nn: error: the training file {houses} is gone (export and serve need only the checkpoint); give "
        "--data.path FILE with the data to predict for"
    )


def png(shape: str, seed: int) -> str:
    buffer = io.BytesIO()
    draw_shape(shape, 48, np.random.default_rng(seed)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def test_an_image_model_moved_away_from_its_folder_predicts_exports_and_serves_the_same(tmp_path, capsys, serve):
    project = tmp_path / "project"
    images = make_shapes_folder(project / "shapes", per_class=4, size=40, splits=("train", "val", "test"))
    new = make_shapes_folder(tmp_path / "new", per_class=3, size=40, splits=(), seed=5)
    main(["fit", "--model", "BinaryClassificationTask", "--model.backbone", "cnn",
          "--model.backbone_kwargs", "{channels: [8, 16]}", "--data", "image_folder", "--data.root", str(images),
          "--data.image_size", "32", "--data.mean", "[0.5, 0.5, 0.5]", "--data.std", "[0.25, 0.25, 0.25]",
          "--data.batch_size", "4", "--data.num_workers", "0", "--trainer.max_epochs", "1",
          "--run.root", str(project / "runs"), "--trainer.enable_progress_bar", "false", *QUICK])  # fmt: skip
    body = {"images": [png("circle", 1), png("square", 2)]}

    def taken(checkpoint: Path, tag: str) -> tuple[str, dict, str, object]:
        ckpt = ["--ckpt_path", str(checkpoint)]
        predictions = tmp_path / f"predictions-{tag}.csv"
        main(["predict", *ckpt, "--data.root", str(new), "--output", str(predictions)])
        _, metadata, out = exported(capsys, *ckpt, "--output", str(tmp_path / f"{tag}.onnx"))
        return predictions.read_text(), metadata, out, answers(serve(*ckpt), body)

    (checkpoint,) = project.glob("runs/*/*/checkpoints/best-*.ckpt")
    before = taken(checkpoint, "before")
    shutil.move(project / "runs", tmp_path / "runs")
    shutil.rmtree(project)
    moved = tmp_path / checkpoint.relative_to(project)
    after = taken(moved, "after")

    assert after[0] == before[0] and len(after[0].splitlines()) == 7
    assert "on 8 test samples:" in before[2]
    assert "on 256 generated inputs (the test data is not here)" in after[2]
    same_model(before[1], after[1])
    assert after[1]["input"] | {"description": ""} == {
        "name": "features", "shape": [None, 32, 32, 3], "dtype": "uint8", "description": "", "image_size": 32,
        "resize": 37, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
    }  # fmt: skip
    assert after[1]["class_names"] == ["circle", "square"]
    assert after[3] == before[3] and len(after[3]["predictions"]) == 2
    for metadata in (before[1], after[1]):
        assert_names_no_path(metadata, tmp_path)

    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--ckpt_path", str(moved)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert "the training folder" in err and "is gone" in err and "give --data.root FOLDER" in err
