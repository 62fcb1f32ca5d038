"""The ONNX server without torch, as the PyTorch server answers and refuses; several models, keys, metrics."""

from __future__ import annotations

import ast
import contextlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from prometheus_client.parser import text_string_to_metric_families

from lit_nn.cli import main
from lit_nn.data.bundled import BreastCancer
from tests.conftest import ROOT
from tests.deploy.test_serve import _free_port, _group
from tests.helpers.cli import clean_environment, lit_nn_command, run

KEY = "s3cret-key"
BLOCKED = ("torch", "torchvision", "lightning", "jsonargparse", "sklearn", "matplotlib", "wandb", "optuna", "pyarrow")
"""What a serving-only environment lacks: each a package whose import fails in the server's processes."""


def _call(port, path, body=None, key=KEY, content_type="application/json"):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    headers = {"Content-Type": content_type, **({"X-API-Key": key} if key else {})}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, raw if path in ("/metrics", "/health") else json.loads(raw)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@contextlib.contextmanager
def _server(args, log, key=None, stop="sigterm", **env):
    """A `lit-nn serve` process in its own process group, its port yielded; stopped as ``docker stop`` does
    (SIGTERM: exit 0, "Server stopped", no traceback) or with SIGKILL (``stop="sigkill"``: no process of
    its group may be left behind)."""
    port = _free_port()
    with log.open("w") as out:
        process = subprocess.Popen([*lit_nn_command(), "serve", *args, "--port", str(port)], stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env=clean_environment(OMP_NUM_THREADS="1", **env))  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(OSError):
                if _call(port, "/health", key=key)[0] == 200:
                    break
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        yield port
    finally:
        if stop == "sigkill":
            try:
                process.send_signal(signal.SIGKILL)
                assert process.wait(timeout=60) == -signal.SIGKILL, log.read_text()
                deadline = time.monotonic() + 10
                while _group(process.pid) and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert not _group(process.pid), f"processes left behind: {_group(process.pid)}"
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        else:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0, log.read_text()
            said = log.read_text()
            assert "Traceback" not in said and said.rstrip().endswith("Server stopped"), said


@pytest.fixture(scope="module")
def exports(trained, tmp_path_factory):
    """The binary and CSV cases' best checkpoints exported to ONNX, and a serve config naming both."""
    tmp = tmp_path_factory.mktemp("onnx")
    for case in ("binary", "csv"):
        root, args = trained(case)
        if case == "binary":  # tested first: the export records what the test measured (/info shows it)
            main(["test", *args, "--run.root", str(root), "--ckpt_path", "best"])
        main(["export", *args, "--run.root", str(root), "--ckpt_path", "best", "--output", str(tmp / f"{case}.onnx")])
    blocker = tmp / "blocked"
    for name in BLOCKED:
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed here')\n")
    config = tmp / "serve.yaml"
    config.write_text("models:\n  - name: cancer\n    path: binary.onnx\n  - name: houses\n    path: csv.onnx\n")
    # first, so the blocked packages fail; then whatever checkout the tests run from (else the console script's own)
    return tmp, config, os.pathsep.join(filter(None, [str(blocker), os.environ.get("PYTHONPATH")]))


def test_the_onnx_server_runs_without_torch_and_answers_and_refuses_as_the_pytorch_server(exports, trained, tmp_path):
    tmp, config, blocker = exports
    datamodule = BreastCancer()
    features = datamodule.features[datamodule.split().test].tolist()  # raw rows: the model standardises them
    bad = [b"{not json", json.dumps([1, 2]).encode(), json.dumps({"features": [1.0, 2.0]}).encode(),
           json.dumps({"features": ["a"] * 30}).encode(), json.dumps({"features": [[0.0] * 30] * 1025}).encode(),
           json.dumps({"features": [float("nan")] * 30}).encode().replace(b"NaN", b"null")]  # fmt: skip
    answers, refusals = {}, {}
    root, args = trained("binary")
    # the PyTorch server listens on every interface, is told so, and is killed: it leaves no process behind
    pytorch = ["--ckpt_path", "best", *args, "--run.root", str(root), "--host", "0.0.0.0"]
    for kind, command, stop, env in (("onnx", [str(tmp / "binary.onnx")], "sigterm", {"PYTHONPATH": blocker}),
                                     ("pytorch", pytorch, "sigkill", {})):  # fmt: skip
        with _server(command, tmp_path / f"{kind}.log", stop=stop, **env) as port:
            status, answers[kind] = _call(port, "/predict", {"features": features}, key=None)
            assert status == 200
            refusals[kind] = [_call(port, "/predict", body, key=None) for body in bad]
    said = (tmp_path / "pytorch.log").read_text()
    assert "--host 0.0.0.0: the server is reachable from other machines" in said, said
    onnx, torch_answers = answers["onnx"]["predictions"], answers["pytorch"]["predictions"]
    assert [a["label"] for a in onnx] == [a["label"] for a in torch_answers]
    assert [a["class_name"] for a in onnx] == [a["class_name"] for a in torch_answers]
    assert [a["probability"] for a in onnx] == pytest.approx([a["probability"] for a in torch_answers], abs=1e-5)
    sets = [a["prediction_set_names"] for a in onnx]  # the calibrated model's 90 % conformal sets
    assert sets == [a["prediction_set_names"] for a in torch_answers] and ["benign"] in sets
    assert [a["prediction_set"] for a in onnx] == [a["prediction_set"] for a in torch_answers]
    assert refusals["onnx"] == refusals["pytorch"]  # the same status and the same line, each
    assert [status for status, _ in refusals["onnx"]] == [400, 400, 422, 422, 413, 422]


def test_two_models_in_one_server_with_a_key_info_and_metrics_that_count_what_was_sent(exports, trained, tmp_path):
    tmp, config, blocker = exports
    with _server([str(config), "--api_key", KEY], tmp_path / "two.log", key=KEY, PYTHONPATH=blocker) as port:
        assert _call(port, "/models/cancer/predict", b"{not json", key=None) == (
            401,
            {"error": "no API key: this server needs its key in the X-API-Key header"},
        )  # before any parsing
        assert _call(port, "/info", key="wrong") == (
            401,
            {"error": "a wrong API key: this server needs its key in the X-API-Key header"},
        )
        status, cancer = _call(port, "/models/cancer/predict", {"features": [0.0] * 30})
        assert status == 200 and set(cancer) == {
            "label", "class_name", "probability", "prediction_set", "prediction_set_names"}  # fmt: skip
        record = {"area": 120.0, "rooms": 3, "town": "north"}
        for _ in range(3):
            status, house = _call(port, "/models/houses/predict", {"features": record})
            assert status == 200 and set(house) == {"prediction"}
        assert _call(port, "/models/houses/predict", {"features": {**record, "town": "west"}})[0] == 422
        assert _call(port, "/predict", {"features": record})[0] == 404  # several models: each under its name
        status, info = _call(port, "/info")
        models = {m["name"]: m for m in info["model"]["models"]}
        assert status == 200 and set(models) == {"cancer", "houses"}
        assert models["cancer"]["class_names"] == ["malignant", "benign"] and models["cancer"]["task"] == "binary"
        (tested,) = trained("binary")[0].glob("breast_cancer/*/test-*-metrics.json")
        assert models["cancer"]["test_metrics"] == json.loads(tested.read_text())["metrics"]
        assert {"test/ece", "test/coverage", "test/set_size"} <= set(models["cancer"]["test_metrics"])
        assert (
            models["cancer"]["calibration"]["coverage"] == 0.9 and models["cancer"]["calibration"]["answers"] == "sets"
        )
        assert "test_metrics" not in models["houses"]  # never tested: nothing claimed
        assert models["houses"]["input"]["feature_names"] == ["area", "rooms", "town"]
        assert models["houses"]["path"] == "/models/houses/predict" and models["houses"]["format"] == "onnx"
        status, text = _call(port, "/metrics")
    counts = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == "lit_nn_requests_total":
                counts[(sample.labels["model"], sample.labels["status"])] = sample.value
            if sample.name == "lit_nn_batch_samples_count":
                counts[(sample.labels["model"], "batches")] = sample.value
    assert counts == {("cancer", "401"): 1.0, ("cancer", "200"): 1.0, ("houses", "200"): 3.0,
                      ("houses", "422"): 1.0, ("cancer", "batches"): 1.0, ("houses", "batches"): 3.0}  # fmt: skip


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("models:\n  - {name: a, path: missing.onnx}\n", "model 'a': .*missing.onnx does not exist"),
        ("models:\n  - {name: a, path: foreign.onnx}\n", "foreign.onnx is not an export of lit_nn"),
        ("models:\n  - {name: a, path: binary.onnx}\n  - {name: a, path: csv.onnx}\n", "1 and 2 are both named 'a'"),
        ("models:\n  a: binary.onnx\n  a: csv.onnx\n", "names 'a' twice"),
        ("models:\n  - {name: a/b, path: binary.onnx}\n", "cannot be a URL path part"),
        ("models: []\n", "give `models:`"),
    ],
)
def test_a_bad_serve_config_is_refused_in_one_line_before_a_server_starts(exports, capsys, config, expected):
    tmp, _, _ = exports
    (tmp / "foreign.onnx").write_bytes(b"not an export")
    path = tmp / "bad.yaml"
    path.write_text(config)
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", str(path), "--port", str(_free_port())])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and __import__("re").search(expected, err), err


def test_a_checkpoint_where_pytorch_is_not_installed_is_refused_in_one_line_that_names_the_export(exports, tmp_path):
    tmp, _, blocker = exports
    (tmp_path / "model.ckpt").write_bytes(b"")  # refused before it is read
    config = tmp_path / "mixed.yaml"
    config.write_text(f"models:\n  - {{name: cancer, path: {tmp}/binary.onnx}}\n  - {{name: old, path: model.ckpt}}\n")
    pythonpath = os.pathsep.join(filter(None, [blocker, os.environ.get("PYTHONPATH")]))  # the lit_nn under test
    for args, where in (([str(config)], "model 'old'"), (["--ckpt_path", str(tmp_path / "model.ckpt")], "--ckpt_path")):
        result = run(["serve", *args, "--port", str(_free_port())], PYTHONPATH=pythonpath)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert where in lines[0] and "a checkpoint is served with PyTorch and Lightning" in lines[0], lines[0]
        assert "is not installed here" in lines[0] and "serve its ONNX export instead" in lines[0], lines[0]


TORCH_STACK = {"torch", "torchvision", "torchcodec", "torchmetrics", "triton", "lightning", "pytorch-lightning",
               "lightning-utilities", "jsonargparse"}  # fmt: skip

SERVING = """
import json, sys
from pathlib import Path
import numpy as np
import lit_nn.cli.serve, lit_nn.deploy.server  # the command; LitServe, FastAPI, the gate
from lit_nn.deploy.metadata import find_export
from lit_nn.deploy.metrics import server_metrics, shared_folder
from lit_nn.deploy.onnx_serving import OnnxAPI

onnx, metadata = find_export(Path(sys.argv[1]))
api = OnnxAPI(onnx, "m", metadata)
api.setup("cpu")  # what a worker imports
assert len(api.answer(np.zeros((2, 30), np.float32))) == 2
with shared_folder():
    server_metrics().exposition()  # what /metrics imports
files = [m.__file__ for name, m in list(sys.modules.items()) if name.startswith("lit_nn") and getattr(m, "__file__", 0)]
print(json.dumps({"loaded": sorted({name.partition(".")[0] for name in sys.modules}), "files": files}))
"""


def _imported_by(files: list[str]) -> set[str]:
    """The top-level names these modules import, anywhere in them (lazy imports too)."""
    names = set()
    for file in files:
        for node in ast.walk(ast.parse(Path(file).read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.partition(".")[0])
    return names


def _installed_with(requirements: list[str]) -> set[str]:
    """Every distribution ``pip install`` of these requirements brings, read from the installed ones' metadata."""
    brought, todo = set(), [Requirement(text) for text in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in brought:
            continue
        brought.add(name)
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            for text in importlib.metadata.requires(requirement.name) or []:
                needed = Requirement(text)
                extras = requirement.extras or {""}
                if needed.marker is None or any(needed.marker.evaluate({"extra": extra}) for extra in extras):
                    todo.append(needed)
    return brought


def test_the_serve_extra_names_what_the_onnx_server_imports_and_brings_no_torch(exports):
    """docker/serve.Dockerfile installs lit_nn without its dependencies beside the serve extra: it must be enough."""
    tmp, _, blocker = exports
    pythonpath = os.pathsep.join(filter(None, [blocker, os.environ.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", SERVING, str(tmp / "binary.onnx")], capture_output=True,
                            text=True, env=clean_environment(PYTHONPATH=pythonpath), timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    served = json.loads(result.stdout.splitlines()[-1])
    # what lit_nn's own code imported while it served (a lazy import of torch that never ran is not counted)
    third_party = (_imported_by(served["files"]) & set(served["loaded"])) - set(sys.stdlib_module_names) - {"lit_nn"}
    tomllib = pytest.importorskip("tomllib")  # Python 3.11: the image reads the extra with it too
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["serve"]
    listed = {canonicalize_name(Requirement(text).name) for text in extra}
    providers = importlib.metadata.packages_distributions()
    unlisted = {name for name in third_party if not {canonicalize_name(d) for d in providers[name]} & listed}
    assert {"onnxruntime", "litserve", "prometheus_client"} <= third_party  # the server's work was done
    assert not unlisted, f"lit_nn imports {sorted(unlisted)} to serve an export; add them to the serve extra"
    torch_stack = {name for name in _installed_with(extra) if name in TORCH_STACK or name.startswith("nvidia-")}
    assert not torch_stack, f"the serve extra brings {sorted(torch_stack)}"
