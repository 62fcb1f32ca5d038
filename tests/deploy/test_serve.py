"""lit-nn serve: a real LitServe server in a subprocess, called over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime
import pytest
from PIL import Image

from lit_nn.cli import main
from tests.helpers.cli import clean_environment, lit_nn_command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _call(port: int, body: object, path: str = "/predict") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def serving(trained, tmp_path):
    """Start `lit-nn serve` on a case's best checkpoint in its own process group; yield its port.

    Stopped as ``stop`` says: ``"sigterm"`` to the server alone (``docker stop``), ``"ctrl-c"``,
    SIGINT to every process of its group, as a terminal sends it (both: exit 0, say so, print no
    traceback), or ``"sigkill"`` to the server alone. No process may be left behind.
    """
    servers = []

    def serve(case: str, *extra: str, stop: str = "sigterm") -> int:
        root, args = trained(case)
        port = _free_port()
        log = tmp_path / f"serve-{case}.log"
        command = [*lit_nn_command(), "serve", *args, "--run.root", str(root), "--ckpt_path", "best",
                   "--port", str(port), *extra]  # fmt: skip
        with log.open("w") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True,
                env=clean_environment(OMP_NUM_THREADS="1"),
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell may have it ignored
            )  # fmt: skip
        servers.append((process, log, stop))
        deadline = time.monotonic() + 180
        while not _healthy(port):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        return port

    yield serve
    for process, log, stop in servers:
        if stop == "ctrl-c":
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGKILL if stop == "sigkill" else signal.SIGTERM)
        try:
            assert process.wait(timeout=60) == (-signal.SIGKILL if stop == "sigkill" else 0), log.read_text()
            deadline = time.monotonic() + 10
            while _group(process.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not _group(process.pid), f"processes left behind: {_group(process.pid)}"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        said = log.read_text()
        if stop != "sigkill":
            assert "Traceback" not in said and said.rstrip().endswith("Server stopped"), said


def _group(pgid: int) -> list[str]:
    return subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout.split()


def test_tabular_server_answers_by_number_and_by_name_and_refuses_bad_requests(serving, trained, capsys):
    port = serving("csv", "--max_batch_size", "8", "--batch_timeout", "0.05")
    record = {"area": 120.0, "rooms": 3, "town": "north"}
    status, by_name = _call(port, {"features": record})
    assert status == 200 and set(by_name) == {"prediction"}
    status, by_number = _call(port, {"features": [120.0, 3, 0, 1, 0]})  # area, rooms, town=east/north/south
    assert status == 200 and by_number["prediction"] == pytest.approx(by_name["prediction"], abs=1e-4)
    status, several = _call(port, {"features": [record, {**record, "town": "south"}]})
    assert status == 200 and len(several["predictions"]) == 2
    assert several["predictions"][0]["prediction"] == pytest.approx(by_name["prediction"], abs=1e-4)

    root, args = trained("csv")  # the ONNX export gives the same value for the same raw row
    main(["export", *args, "--run.root", str(root), "--ckpt_path", "best", "--output", str(root / "m.onnx")])
    session = onnxruntime.InferenceSession(str(root / "m.onnx"), providers=["CPUExecutionProvider"])
    (value,) = session.run(None, {"features": np.array([[120.0, 3, 0, 1, 0]], np.float32)})
    assert value.shape == (1, 1) and float(value[0, 0]) == pytest.approx(by_name["prediction"], rel=1e-5)

    bad = {
        b"{not json": (400, "not JSON"),
        json.dumps([1, 2]).encode(): (400, "send a JSON object with 'features'"),
        json.dumps({"features": [1.0, 2.0]}).encode(): (422, "wrong width: the model takes 5 numbers per sample"),
        json.dumps({"features": ["a"] * 5}).encode(): (422, "features must be numbers"),
        json.dumps({"features": {**record, "town": "west"}}).encode(): (
            422,
            "'west', a category the model was not trained on",
        ),
        json.dumps({"features": {"area": 1.0, "town": "north"}}).encode(): (422, "lacks the feature column(s) rooms"),
        json.dumps({"features": {**record, "aera": 1}}).encode(): (422, "has the column 'aera', not a feature"),
        json.dumps({"features": [[0.0] * 5] * 1025}).encode(): (413, "send at most 1024"),
    }
    for body, (code, said) in bad.items():
        status, answer = _call(port, body)
        assert status == code and said in answer["error"], (body[:60], status, answer)

    # good and bad requests batched together: each gets its own answer, the server stays up
    bodies = [{"features": record} if i % 3 else {"features": [1.0]} for i in range(48)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda b: _call(port, b), bodies))
    for body, (status, answer) in zip(bodies, answers, strict=True):
        if len(body["features"]) == 1:
            assert status == 422 and "wrong width" in answer["error"]
        else:
            assert status == 200 and answer["prediction"] == pytest.approx(by_name["prediction"], abs=1e-4)
    assert _healthy(port)


def _jpeg(colour: tuple[int, int, int], shape: str) -> str:
    image = Image.new("RGB", (40, 40), (255, 255, 255))
    pixels = image.load()
    for y in range(40):
        for x in range(40):
            inside = (x - 20) ** 2 + (y - 20) ** 2 < 144 if shape == "circle" else 8 <= x < 32 and 8 <= y < 32
            if inside:
                pixels[x, y] = colour
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_image_server_takes_base64_files_and_refuses_what_is_not_an_image(serving):
    port = serving("image", stop="ctrl-c")
    status, answer = _call(port, {"image": _jpeg((200, 30, 30), "circle")})
    assert status == 200 and answer["class_name"] in ("circle", "square") and 0.0 <= answer["probability"] <= 1.0
    status, answers = _call(port, {"images": [_jpeg((30, 30, 200), "square"), _jpeg((30, 200, 30), "circle")]})
    assert status == 200 and len(answers["predictions"]) == 2
    for body, (code, said) in {
        "image": (400, "not valid base64"),
    }.items():
        status, answer = _call(port, {body: "%%% not base64 %%%"})
        assert status == code and said in answer["error"]
    status, answer = _call(port, {"image": base64.b64encode(b"plain text, not a picture").decode()})
    assert status == 422 and "cannot read image 'the image'" in answer["error"]
    status, answer = _call(port, {"features": [1, 2, 3]})
    assert status == 400 and "'image' or 'images'" in answer["error"]
    assert _healthy(port)


def test_a_killed_server_leaves_no_process_behind(serving):
    port = serving("binary", stop="sigkill")
    status, answer = _call(port, {"features": [0.0] * 30})
    assert status == 200 and answer["class_name"] in ("malignant", "benign")


def test_serve_refuses_a_port_in_use_in_one_line(trained, capsys):
    root, args = trained("binary")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit_info:
            main(["serve", *args, "--run.root", str(root), "--ckpt_path", "best", "--port", str(port)])
    err = capsys.readouterr().err
    assert exit_info.value.code != 0 and f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err
    for extra, said in ((["--host", "10.0.0.1"], "LitServe listens on 127.0.0.1"), (["--port", "80"], "1024 to 65535")):
        with pytest.raises(SystemExit):
            main(["serve", *args, "--run.root", str(root), "--ckpt_path", "best", *extra])
        assert said in capsys.readouterr().err
