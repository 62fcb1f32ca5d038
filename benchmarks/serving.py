"""Serving: the PyTorch server and the ONNX server on one model, under one load, on 127.0.0.1.

A digits model is trained briefly and exported to ONNX; the ``.onnx`` file and its ``.json`` are
copied alone to an empty folder. Then, in one run:

- ``lit-nn serve -c digits --ckpt_path best`` (PyTorch, in the run's folder) and ``lit-nn serve
  digits.onnx`` (onnxruntime, in the empty folder), each with batching on (the default,
  ``--max_batch_size 32``) and off (``--max_batch_size 1``);
- start-up: seconds from launch to the first 200 from ``/health``, each server started
  ``--startups`` times, in turn, while no other server runs (the median is reported), and the
  CPU seconds its processes had spent by then (less sensitive than the wall time to other work
  on the machine);
- resident memory of the server's whole process tree (the main process and every child, read from
  ``/proc``), after the load: RSS summed, as ``ps`` would add it up, and PSS (pages shared between
  forked processes counted once, shared out);
- the load: ``--requests`` single-sample requests from ``--clients`` concurrent clients (threads
  of this process, one kept-alive connection each) after a warm-up, in ``--rounds`` rounds that
  alternate between the servers (all started, the others suspended with ``SIGSTOP``: an idle
  LitServe server polls its queues), so a slow patch of the machine hits them alike; requests/s
  is the median round, p50 and p99 over every request;
- every answer is checked against the ONNX model's label for that sample; errors must be 0;
- CPU seconds the server's process tree and this process (the clients) spent per request.

Then one sample, and a batch of 64, run through onnxruntime and through the PyTorch model
(`lit_nn.deploy.inference.InferenceModel`, eager), one thread each, alternating.

The servers and the clients share this machine's CPUs. Every ``lit-nn`` is this checkout's
(``python -m lit_nn`` with the checkout first on ``PYTHONPATH``).

    python benchmarks/serving.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, write_result  # noqa: E402

ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "WANDB_MODE": "disabled",
    "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
}
LIT_NN = [sys.executable, "-m", "lit_nn"]
QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _lit_nn(*args: str, cwd: Path) -> str:
    done = subprocess.run([*LIT_NN, *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"lit-nn {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tree(pid: int) -> list[int]:
    """A process and all its descendants (from ``/proc/PID/task/TID/children``)."""
    pids, at = [pid], 0
    while at < len(pids):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pids[at]}/task").iterdir():
                pids += [int(child) for child in (task / "children").read_text().split()]
        at += 1
    return pids


def _memory_mib(pids: list[int]) -> tuple[float, float]:
    """RSS summed and PSS summed over the processes, in MiB (``/proc/PID/smaps_rollup``)."""
    rss = pss = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                name, value = line.split(":", 1) if ":" in line else ("", "")
                if name in ("Rss", "Pss"):
                    kib = int(value.split()[0])
                    rss, pss = (rss + kib, pss) if name == "Rss" else (rss, pss + kib)
    return round(rss / 1024, 1), round(pss / 1024, 1)


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes (all their threads) have spent."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


@dataclass
class Server:
    """One server configuration and what it measured."""

    name: str
    command: list[str]
    folder: Path
    max_batch_size: int
    startups: list[float] = field(default_factory=list)
    startup_cpu: list[float] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    process: subprocess.Popen | None = None
    port: int = 0

    @property
    def shown(self) -> str:
        """The command as a person would type it."""
        return "lit-nn serve " + " ".join(self.command) + f" --max_batch_size {self.max_batch_size}"

    def start(self) -> None:
        """Launch it and wait for ``/health``; record the seconds that took."""
        self.port = _free_port()
        log = self.folder / f"serve-{self.name}.log"
        with log.open("w") as out:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                [*LIT_NN, "serve", *self.command, "--port", str(self.port), "--max_batch_size",
                 str(self.max_batch_size)],
                cwd=self.folder, env=ENV, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = started + 300  # LitServe waits for ever for a worker that died while it loaded
        while True:
            if self.process.poll() is not None or time.perf_counter() > deadline:
                raise SystemExit(f"{self.shown} did not become healthy:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    self.startups.append(time.perf_counter() - started)
                    self.startup_cpu.append(_cpu_seconds(_tree(self.process.pid)))
                    return
            time.sleep(0.02)

    def pause(self, paused: bool) -> None:
        """Suspend (``SIGSTOP``) or resume (``SIGCONT``) its process tree: an idle LitServe server polls its queues."""
        assert self.process is not None
        for pid in _tree(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP if paused else signal.SIGCONT)
        if not paused:
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop it as Ctrl+C would (``SIGTERM``) and wait."""
        assert self.process is not None
        self.pause(False)
        self.process.terminate()
        self.process.wait(timeout=60)
        self.process = None


def _load(server: Server, samples: np.ndarray, labels: np.ndarray, requests: int, clients: int) -> dict[str, Any]:
    """Send ``requests`` requests from ``clients`` threads; latency of each, errors, wrong answers, CPU."""
    latencies: list[float] = []
    errors, wrong, lock, turn = [0], [0], threading.Lock(), iter(range(requests))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
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

    assert server.process is not None
    pids = _tree(server.process.pid)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    server_cpu, own_cpu, began = _cpu_seconds(pids), sum(os.times()[:2]), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    server_cpu, own_cpu = _cpu_seconds(pids) - server_cpu, sum(os.times()[:2]) - own_cpu
    server.latencies += latencies
    return {
        "requests_per_second": round(requests / wall, 1),
        "errors": errors[0],
        "wrong_answers": wrong[0],
        "server_cpu_ms_per_request": round(1000 * server_cpu / requests, 3),
        "client_cpu_ms_per_request": round(1000 * own_cpu / requests, 3),
    }


def _percentile(ordered: list[float], share: float) -> float:
    return round(1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)


def _summary(server: Server, requests: int, clients: int) -> dict[str, Any]:
    assert server.process is not None
    pids = _tree(server.process.pid)
    rss, pss = _memory_mib(pids)
    ordered = sorted(server.latencies)
    per_round = [r["requests_per_second"] for r in server.rounds]
    return {
        "command": server.shown,
        "max_batch_size": server.max_batch_size,
        "startup_seconds": round(statistics.median(server.startups), 2),
        "startup_runs": [round(s, 2) for s in server.startups],
        "startup_cpu_seconds": round(statistics.median(server.startup_cpu), 2),
        "processes": len(pids),
        "rss_mib": rss,
        "pss_mib": pss,
        "requests": requests * len(server.rounds),
        "clients": clients,
        "requests_per_second": round(statistics.median(per_round), 1),
        "rounds_requests_per_second": per_round,
        "p50_ms": _percentile(ordered, 0.5),
        "p99_ms": _percentile(ordered, 0.99),
        "errors": sum(r["errors"] for r in server.rounds),
        "wrong_answers": sum(r["wrong_answers"] for r in server.rounds),
        "server_cpu_ms_per_request": round(statistics.median(r["server_cpu_ms_per_request"] for r in server.rounds), 3),
        "client_cpu_ms_per_request": round(statistics.median(r["client_cpu_ms_per_request"] for r in server.rounds), 3),
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


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


@contextlib.contextmanager
def _running(servers: list[Server]) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            if server.process is not None:
                server.stop()


def main() -> None:
    """Train, export, start each server, load them in alternating rounds, time per-sample inference; print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, rounds, start-ups and repeats")
    parser.add_argument("--requests", type=int, default=1000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per server, alternating between them")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--startups", type=int, default=3, help="start-ups timed per server")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    requests, rounds, startups = (300, 2, 1) if args.quick else (args.requests, args.rounds, args.startups)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder, bare = Path(tmp) / "run", Path(tmp) / "bare"
        folder.mkdir()
        bare.mkdir()
        _lit_nn("fit", "-c", "digits", "--trainer.max_epochs", "3", *QUIET, cwd=folder)
        exported = _lit_nn(
            "export", "-c", "digits", "--ckpt_path", "best", "--output", "digits.onnx", *QUIET, cwd=folder
        )
        for name in ("digits.onnx", "digits.onnx.json"):  # the ONNX server's folder holds these two files only
            shutil.copy(folder / name, bare / name)
        import onnxruntime

        session = onnxruntime.InferenceSession(str(bare / "digits.onnx"), providers=["CPUExecutionProvider"])
        from sklearn.datasets import load_digits

        samples = load_digits().data.astype(np.float32)[:500]
        labels = session.run(None, {"features": samples.reshape(-1, 1, 8, 8)})[0]
        servers = [
            Server("pytorch", ["-c", "digits", "--ckpt_path", "best", *QUIET], folder, 32),
            Server("onnx", ["digits.onnx"], bare, 32),
            Server("pytorch_unbatched", ["-c", "digits", "--ckpt_path", "best", *QUIET], folder, 1),
            Server("onnx_unbatched", ["digits.onnx"], bare, 1),
        ]
        with _running(servers):
            for _ in range(startups):  # start-ups alone, one server at a time, alternating
                for server in servers:
                    server.start()
                    server.stop()
                    time.sleep(1)  # its processes gone and their memory returned
            for server in servers:  # then all of them, for the load, each suspended while another is loaded
                server.start()
                server.startups.pop()  # started beside suspended servers: not a start-up figure
                server.startup_cpu.pop()
                _load(server, samples, labels, 100, args.clients)  # warm-up
                server.pause(True)
            for _ in range(rounds):
                for server in servers:
                    server.pause(False)
                    server.rounds.append(_load(server, samples, labels, requests, args.clients))
                    server.pause(True)
            for server in servers:
                server.pause(False)
            figures = {server.name: _summary(server, requests, args.clients) for server in servers}
        inference = _per_sample(10 if args.quick else 40, bare / "digits.onnx", folder)
    pytorch, onnx = figures["pytorch"], figures["onnx"]
    write_result(args.json, {
        "model": "digits CNN (configs/digits.yaml, 3 epochs)",
        "date": datetime.date.today().isoformat(),
        "cpu": f"{len(os.sched_getaffinity(0))} x {_cpu_model()}",
        "versions": {"python": platform.python_version(),
                     **{package: version(package) for package in ("torch", "onnxruntime", "litserve", "numpy")}},
        "load_average": {"before": [round(x, 2) for x in load_before],
                         "after": [round(x, 2) for x in os.getloadavg()]},
        "export_check": next(line for line in exported.splitlines() if line.startswith("Checked")),
        "servers": figures,
        "onnx_vs_pytorch": {
            "requests_per_second": round(onnx["requests_per_second"] / pytorch["requests_per_second"], 2),
            "startup_seconds": round(pytorch["startup_seconds"] / onnx["startup_seconds"], 2),
            "rss": round(pytorch["rss_mib"] / onnx["rss_mib"], 2),
        },
        "goals": {
            "onnx_starts_under_2_s": onnx["startup_seconds"] < 2,
            "onnx_serves_2x_pytorch": onnx["requests_per_second"] >= 2 * pytorch["requests_per_second"],
        },
        "batching_speedup": {
            name: round(figures[name]["requests_per_second"] / figures[f"{name}_unbatched"]["requests_per_second"], 2)
            for name in ("pytorch", "onnx")
        },
        "inference_us_per_sample": inference,
    })  # fmt: skip


if __name__ == "__main__":
    main()
