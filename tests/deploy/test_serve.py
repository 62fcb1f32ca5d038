"""lit-nn serve: a real LitServe server in a subprocess, called over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import select
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
from tests.deploy.test_requests import _png_declaring
from tests.helpers.cli import clean_environment, lit_nn_command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _call(port: int, body: object, path: str = "/predict", content_type: str = "application/json") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Content-Type": content_type}
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
    port = serving(
        "csv", "--max_batch_size", "8", "--batch_timeout", "0.05", "--max_body_mb", "1", "--body_timeout", "2"
    )
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
    _hostile_requests_batched_with_good_ones_are_answered_alone(port, record, by_name["prediction"])
    _bodies_are_bounded(port, limit=2**20, timeout=2)


def _hostile_requests_batched_with_good_ones_are_answered_alone(port: int, record: dict, expected: float) -> None:
    digits = "9" * 500
    hostile = [
        (b'{"features": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json", 400, "nested too deep"),
        (f'{{"features": [{digits}, 1, 0, 1, 0]}}'.encode(), "application/json", 422, "float32 can hold"),
        (f'{{"features": {{"area": {digits}, "rooms": 3, "town": "north"}}}}'.encode(), "application/json", 422,
         "column 'area' holds an integer beyond float32"),
        (b"features=1&features=2", "application/x-www-form-urlencoded", 415, "send the body as JSON"),
        (b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\n1\r\n--b--\r\n', "multipart/form-data; boundary=b",
         415, "Content-Type: application/json"),
        (json.dumps({"features": record}).encode(), "text/plain", 415, "is not JSON"),
    ]  # fmt: skip
    good = json.dumps({"features": record}).encode()
    calls = [(good, "application/json", 200, None)] * 320 + hostile * 8
    order = np.random.default_rng(0).permutation(len(calls))
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: _call(port, calls[i][0], content_type=calls[i][1]), order))
    for i, (status, answer) in zip(order, answers, strict=True):
        _, _, code, said = calls[i]
        if code == 200:
            assert status == 200 and answer["prediction"] == pytest.approx(expected, abs=1e-4), answer
        else:
            assert status == code and said in answer["error"] and "\n" not in answer["error"], (
                calls[i][0][:40],
                answer,
            )
    assert _healthy(port)


def _raw(port: int, head: str, parts: list[bytes], pause: float = 0.0) -> tuple[int, str, bool, float]:
    """Send a request by hand (a declared length, chunks, a stall); its status, body, whether the server closed."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head.encode())
        for part in parts:  # one at a time: stop once the server answers (sending on would get the reply reset)
            connection.sendall(part)
            if select.select([connection], [], [], 0.02)[0]:
                break
        time.sleep(pause)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received:
                header, body = received.split(b"\r\n\r\n", 1)
                length = int(next(v for k, v in (line.split(b": ", 1) for line in header.split(b"\r\n")[1:])
                                  if k.lower() == b"content-length"))  # fmt: skip
                if len(body) >= length:
                    break
        elapsed = time.monotonic() - started
        connection.settimeout(5)
        closed = connection.recv(1) == b""
    return int(header.split()[1]), body.decode(), closed, elapsed


def _bodies_are_bounded(port: int, limit: int, timeout: float) -> None:
    post = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    # declared over the limit: refused before a byte of the body is read
    status, said, closed, elapsed = _raw(port, post + f"Content-Length: {limit + 1}\r\n\r\n", [])
    assert status == 413 and f"limit of {limit:,} bytes" in said and closed and elapsed < timeout, said
    # chunked (no declared length): refused once the bytes read pass the limit
    chunk = b"%x\r\n" % 65536 + b" " * 65536 + b"\r\n"
    status, said, closed, _ = _raw(port, post + "Transfer-Encoding: chunked\r\n\r\n", [chunk] * (limit // 65536 + 8))
    assert status == 413 and f"limit of {limit:,} bytes" in said and closed, said
    # a body that stalls half-way: 408 after --body_timeout, and the connection is freed
    status, said, closed, elapsed = _raw(port, post + "Content-Length: 1000\r\n\r\n", [b'{"features": ['])
    assert status == 408 and f"within {timeout:g} s" in said and closed and timeout <= elapsed < timeout + 10, said
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
    assert "send a JPEG or PNG" in answer["error"] and "delete or replace" not in answer["error"]
    assert " object at 0x" not in answer["error"]
    started = time.monotonic()  # a small PNG declaring 144 million pixels is refused on its header
    status, answer = _call(port, {"image": base64.b64encode(_png_declaring(12000, 12000)).decode()})
    assert status == 413 and "declares 12000 x 12000 pixels" in answer["error"] and time.monotonic() - started < 5
    status, answer = _call(port, {"features": [1, 2, 3]})
    assert status == 400 and "'image' or 'images'" in answer["error"]
    assert _healthy(port)


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
