"""lit-nn export: every task's model in every format, checked against PyTorch, loadable by a consumer."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from lit_nn.cli import main
from lit_nn.data.bundled import Digits

FORMATS = {"onnx": ".onnx", "torchscript": ".ts", "exported": ".pt2"}
CASES = ("multiclass", "binary", "regression", "csv", "image")


def _export(trained, case: str, fmt: str, capsys, *extra: str) -> tuple[Path, dict, str]:
    root, args = trained(case)
    main(["export", *args, "--run.root", str(root), "--ckpt_path", "best", "--format", fmt, *extra])
    out = capsys.readouterr().out
    path = Path(next(line for line in out.splitlines() if line.startswith("Exported ")).split(" ", 1)[1])
    return path, json.loads(path.with_name(path.name + ".json").read_text()), out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_every_task_exports_in_every_format_and_matches_pytorch(trained, case, fmt, capsys):
    path, metadata, out = _export(trained, case, fmt, capsys)
    assert path.suffix == FORMATS[fmt] and path.parent.name == "exports" and path.is_file()
    check = metadata["check"]
    assert check["samples"] > 0 and check["max_scaled_diff"] <= check["tolerance"] == 1e-4
    assert f"on {check['samples']} test samples" in out
    kind = {"multiclass": "multiclass", "binary": "binary", "image": "binary"}.get(case, "regression")
    assert metadata["task"] == kind and metadata["format"] == fmt and metadata["file"] == path.name
    outputs = [o["name"] for o in metadata["outputs"]]
    expected = {  # the calibrated cases (tests/deploy/conftest.py) answer conformal sets or intervals too
        "multiclass": ["label", "probabilities", "prediction_set"],
        "binary": ["label", "probability", "prediction_set"],
        "regression": ["prediction", "lower", "upper"],
        "csv": ["prediction"],
        "image": ["label", "probability"],
    }[case]
    assert outputs == expected
    if kind != "regression":  # every sample's label and prediction set are exactly PyTorch's
        assert check["label_agreement"] == 1.0 and metadata["class_names"]
    if case in ("multiclass", "binary", "regression"):
        assert metadata["calibration"]["coverage"] == 0.9 and metadata["calibration"]["level"] == 0.1
    if case == "image":
        assert metadata["input"]["dtype"] == "uint8" and metadata["input"]["shape"] == [None, 32, 32, 3]
    if case == "csv":
        assert metadata["input"]["feature_names"] == ["area", "rooms", "town=east", "town=north", "town=south"]


def test_onnx_file_carries_its_metadata_and_takes_any_batch(trained, capsys):
    path, metadata, _ = _export(trained, "binary", "onnx", capsys)
    model = onnx.load(str(path))
    recorded = json.loads({p.key: p.value for p in model.metadata_props}["lit_nn"])
    assert recorded["class_names"] == metadata["class_names"] == ["malignant", "benign"]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "features"
    for count in (1, 7, 300):
        label, probability, sets = session.run(None, {"features": np.zeros((count, 30), np.float32)})
        assert label.shape == probability.shape == (count,) and sets.shape == (count, 2) and sets.dtype == bool


def test_a_consumer_with_onnxruntime_gets_what_lit_nn_predict_writes(trained, capsys, tmp_path):
    """Raw digits rows through onnxruntime alone give the labels, probabilities and 90 % sets of `lit-nn predict`."""
    path, _, _ = _export(trained, "multiclass", "onnx", capsys)
    root, args = trained("multiclass")
    predictions = tmp_path / "predictions.csv"
    main(["predict", *args, "--run.root", str(root), "--ckpt_path", "best", "--output", str(predictions)])
    rows = np.genfromtxt(predictions, delimiter=",", names=True, dtype=None, encoding="utf-8")
    data = Digits()
    raw = data.features[data.split().test]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, probabilities, sets = session.run(None, {"features": raw})
    assert len(rows) == len(raw) == 360
    np.testing.assert_array_equal(label, rows["label"])
    written = np.stack([rows[f"p_{c}"] for c in range(10)], axis=1)
    np.testing.assert_allclose(probabilities, written, atol=1e-5)
    with predictions.open() as handle:  # the 90 % conformal sets, as names joined by |
        written_sets = [row["prediction_set"] for row in csv.DictReader(handle)]
    assert written_sets == ["|".join(str(c) for c in np.flatnonzero(members)) for members in sets]
    assert 0 < sets.sum() and (sets.sum(axis=1) == rows["set_size"]).all()


def test_an_export_outside_the_tolerance_fails_in_one_line_and_writes_nothing(trained, capsys):
    root, args = trained("regression")
    with pytest.raises(SystemExit) as exit_info:
        main(["export", *args, "--run.root", str(root), "--ckpt_path", "best", "--format", "onnx",
              "--output", str(root / "tight.onnx"), "--tolerance", "1e-12"])  # fmt: skip
    err = capsys.readouterr().err
    assert exit_info.value.code != 0 and "Traceback" not in err
    assert "differ from PyTorch's by up to" in err and "above --tolerance 1e-12; nothing was written" in err
    assert not list(root.glob("*tight*")) and not list(root.glob(".*partial*"))


def test_export_refuses_bad_options_in_one_line(trained, capsys):
    root, args = trained("binary")
    base = ["export", *args, "--run.root", str(root)]
    (root / "taken.onnx").write_text("keep me")
    cases = {
        "needs a trained model": [],
        "--output x.pt2: a onnx export is a .onnx file": ["--ckpt_path", "best", "--output", "x.pt2"],
        "exists; give another file, or --overwrite true": ["--ckpt_path", "best", "--output", str(root / "taken.onnx")],
        "--tolerance must be above 0": ["--ckpt_path", "best", "--tolerance", "0"],
        "format": ["--ckpt_path", "best", "--format", "tflite"],
    }
    for said, extra in cases.items():
        with pytest.raises(SystemExit) as exit_info:
            main([*base, *extra])
        err = capsys.readouterr().err
        assert exit_info.value.code != 0 and said in err and "Traceback" not in err, (extra, err)
    assert (root / "taken.onnx").read_text() == "keep me"


def test_exported_program_runs_without_lit_nn_classes(trained, capsys, tmp_path):
    """A .pt2 loads in a fresh interpreter that never imports lit_nn."""
    path, _, _ = _export(trained, "image", "exported", capsys)
    import subprocess
    import sys

    code = (
        "import sys, torch; m = torch.export.load(sys.argv[1]).module(); "
        "label, p = m(torch.full((5, 32, 32, 3), 128, dtype=torch.uint8)); "
        "assert 'lit_nn' not in sys.modules; print(label.shape[0], p.dtype)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["5", "torch.float32"]
    assert torch.__version__  # the same torch wrote and read it


def test_the_loading_examples_in_docs_deploy_run_as_written(trained, capsys, tmp_path):
    import base64
    import re

    from PIL import Image

    from lit_nn.deploy.requests import RequestDecoder
    from lit_nn.deploy.serving import torch_crop
    from tests.conftest import ROOT

    tabular, image, program = re.findall(r"```python\n(.*?)```", (ROOT / "docs/deploy.md").read_text(), flags=re.S)
    digits, _, _ = _export(trained, "multiclass", "onnx", capsys)
    exec(compile(tabular, "docs/deploy.md", "exec"), {"path": str(digits)})
    printed = capsys.readouterr().out
    assert re.fullmatch(r"\['\d', '\d', '\d', '\d', '\d'\] \[[0-9. ]+\]\n", printed), printed

    shapes, metadata, _ = _export(trained, "image", "onnx", capsys)
    picture = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (45, 60, 3), dtype=np.uint8)).save(picture)
    size, resize = metadata["input"]["image_size"], metadata["input"]["resize"]
    namespace = {"path": str(shapes), "image_file": str(picture), "resize": resize, "size": size}
    exec(compile(image, "docs/deploy.md", "exec"), namespace)
    decoder = RequestDecoder(metadata, crop=torch_crop(size, resize))  # the PyTorch server's: training's crop
    served = decoder({"image": base64.b64encode(picture.read_bytes()).decode()})
    np.testing.assert_array_equal(namespace["pixels"](str(picture), resize, size), served.inputs[0])
    session = onnxruntime.InferenceSession(str(shapes), providers=["CPUExecutionProvider"])
    label, probability = session.run(None, {"features": served.inputs})
    assert namespace["label"].tolist() == label.tolist() and namespace["probability"] == pytest.approx(probability)

    pt2, _, _ = _export(trained, "multiclass", "exported", capsys)
    namespace = {"path": str(pt2)}
    exec(compile(program, "docs/deploy.md", "exec"), namespace)
    assert namespace["label"].shape == (3,) and namespace["probabilities"].shape == (3, 10)


def _best_checkpoint(root: Path) -> Path:
    (best,) = root.glob("*/*/checkpoints/best-*.ckpt")
    return best


@pytest.mark.parametrize(
    ("case", "value", "said"),
    [("binary", float("nan"), "holds NaN or infinite values"),  # NaN weights
     ("regression", 3e38, "PyTorch's outputs are NaN or infinite")],  # finite weights, outputs overflow to inf
)  # fmt: skip
def test_an_export_of_non_finite_numbers_is_refused_in_one_line(trained, capsys, tmp_path, case, value, said):
    root, args = trained(case)
    checkpoint = torch.load(_best_checkpoint(root), weights_only=True)
    name = next(n for n, t in checkpoint["state_dict"].items() if n.endswith("weight") and t.is_floating_point())
    checkpoint["state_dict"][name].fill_(value)
    broken = tmp_path / "broken.ckpt"
    torch.save(checkpoint, broken)
    output = tmp_path / "out" / "model.onnx"
    with pytest.raises(SystemExit) as exit_info:
        main(["export", *args, "--run.root", str(root), "--ckpt_path", str(broken), "--output", str(output)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and said in err and "nothing was written" in err and "Traceback" not in err, err
    assert list(output.parent.iterdir()) == []  # no file, no metadata, no hidden partial folder


def test_the_metadata_file_beside_output_is_not_replaced_without_overwrite(trained, capsys, tmp_path):
    root, args = trained("binary")
    output = tmp_path / "model.onnx"
    metadata = tmp_path / "model.onnx.json"
    metadata.write_text("keep me")
    base = ["export", *args, "--run.root", str(root), "--ckpt_path", "best", "--output", str(output)]
    with pytest.raises(SystemExit) as exit_info:
        main(base)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"{metadata} exists" in err and "--overwrite true" in err, err
    assert metadata.read_text() == "keep me" and not output.exists()
    main([*base, "--overwrite", "true"])
    assert json.loads(metadata.read_text())["file"] == "model.onnx" and output.is_file()


WRITE_UNDER_A_SIZE_LIMIT = """
import resource, signal, sys
from lit_nn.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
for fmt, suffix in (("onnx", "onnx"), ("torchscript", "ts"), ("exported", "pt2")):
    try:
        main(["export", *sys.argv[2:], "--ckpt_path", "best", "--format", fmt, "--output", f"{sys.argv[1]}/m.{suffix}"])
    except SystemExit as exc:
        print("exit", exc.code, file=sys.stderr, flush=True)
"""


def test_a_write_that_fails_is_said_as_such_and_leaves_nothing_in_the_folder(trained, tmp_path):
    """A full disk (here: a file-size limit) is a file-system failure named with the file, not an
    exporter's; PyTorch's C++ writers used to abort the process there and leave a partial file."""
    import subprocess
    import sys

    root, args = trained("binary")
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, "-c", WRITE_UNDER_A_SIZE_LIMIT, str(out), *args, "--run.root", str(root)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    errors = [line for line in done.stderr.splitlines() if line.startswith(("lit-nn: error", "exit"))]
    assert done.returncode == 0 and len(errors) == 6, done.stderr[-3000:]
    for suffix, (said, code) in zip(("onnx", "ts", "pt2"), zip(errors[::2], errors[1::2], strict=True), strict=True):
        assert said.startswith(f"lit-nn: error: cannot write {out}/m.{suffix}: the file grew beyond"), said
        assert code == "exit 2"
    assert list(out.iterdir()) == []
