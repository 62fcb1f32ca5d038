"""The plugin's own task kind, MultilabelTask, through lit_nn's real commands from fit to serve.

Nothing in lit_nn names it: the plots, prediction columns, export outputs and served answers
come from the task itself.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from lit_nn.cli import main
from lit_nn.registry import build_registry

PLUGIN = Path(__file__).resolve().parents[1]
CONFIG = str(PLUGIN / "configs" / "multilabel.yaml")
FAST = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "3", "--data.num_samples", "200",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]  # fmt: skip


def test_registered_by_class_name_with_its_datamodule():
    registry = build_registry()
    entry = registry.entry("tasks", "MultilabelTask")
    assert entry.plugin.name == "extras" and entry.target == "lit_nn_extras.multilabel.MultilabelTask"
    data = registry.create("datamodules", "multilabel", num_samples=50, num_labels=4)
    assert data.num_labels == 4 and data.input_shape == (20,)
    task = registry.create("tasks", "MultilabelTask", num_labels=4, input_shape=[20])
    data.setup("fit")
    x, y = next(iter(data.train_dataloader()))
    loss, preds, target = task.model_step((x, y))
    assert preds.shape == target.shape == (len(x), 4) and 0 <= float(preds.min()) <= float(preds.max()) <= 1
    torch.testing.assert_close(loss, torch.nn.functional.binary_cross_entropy(preds, y.float()))
    outputs = task.predict_outputs(x)
    assert torch.equal(outputs["labels"], (outputs["probabilities"] >= 0.5).long())


def test_listed_by_lit_nn_plugins_kind_tasks():
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIT_NN_")}
    result = subprocess.run([sys.executable, "-m", "lit_nn", "plugins", "--kind", "tasks"], capture_output=True,
                            text=True, env=environ)  # fmt: skip
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("MultilabelTask "))
    assert row.split()[1:4] == ["extras", "lit-nn-extras", "0.1.0"] and "num_labels" in row
    assert any(line.startswith("RegressionTask ") for line in result.stdout.splitlines())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short fit of the shipped config; its run folder and best checkpoint."""
    root = tmp_path_factory.mktemp("multilabel")
    main(["fit", "-c", CONFIG, *FAST, "--run.root", str(root)])
    (best,) = root.glob("multilabel/*/checkpoints/best-*.ckpt")
    return root, best


def test_fit_draws_the_tasks_plots_and_no_confusion_matrix(trained):
    root, _ = trained
    plots = {p.name for p in root.glob("multilabel/*/plots/*/*.png")}
    assert {"val-roc.png", "val-pr.png", "curves.png"} <= plots
    assert not any("confusion" in name for name in plots)


def test_test_predict_and_export_from_the_checkpoint_alone(trained, tmp_path, capsys):
    root, best = trained
    main(["test", "--ckpt_path", str(best), "--trainer.enable_progress_bar", "false"])
    said = capsys.readouterr().out
    assert "test/auroc" in said and "test/f1_macro" in said

    output = tmp_path / "predictions.csv"
    main(["predict", "--ckpt_path", str(best), "--output", str(output), "--trainer.enable_progress_bar", "false"])
    with output.open() as handle:
        rows = list(csv.DictReader(handle))
    labels = [f"label_{i}" for i in range(5)]
    assert list(rows[0]) == ["id", *(f"target_{i}" for i in range(5)), *labels, *(f"p_{i}" for i in range(5))]
    for row in rows:
        assert all(int(row[f"label_{i}"]) == (float(row[f"p_{i}"]) >= 0.5) for i in range(5))

    onnx = tmp_path / "model.onnx"
    main(["export", "--ckpt_path", str(best), "--output", str(onnx)])
    metadata = json.loads(Path(f"{onnx}.json").read_text())
    assert metadata["task"] == "multilabel" and metadata["threshold"] == 0.5
    assert [o["name"] for o in metadata["outputs"]] == ["labels", "probabilities"]
    assert all(o["description"] for o in metadata["outputs"])
    session = onnxruntime.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    flags, probabilities = session.run(None, {"features": np.zeros((3, 20), np.float32)})
    assert flags.shape == probabilities.shape == (3, 5) and np.array_equal(flags, probabilities >= 0.5)


def test_compare_runs_the_task_over_two_values(trained, tmp_path):
    root, _ = trained
    main(["compare", "-c", CONFIG, *FAST, "--model.lr", "0.01,0.1", "--run.root", str(tmp_path)])
    (folder,) = tmp_path.glob("multilabel/compare-*")
    assert (folder / "compare.png").stat().st_size > 0
    with (folder / "compare.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_served_answers_come_from_the_task(trained, tmp_path):
    _, best = trained
    port = _free_port()
    lit_nn = str(Path(sys.executable).with_name("lit-nn"))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIT_NN_")} | {"OMP_NUM_THREADS": "1"}
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        command = [lit_nn, "serve", "--ckpt_path", str(best), "--port", str(port)]
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=environ, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.25)
        body = json.dumps({"features": [0.0] * 20}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert set(answer) == {"labels", "probabilities", "label_names"} and len(answer["labels"]) == 5
        assert answer["label_names"] == [str(i) for i, on in enumerate(answer["labels"]) if on]
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, log.read_text()
