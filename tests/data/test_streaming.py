"""LitData chunks: ``lit-nn data optimize``, then the streaming datamodule batches as its source did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lit_nn.cli import main
from lit_nn.data.base import DataError
from lit_nn.data.streaming import StreamingDataModule
from lit_nn.registry import build_registry
from tests.helpers.cli import fit
from tests.helpers.data import chunk_folder
from tests.helpers.shapes import make_shapes_folder

REGISTRY = build_registry()
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def batches(loader, datamodule):
    """Every batch of a loader, as the datamodule hands it to the task."""
    return [datamodule.on_after_batch_transfer(batch, 0) for batch in loader]


def test_evaluation_batches_are_the_source_datamodules(tmp_path):
    """Arrays: the raw rows, standardised on the device with the source's statistics, in the source's order."""
    source = REGISTRY.create("datamodules", "digits", batch_size=50)
    source.setup()
    streamed = StreamingDataModule(str(chunk_folder(tmp_path / "chunks", "digits", batch_size=50)))
    assert streamed.input_shape == source.input_shape == (1, 8, 8)
    assert (streamed.num_classes, streamed.class_names, streamed.task) == (10, source.class_names, "multiclass")
    assert streamed.batch_size == 50
    for split in ("val", "test"):
        expected, got = batches(source.loader(split), source), batches(streamed.loader(split), streamed)
        assert len(expected) == len(got)
        for (x0, y0), (x1, y1) in zip(expected, got, strict=True):
            assert torch.equal(y0, y1) and y1.dtype == torch.int64
            torch.testing.assert_close(x1, x0)
    assert streamed.state_dict()["feature_mean"] == source.state_dict()["feature_mean"]


def test_image_batches_are_the_same_pixels(tmp_path):
    root = make_shapes_folder(tmp_path / "shapes", per_class=6, size=40, splits=("train", "val", "test"))
    args = {"root": str(root), "image_size": 32, "batch_size": 4, "num_workers": 0}
    source = REGISTRY.create("datamodules", "image_folder", **args)
    streamed = StreamingDataModule(str(chunk_folder(tmp_path / "chunks", "image_folder", **args)))
    assert (streamed.input_shape, streamed.num_classes, streamed.class_names) == ((3, 32, 32), 2, source.class_names)
    for split in ("val", "test"):
        for (x0, y0), (x1, y1) in zip(source.loader(split), streamed.loader(split), strict=True):
            assert x1.dtype == torch.uint8 and torch.equal(x0, x1) and torch.equal(y0, y1)
    assert streamed.predict_split() == source.predict_split() == "test"
    assert streamed.predict_ids == source.predict_ids and streamed.predict_ids[0].endswith(".jpg")  # the paths
    x, y = streamed.on_after_batch_transfer(next(iter(streamed.train_dataloader())), 0)
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32


def test_every_sample_once_an_epoch_in_one_process(tmp_path):
    streamed = StreamingDataModule(str(chunk_folder(tmp_path / "chunks", "breast_cancer", batch_size=32)))
    epochs = []
    loader = streamed.train_dataloader()
    for _ in range(2):
        epochs.append([tuple(row.tolist()) for x, _ in loader for row in x])
    count = streamed.counts["train"]
    assert [len(e) for e in epochs] == [count, count] and [len(set(e)) for e in epochs] == [count, count]
    assert epochs[0] != epochs[1] and sorted(epochs[0]) == sorted(epochs[1])  # reshuffled, the same samples


def test_a_loader_resumed_from_its_state_neither_repeats_nor_skips(tmp_path):
    path = str(chunk_folder(tmp_path / "chunks", "breast_cancer", batch_size=16))
    torch.manual_seed(7)
    first = StreamingDataModule(path).train_dataloader()
    iterator = iter(first)
    before = [tuple(row.tolist()) for _ in range(5) for row in next(iterator)[0]]
    state = first.state_dict()
    torch.manual_seed(7)  # a resumed run seeds as the interrupted one did
    second = StreamingDataModule(path).train_dataloader()
    second.load_state_dict(state)
    after = [tuple(row.tolist()) for x, _ in second for row in x]
    whole = before + after
    assert len(whole) == len(set(whole)) == StreamingDataModule(path).counts["train"]


def test_optimize_then_fit_matches_the_source_fit_on_digits(tmp_path, capsys):
    chunks = tmp_path / "chunks"
    args = ["-c", "configs/digits.yaml", "--trainer.max_epochs", "3", "--data.max_shift", "0"]
    main(["data", "optimize", *args, "--output", str(chunks)])
    assert "Wrote train 1257, val 180, test 360 samples" in capsys.readouterr().out
    manifest = json.loads((chunks / "manifest.json").read_text())
    assert manifest["source"]["class_path"] == "lit_nn.data.bundled.Digits" and len(manifest["hash"]) == 64
    results = {}
    for name, data in (("source", []), ("streaming", ["--data", "streaming", "--data.path", str(chunks)])):
        fit("configs/digits.yaml", tmp_path / "runs", *args[2:], *data, "--trainer.logger", "false", "--run.name", name)
        (ckpt,) = (tmp_path / "runs").glob(f"*/{name}/checkpoints/last.ckpt")
        saved = torch.load(ckpt, weights_only=True)
        main(["test", "--ckpt_path", str(ckpt), *QUIET[:2]])
        results[name] = (saved["global_step"], capsys.readouterr().out)
    assert results["source"][0] == results["streaming"][0] == 3 * 20  # 1257 samples in batches of 64, each epoch
    accuracy = {name: float(out.split("test/acc")[1].split()[1]) for name, (_, out) in results.items()}
    assert accuracy["source"] > 0.9 and abs(accuracy["source"] - accuracy["streaming"]) < 0.03, accuracy


def test_predict_and_export_from_a_streaming_checkpoint_then_refuse_other_chunks(tmp_path, capsys):
    chunks = chunk_folder(tmp_path / "chunks", "breast_cancer", batch_size=32)
    fit("configs/breast_cancer.yaml", tmp_path / "runs", "--data", "streaming", "--data.path", str(chunks),
        "--trainer.max_epochs", "2", "--trainer.logger", "false", "--run.name", "run")  # fmt: skip
    (ckpt,) = (tmp_path / "runs").glob("*/run/checkpoints/last.ckpt")
    main(["predict", "--ckpt_path", str(ckpt), "--output", str(tmp_path / "predictions.csv")])
    rows = (tmp_path / "predictions.csv").read_text().splitlines()
    tested = json.loads((chunks / "manifest.json").read_text())["splits"]["test"]["samples"]
    assert rows[0].startswith("id,target,label") and len(rows) == 1 + tested
    source = REGISTRY.create("datamodules", "breast_cancer", batch_size=32)
    source.setup()
    source.predict_split()
    assert [row.split(",")[0] for row in rows[1:]] == [str(i) for i in source.predict_ids]  # the source's rows
    main(["export", "--ckpt_path", str(ckpt)])
    out = capsys.readouterr().out
    assert "labels agree on 100.00 %" in out
    (metadata,) = (tmp_path / "runs").glob("*/run/exports/*.onnx.json")
    assert "feature_mean" in metadata.read_text()

    other = chunk_folder(tmp_path / "other", "breast_cancer", batch_size=32, seed=1)  # another split: other content
    with pytest.raises(SystemExit):
        main(["test", "--ckpt_path", str(ckpt), "--data.path", str(other)])
    line = capsys.readouterr().err.strip()
    assert "holds the chunks of another dataset" in line and "\n" not in line

    moved = tmp_path / "moved"
    chunks.rename(moved)  # the training chunks are gone: the checkpoint alone exports
    main(["export", "--ckpt_path", str(ckpt), "--format", "torchscript"])
    assert "Exported" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["missing", "no manifest", "truncated", "not json"])
def test_bad_chunk_folders_are_refused_in_one_line(damage, tmp_path, capsys):
    chunks = chunk_folder(tmp_path / "chunks", "breast_cancer", batch_size=32)
    if damage == "missing":
        path = tmp_path / "nowhere"
    elif damage == "no manifest":
        path = chunks / "train"  # a LitData folder of someone else's: no manifest
    elif damage == "truncated":
        path = chunks
        (chunk,) = (chunks / "train").glob("*.bin")
        chunk.write_bytes(chunk.read_bytes()[:-100])
    else:
        path = chunks
        (chunks / "manifest.json").write_text("{")
    with pytest.raises(SystemExit):
        main(["fit", "-c", "configs/breast_cancer.yaml", "--data", "streaming", "--data.path", str(path), *QUIET,
              "--run.root", str(tmp_path / "runs")])  # fmt: skip
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "Traceback" not in line
    expected = {"missing": "does not exist", "no manifest": "not a chunk folder", "truncated": "truncated",
                "not json": "is not JSON"}[damage]  # fmt: skip
    assert expected in line


def test_optimize_refuses_a_folder_that_is_not_empty_and_a_datamodule_without_samples(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(SystemExit):
        main(["data", "optimize", "-c", "configs/breast_cancer.yaml", "--output", str(tmp_path / "full")])
    assert "is not empty" in capsys.readouterr().err
    with pytest.raises(DataError, match="not training data"):
        from lit_nn.data.chunks import write_chunks

        datamodule = REGISTRY.create("datamodules", "breast_cancer")
        datamodule.labelled = False
        write_chunks(datamodule, str(tmp_path / "new"), {}, ["num_classes"])


def test_streaming_checkpoint_without_chunks_reads_its_manifest_from_the_state(tmp_path):
    chunks = chunk_folder(tmp_path / "chunks", "diabetes", batch_size=32)
    streamed = StreamingDataModule(str(chunks))
    state = streamed.state_dict()
    assert state["task"] == "regression" and state["streaming"]["hash"] == streamed.manifest["hash"]
    assert streamed.target_stats is not None and streamed.num_targets == 1
    from lit_nn.data.fitted import applying

    gone = Path(str(chunks) + "-gone")
    chunks.rename(gone)
    with applying(state):
        rebuilt = StreamingDataModule(str(chunks))
    assert rebuilt.absent and rebuilt.input_shape == (10,) and rebuilt.feature_stats is not None
    with pytest.raises(DataError, match="is gone"):
        rebuilt.train_dataloader()
    assert np.allclose(rebuilt.feature_stats[0].numpy(), streamed.feature_stats[0].numpy())


def test_two_gloo_ranks_see_every_sample_at_most_once_an_epoch(tmp_path):
    """Real DDP processes: LitData shards the shuffled chunks, each rank its own samples, equal step counts.

    Under DDP LitData leaves out the remainder (fewer than ranks x batch_size samples, other ones each
    epoch) so that every rank steps as often; evaluation reads every sample.
    """
    from tests.helpers.cli import run

    chunks = chunk_folder(tmp_path / "chunks", "breast_cancer", batch_size=32)
    seen = tmp_path / "seen"
    fitted = run(["fit", "-c", "configs/breast_cancer.yaml", "--data", "streaming", "--data.path", str(chunks),
                  "--trainer.strategy", "ddp", "--trainer.accelerator", "cpu", "--trainer.devices", "2",
                  "--trainer.max_epochs", "2", "--trainer.callbacks+=tests.helpers.seen.SeenSamples",
                  f"--trainer.callbacks.folder={seen}", *QUIET, "--run.root", str(tmp_path / "runs")],
                 cwd=Path(__file__).parents[2], PYTHONPATH=str(Path(__file__).parents[2]))  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr[-3000:]
    count = StreamingDataModule(str(chunks)).counts["train"]
    reference = chunk_keys(chunks)
    assert len(reference) == count
    for epoch in (0, 1):
        ranks = [json.loads((seen / f"rank{rank}-epoch{epoch}.json").read_text()) for rank in (0, 1)]
        everything = ranks[0] + ranks[1]
        assert len(ranks[0]) == len(ranks[1]) > 0  # every rank steps as often
        assert len(set(everything)) == len(everything)  # no sample twice in an epoch, on one rank or across them
        assert set(everything) <= reference and count - len(everything) < 2 * 32


def chunk_keys(chunks: Path) -> set[str]:
    """The keys :class:`~tests.helpers.seen.SeenSamples` gives the training chunks' samples."""
    import hashlib

    datamodule = StreamingDataModule(str(chunks))
    return {hashlib.sha256(row.numpy().tobytes()).hexdigest()[:16] for batch in datamodule.loader("train")
            for row in datamodule.on_after_batch_transfer(batch, 0)[0]}  # fmt: skip


def test_an_epoch_killed_and_resumed_sees_every_sample_once(tmp_path):
    """A real ``lit-nn fit --data streaming`` stopped by SIGTERM mid-epoch, then ``--ckpt_path last``.

    SIGTERM saves ``last.ckpt`` where the run stopped (:class:`~lit_nn.callbacks.interrupt.SaveOnInterrupt`),
    with the LitData loader's place in the epoch; the resumed fit trains on the rest of that epoch only.
    """
    import signal
    import time

    from lit_nn.callbacks.interrupt import INTERRUPTED_KEY
    from lit_nn.checkpoints import load_checkpoint
    from tests.helpers.cli import run, start

    chunks = chunk_folder(tmp_path / "chunks", "breast_cancer", batch_size=32)
    seen, root = tmp_path / "seen", tmp_path / "runs"
    args = ["fit", "-c", "configs/breast_cancer.yaml", "--data", "streaming", "--data.path", str(chunks),
            "--data.batch_size", "1", "--trainer.max_epochs", "2", "--trainer.callbacks", "[]",
            "--trainer.callbacks+=tests.helpers.seen.SeenSamples", f"--trainer.callbacks.folder={seen}", *QUIET,
            "--run.root", str(root), "--run.name", "run"]  # fmt: skip
    cwd = Path(__file__).parents[2]
    process = start(args, tmp_path / "fit.log", cwd=cwd, PYTHONPATH=str(cwd))  # the callback is in tests/
    deadline = time.monotonic() + 120
    while not (seen / "rank0-epoch0.json").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)  # the first epoch is over: stop the second one part-way
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM, (tmp_path / "fit.log").read_text()[-3000:]
    (last,) = root.glob("*/run/checkpoints/last.ckpt")
    stop = load_checkpoint(last)[INTERRUPTED_KEY]
    assert stop["epoch"] == 1 and 0 < stop["batches_done"] < stop["batches_per_epoch"]

    resumed = run([*args, "--ckpt_path", "last"], cwd=cwd, PYTHONPATH=str(cwd))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    before = json.loads((seen / "rank0-epoch1-part.json").read_text())
    after = json.loads((seen / "rank0-epoch1.json").read_text())
    assert len(before) == stop["batches_done"] and after  # the epoch was cut, then carried on
    reference = chunk_keys(chunks)
    assert sorted(before + after) == sorted(reference)  # every training sample exactly once over the epoch
    assert sorted(json.loads((seen / "rank0-epoch0.json").read_text())) == sorted(reference)


def test_an_image_folder_fits_from_chunks_as_from_the_folder_and_serves(tmp_path, capsys, monkeypatch):
    """End to end on generated images: the same samples each epoch, accuracy within noise, ``serve`` builds it."""
    import base64
    import io
    import os

    from tests.deploy.conftest import QUICK
    from tests.deploy.test_serve import _free_port
    from tests.helpers.shapes import draw_shape

    root = make_shapes_folder(tmp_path / "shapes", per_class=12, size=40, splits=("train", "val", "test"))
    data = {"root": str(root), "image_size": 32, "batch_size": 4, "num_workers": 0, "augment": False}
    chunks = chunk_folder(tmp_path / "chunks", "image_folder", **data)
    model = ["--model", "BinaryClassificationTask", "--model.backbone", "cnn", "--model.backbone_kwargs",
             "{channels: [8, 16]}", "--trainer.max_epochs", "3", "--seed_everything", "0", *QUICK]  # fmt: skip
    sources = {"folder": ["--data", "image_folder", *[f"--data.{k}={v}" for k, v in data.items()]],
               "chunks": ["--data", "streaming", "--data.path", str(chunks)]}  # fmt: skip
    seen, accuracy, checkpoints = {}, {}, {}
    for name, source in sources.items():
        folder = tmp_path / "seen" / name
        main(["fit", *model, *source, *QUIET, "--run.root", str(tmp_path / "runs"), "--run.name", name,
              "--trainer.callbacks+=tests.helpers.seen.SeenSamples",
              f"--trainer.callbacks.folder={folder}"])  # fmt: skip
        seen[name] = [sorted(json.loads((folder / f"rank0-epoch{e}.json").read_text())) for e in range(3)]
        (checkpoints[name],) = (tmp_path / "runs").glob(f"*/{name}/checkpoints/last.ckpt")
        capsys.readouterr()
        main(["test", "--ckpt_path", str(checkpoints[name]), *QUIET[:2]])
        accuracy[name] = float(capsys.readouterr().out.split("test/acc")[1].split()[1])
    assert seen["folder"] == seen["chunks"] and len(seen["chunks"][0]) == 24  # the same pixels, every epoch
    assert abs(accuracy["folder"] - accuracy["chunks"]) <= 0.25 and accuracy["chunks"] >= 0.5, accuracy  # 24 tested

    served = []

    class NotStarted:
        def run(self, **kwargs):
            """Return at once, as a server stopped by Ctrl+C would (the HTTP server is test_serve.py's)."""

    monkeypatch.setattr("lit_nn.deploy.server.build_server", lambda apis, options, accelerator="auto":
                        served.extend(apis) or NotStarted())  # fmt: skip
    monkeypatch.setattr(os, "register_at_fork", lambda **kwargs: None)
    for name in ("folder", "chunks"):
        main(["serve", "--ckpt_path", str(checkpoints[name]), "--port", str(_free_port())])
    folder_api, chunks_api = served
    assert chunks_api.metadata["input"] == folder_api.metadata["input"]
    assert chunks_api.metadata["class_names"] == ["circle", "square"]
    pngs = []
    for shape in ("circle", "square"):
        buffer = io.BytesIO()
        draw_shape(shape, 48, np.random.default_rng(1)).save(buffer, format="PNG")
        pngs.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    chunks_api.device = "cpu"  # LitServe's worker would set it in setup()
    answer = chunks_api.predict(chunks_api.decoder(40_000_000)({"images": pngs}))
    assert [p["label"] for p in answer["predictions"]] and len(answer["predictions"]) == 2
