"""Bad input through the real CLI, in a subprocess: one clear line, exit status 2, no traceback,
and nothing lost (an earlier run's files are byte for byte what they were)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT
from tests.helpers.cli import fit, run
from tests.helpers.data import write_csv
from tests.helpers.files import snapshot
from tests.helpers.shapes import make_shapes_folder

DIGITS = ["fit", "-c", str(ROOT / "configs/digits.yaml"), "--trainer.max_epochs", "1"]
DOGS = str(ROOT / "configs/dogs_vs_cats.yaml")
CSV_FIT = ["fit", "--model", "RegressionTask", "--data", "csv", "--data.target", "y", "--data.task", "regression"]
BAD_LABELS = '''
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset


class BadLabels(LightningDataModule):
    """Three classes, but the second batch holds a label 7."""

    def __init__(self):
        super().__init__()
        self.input_shape, self.num_classes = [4], 3

    def train_dataloader(self):
        labels = torch.tensor([0, 1, 2, 0, 1, 2, 7, 0])
        return DataLoader(TensorDataset(torch.randn(8, 4), labels), batch_size=4)

    val_dataloader = train_dataloader
'''


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory) -> Path:
    """A run root holding one finished run, which no bad command may touch."""
    root = tmp_path_factory.mktemp("earlier") / "runs"
    with pytest.MonkeyPatch.context() as env:  # set before the function-scoped clean environment applies
        env.setenv("WANDB_MODE", "disabled")
        fit("configs/digits.yaml", root, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
            "--trainer.limit_val_batches", "1")  # fmt: skip
    return root


BROKEN_DATAMODULE = '''
from lightning.pytorch import LightningDataModule


class Broken(LightningDataModule):
    """Its constructor fails with a KeyError, as a buggy plugin's might."""

    def __init__(self, table: dict | None = None):
        super().__init__()
        self.x = (table or {})["default"]
'''


def _write_checkpoints(tmp: Path, earlier_run: Path) -> None:
    """Checkpoints derived from the earlier run's: without a weight, and with the weights only."""
    (best,) = earlier_run.glob("digits/*/checkpoints/best-*.ckpt")
    checkpoint = torch.load(best, weights_only=True)
    lacking = {**checkpoint, "state_dict": dict(list(checkpoint["state_dict"].items())[1:])}
    torch.save(lacking, tmp / "lacking.ckpt")
    weights = {k: v for k, v in checkpoint.items() if k not in ("optimizer_states", "lr_schedulers", "loops")}
    torch.save(weights, tmp / "weights_only.ckpt")


def _write_inputs(tmp: Path) -> None:
    (tmp / "broken.yaml").write_text("model: [unclosed\n")
    write_csv(tmp / "missing.csv", [[i, (i * 7) % 5 if i != 9 else "", i * 0.5] for i in range(30)], ["a", "b", "y"])
    write_csv(tmp / "text.csv", [[i, i % 3, "x" if i == 4 else i * 0.5] for i in range(30)], ["a", "b", "y"])
    (tmp / "empty" / "cat").mkdir(parents=True)
    make_shapes_folder(tmp / "empty_class" / "full", per_class=2, size=16, splits=())
    (tmp / "empty_class" / "circle").mkdir()
    images = make_shapes_folder(tmp / "corrupt", per_class=6, size=16, splits=())
    bad = images / "circle" / "00003.jpg"
    bad.write_bytes(bad.read_bytes()[:60])
    (tmp / "badlabels.py").write_text(BAD_LABELS)
    (tmp / "a_file").write_text("not a folder\n")
    (tmp / "brokendm.py").write_text(BROKEN_DATAMODULE)
    (tmp / "trainer_number.yaml").write_text("trainer: 5\n")
    # what yaml.safe_dump({"data": {"init_args": {"batch_size": "x" * 5_000_000}}}) writes, without its 5 s
    (tmp / "huge.yaml").write_text("data:\n  init_args:\n    batch_size: " + "x" * 5_000_000 + "\n")
    (tmp / "a_folder").mkdir()
    write_csv(tmp / "real.csv", [[i, i % 3, i * 0.37] for i in range(30)], ["a", "b", "y"])
    make_shapes_folder(tmp / "trainval", per_class=2, size=16)  # train/ and val/, no test/
    (tmp / "typos.yaml").write_text("model:\n  init_args:\n    learning_rate: 0.1\n    dropuot: 0.2\n"
                                    "trainer:\n  max_epocs: 3\n")  # fmt: skip


CASES = {
    "malformed YAML": (["fit", "-c", "broken.yaml"], r"broken\.yaml is not valid YAML at line 2"),
    "negative batch size": ([*DIGITS, "--data.batch_size", "-4"], r"data: batch_size must be positive, got -4"),
    "zero learning rate": ([*DIGITS, "--model.lr", "0"], r"lr must be positive, got 0\.0"),
    "negative epochs": ([*DIGITS, "--trainer.max_epochs", "-5"], r"`max_epochs` must be a non-negative integer or -1"),
    "zero epochs": ([*DIGITS, "--trainer.max_epochs", "0"], r"trainer\.max_epochs is 0, so fit would train nothing"),
    "missing data path": (["fit", "-c", DOGS, "--data.root", "nowhere"], r"image folder 'nowhere' does not exist"),  # noqa: E501
    "empty class folder": (
        ["fit", "-c", DOGS, "--data.root", "empty_class"],
        r"class folder '/\S+/empty_class/circle' holds no images",  # made absolute, as the run records it
    ),  # noqa: E501
    "corrupt image": (
        [
            "fit",
            "--model",
            "BinaryClassificationTask",
            "--data",
            "image_folder",
            "--data.root",
            "corrupt",
            "--data.image_size",
            "16",
            "--data.batch_size",
            "4",
            "--data.num_workers",
            "2",
            "--trainer.max_epochs",
            "1",
        ],
        r"cannot read image '/\S+/corrupt/circle/00003\.jpg'.*Truncated.*delete or replace the file",
    ),  # noqa: E501
    "CSV missing value": (
        [*CSV_FIT, "--data.path", "missing.csv"],
        r"column 'b' has a missing value at data row 10 \(line 11\)",
    ),  # noqa: E501
    "CSV text target": (
        [*CSV_FIT, "--data.path", "text.csv"],
        r"target column 'y' holds 'x' at data row 5 \(line 6\), not a number",
    ),  # noqa: E501
    "labels outside num_classes": (
        [
            "fit",
            "--model",
            "MulticlassClassificationTask",
            "--data",
            "badlabels.BadLabels",
            "--trainer.max_epochs",
            "1",
        ],
        r"label 7 is outside 0…2: the model has 3 classes",
    ),  # noqa: E501
    "checkpoint without a weight the model has": (
        ["test", "-c", str(ROOT / "configs/digits.yaml"), "--ckpt_path", "lacking.ckpt"],
        r"checkpoint lacking\.ckpt does not hold this model's weights \(missing backbone\.\S+\): it holds "
        r"MulticlassClassificationTask",
    ),
    "resuming from weights only": (
        [*DIGITS, "--ckpt_path", "weights_only.ckpt"],
        r"weights_only\.ckpt holds the model's weights only .* test or predict with it",
    ),
    "a binary task on a real-valued target": (
        [
            "fit",
            "--model",
            "BinaryClassificationTask",
            "--data",
            "csv",
            "--data.path",
            "real.csv",
            "--data.target",
            "y",
            "--trainer.max_epochs",
            "1",
        ],  # fmt: skip
        r"BinaryClassificationTask is a classifier, but the datamodule holds regression targets .* set --data\.task "
        r"multiclass \(or binary\), otherwise choose RegressionTask",
    ),
    "testing on images without a test folder": (
        [
            "test",
            "--model",
            "BinaryClassificationTask",
            "--data",
            "image_folder",
            "--data.root",
            "trainval",
            "--data.image_size",
            "16",
            "--data.num_workers",
            "0",
            "--untrained",
            "true",
        ],  # fmt: skip
        r"trainval has no test/ folder, so there is no test split: add \S+trainval/test/<class>/ with images the "
        r"model has not seen, one folder per class of train/ \(circle, square\)",
    ),
    "three unknown keys in one file": (
        [*DIGITS, "-c", "typos.yaml"],
        r"typos\.yaml has 3 unknown keys: model\.init_args\.learning_rate \(did you mean 'lr'\?\), "
        r"model\.init_args\.dropuot \(did you mean 'dropout'\?\), trainer\.max_epocs \(did you mean 'max_epochs'",
    ),
    "another library's name for a setting": (
        [*DIGITS, "--model.learning_rate", "0.1"],
        r"has no argument 'learning_rate'\. Did you mean 'lr'\?",
    ),
    "a CSV without its target": (
        ["fit", "--model", "RegressionTask", "--data", "csv", "--data.path", "real.csv", "--trainer.max_epochs", "1"],
        r"data: target is required: give --data\.target VALUE",
    ),
    "no training batches": ([*DIGITS, "--trainer.limit_train_batches", "0"], r"limit_train_batches is 0"),
    "a number where a section belongs": (
        [*DIGITS, "-c", "trainer_number.yaml"],
        r"trainer: expected its settings as a mapping .*, got 5",
    ),
    "predictions into a folder": (
        ["predict", "-c", str(ROOT / "configs/digits.yaml"), "--ckpt_path", "best", "--output", "a_folder"],
        r"--output a_folder is a folder; give a file name",
    ),
    "predictions over a checkpoint": (
        ["predict", "-c", str(ROOT / "configs/digits.yaml"), "--ckpt_path", "best", "--output", "{last}"],
        r"--output \S+last\.ckpt exists and lit_nn does not write over files; .* --overwrite true",
    ),
    "a datamodule that raises while it is built": (
        ["fit", "--model", "BinaryClassificationTask", "--data", "brokendm.Broken", "--trainer.max_epochs", "1"],
        r"data: brokendm\.Broken raised KeyError: 'default' while it was built",
    ),
    "a five megabyte value": ([*DIGITS, "-c", "huge.yaml"], r"characters left out"),
    "a conformal level outside (0, 1)": (
        [*DIGITS, "--conformal", "1.5"],
        r"--conformal 1\.5: the level is the share of answers allowed to miss the truth, strictly between 0 and 1",
    ),
    "too few validation samples for the conformal level": (
        [*DIGITS, "--conformal", "0.001"],
        r"--conformal 0\.001 needs at least 999 validation samples for a finite 99\.9 % quantile, and there are 180",
    ),
    "a temperature for a regressor": (
        ["fit", "-c", str(ROOT / "configs/diabetes.yaml"), "--trainer.max_epochs", "1", "--calibrate", "temperature"],
        r"--calibrate temperature rescales a classifier's probabilities, and RegressionTask answers regression "
        r"values, not probabilities: leave it out; --conformal 0\.1 gives it 90 % intervals",
    ),
    "run folder cannot be written": (
        [*DIGITS, "--run.root", "a_file/runs"],
        r"cannot create a run folder under a_file/runs/digits: Not a directory",
    ),  # noqa: E501
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_loses_nothing(case, earlier_run, tmp_path):
    args, message = CASES[case]
    _write_inputs(tmp_path)
    _write_checkpoints(tmp_path, earlier_run)
    (last,) = earlier_run.glob("digits/*/checkpoints/last.ckpt")
    args = [arg.replace("{last}", str(last)) for arg in args]
    before, folders = snapshot(earlier_run), sorted(earlier_run.rglob("*"))
    if "--run.root" not in args:
        args = [*args, "--run.root", str(earlier_run)]
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))  # the code under test too
    result = run(args, cwd=tmp_path, PYTHONPATH=path)
    errors = [line for line in result.stderr.splitlines() if line.startswith("lit-nn: error:")]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(errors) == 1, result.stderr[-3000:]
    assert errors[0] == result.stderr.rstrip().splitlines()[-1]  # the last word, not buried in a log
    assert re.search(message, errors[0]), errors[0]
    assert len(errors[0]) < 1000, errors[0][:2000]  # readable: a huge value is cut, not repeated
    assert "Traceback" not in result.stderr + result.stdout
    assert snapshot(earlier_run) == before and sorted(earlier_run.rglob("*")) == folders  # no trace left


def test_a_bad_thread_count_is_one_line_before_anything_is_written(tmp_path):
    result = run([*DIGITS, "--run.root", str(tmp_path / "runs")], cwd=tmp_path, LIT_NN_THREADS="two")
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.rstrip().splitlines()[-1] == (
        "lit-nn: error: LIT_NN_THREADS='two' is not a thread count; set it to a whole number, 1 or more"
    )
    assert not list(tmp_path.glob("runs/*/*/checkpoints"))


def test_a_full_disk_is_one_line_and_spares_earlier_checkpoints(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up here: {mounted.stderr.decode().strip()}")
    try:
        root = disk / "runs"
        fit("configs/digits.yaml", root, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
            "--model.backbone_kwargs", "{channels: [4, 8]}")  # fmt: skip
        before = snapshot(root)
        second = run([*DIGITS, "--trainer.limit_train_batches", "2", "--run.root", str(root)], cwd=tmp_path)
        assert second.returncode == 2, second.stderr[-3000:]
        assert "Traceback" not in second.stderr
        last = second.stderr.rstrip().splitlines()[-1]
        assert last.startswith("lit-nn: error: cannot write"), second.stderr[-3000:]
        assert "the disk is full (No space left on device)" in last
        assert {k: v for k, v in snapshot(root).items() if k in before} == before
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_while_wandb_writes_offline_is_one_line(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up here: {mounted.stderr.decode().strip()}")
    try:
        (disk / "filler").write_bytes(b"\0" * (1000 * 1024))  # room for W&B's first files, not for its run
        args = [*DIGITS, "--trainer.log_every_n_steps", "1", "--model.backbone_kwargs", "{channels: [4, 8]}",
                "--plots.enabled", "false", "--checkpoint.save_top_k", "0", "--checkpoint.save_last", "false",
                "--run.root", str(disk / "runs")]  # fmt: skip
        result = run(args, cwd=tmp_path, WANDB_MODE="offline", WANDB_DIR=str(disk))
        assert result.returncode == 2, result.stderr[-3000:]
        errors = [line for line in result.stderr.splitlines() if line.startswith("lit-nn: error:")]
        assert len(errors) == 1 and errors[0] == result.stderr.rstrip().splitlines()[-1], result.stderr[-3000:]
        assert "the disk is full (No space left on device)" in errors[0]
        assert "Traceback" not in result.stderr and "Logging error" not in result.stderr
    finally:
        subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA device")
@pytest.mark.parametrize("accelerator", ["gpu", "cuda"])
def test_an_accelerator_that_is_not_here_is_said_in_lit_nns_words(accelerator, tmp_path):
    result = run([*DIGITS, "--trainer.accelerator", accelerator, "--run.root", str(tmp_path / "runs")], cwd=tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith("lit-nn: error:")]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-3000:]
    missing = {"gpu": "no GPU", "cuda": "no CUDA device"}[accelerator]
    assert f"{missing} is available here (trainer.accelerator: {accelerator}). Train on the CPU with " in errors[0]
    assert "--trainer.accelerator cpu" in errors[0]
    assert not (tmp_path / "runs").exists()
