"""Serving and inference: `lit-nn serve` under a bounded load on 127.0.0.1, and onnxruntime against PyTorch.

A digits model is trained briefly and exported to ONNX. The server is started twice, with
batching off (``--max_batch_size 1``, the baseline) and on (the default, 32), each given the same
load: ``--requests`` single-sample requests from ``--clients`` concurrent clients (threads of this
process, one kept-alive connection each), after a warm-up. Every answer is checked against the
ONNX model's label for that sample. Then one sample, and a batch of 64, run through onnxruntime
and through the PyTorch model (`lit_nn.deploy.inference.InferenceModel`, eager), one thread each,
alternating.

The server and the clients share this machine's CPUs.

    python benchmarks/serving.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import VENV_BIN, write_result  # noqa: E402

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]


def _lit_nn(*args: str, cwd: Path) -> str:
    done = subprocess.run([str(VENV_BIN / "lit-nn"), *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"lit-nn {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(folder: Path, max_batch_size: int) -> tuple[subprocess.Popen, int, float]:
    port = _free_port()
    started = time.perf_counter()
    log = (folder / f"serve-{max_batch_size}.log").open("w")
    process = subprocess.Popen(
        [str(VENV_BIN / "lit-nn"), "serve", "-c", "digits", "--ckpt_path", "best", "--port", str(port),
         "--max_batch_size", str(max_batch_size), *QUIET],
        cwd=folder, env=ENV, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    while True:
        if process.poll() is not None:
            raise SystemExit((folder / f"serve-{max_batch_size}.log").read_text())
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process, port, time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.1)


def _load(port: int, samples: np.ndarray, labels: np.ndarray, requests: int, clients: int) -> dict[str, Any]:
    """Send ``requests`` requests from ``clients`` threads; latency of each, errors, wrong answers."""
    latencies: list[float] = []
    errors, wrong, lock, turn = [0], [0], threading.Lock(), iter(range(requests))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                index = next(turn, None)
            if index is None:
                return
            row = index % len(samples)
            body = json.dumps({"features": samples[row].tolist()})
            began = time.perf_counter()
            connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
            took = time.perf_counter() - began
            with lock:
                latencies.append(took)
                if response.status != 200:
                    errors[0] += 1
                elif json.loads(answer)["label"] != int(labels[row]):
                    wrong[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "requests": requests,
        "clients": clients,
        "seconds": round(wall, 2),
        "requests_per_second": round(requests / wall, 1),
        "p50_ms": round(1000 * ordered[len(ordered) // 2], 2),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
        "errors": errors[0],
        "wrong_answers": wrong[0],
    }


def _per_sample(repeats: int, onnx_path: Path, folder: Path) -> dict[str, Any]:
    """Microseconds per sample, onnxruntime and PyTorch alternating, at batch 1 and 64 (a child process)."""
    code = f"""
import json, statistics, sys, time, numpy as np, torch, onnxruntime
sys.argv = ["lit-nn"]
torch.set_num_threads(1)
from lit_nn.cli import run_lightning
cli = run_lightning(["export", "-c", "digits", "--ckpt_path", "best", "--output", "{folder / "again.onnx"}",
                     "--trainer.logger", "false"])
from lit_nn.deploy.inference import inference_model, test_batches
model, prep = inference_model(cli.model, cli.datamodule)
raw = torch.cat([r for r, _ in test_batches(cli.datamodule, prep)]).numpy()
options = onnxruntime.SessionOptions(); options.intra_op_num_threads = 1; options.inter_op_num_threads = 1
session = onnxruntime.InferenceSession("{onnx_path}", options, providers=["CPUExecutionProvider"])
def torch_run(x):
    with torch.inference_mode():
        return model(torch.from_numpy(x))
def ort_run(x):
    return session.run(None, {{"features": x}})
out = {{}}
for batch in (1, 64):
    x = np.ascontiguousarray(raw[:batch])
    times = {{"onnxruntime": [], "pytorch": []}}
    for _ in range(20):
        torch_run(x), ort_run(x)
    for _ in range({repeats}):
        for name, run in (("onnxruntime", ort_run), ("pytorch", torch_run)):
            began = time.perf_counter()
            [run(x) for _ in range(10)]
            times[name].append((time.perf_counter() - began) / 10 / batch)
    out[batch] = {{name: round(1e6 * statistics.median(t), 1) for name, t in times.items()}}
print("RESULT" + json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, env=ENV, capture_output=True, text=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(done.stdout[-2000:] + done.stderr[-3000:])
    figures = json.loads(line[len("RESULT") :])
    return {f"batch_{b}": {**f, "speedup": round(f["pytorch"] / f["onnxruntime"], 2)} for b, f in figures.items()}


def main() -> None:
    """Train, export, serve under load (batching off, then on), time per-sample inference; print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and repeats")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    requests = 300 if args.quick else args.requests
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _lit_nn("fit", "-c", "digits", "--trainer.max_epochs", "3", *QUIET, cwd=folder)
        exported = _lit_nn(
            "export", "-c", "digits", "--ckpt_path", "best", "--output", "digits.onnx", *QUIET, cwd=folder
        )
        import onnxruntime

        session = onnxruntime.InferenceSession(str(folder / "digits.onnx"), providers=["CPUExecutionProvider"])
        from sklearn.datasets import load_digits

        samples = load_digits().data.astype(np.float32)[:500]
        labels = session.run(None, {"features": samples.reshape(-1, 1, 8, 8)})[0]
        servers = {}
        for name, batch in (("unbatched", 1), ("batched", 32)):
            process, port, startup = _serve(folder, batch)
            try:
                _load(port, samples, labels, 100, args.clients)  # warm-up
                servers[name] = {"max_batch_size": batch, "startup_seconds": round(startup, 1),
                                 **_load(port, samples, labels, requests, args.clients)}  # fmt: skip
            finally:
                process.terminate()
                process.wait(timeout=60)
        inference = _per_sample(10 if args.quick else 40, folder / "digits.onnx", folder)
    write_result(args.json, {
        "model": "digits CNN (configs/digits.yaml, 3 epochs)",
        "export_check": next(line for line in exported.splitlines() if line.startswith("Checked")),
        "servers": servers,
        "batching_speedup": round(
            servers["batched"]["requests_per_second"] / servers["unbatched"]["requests_per_second"], 2),
        "inference_us_per_sample": inference,
    })  # fmt: skip


if __name__ == "__main__":
    main()
