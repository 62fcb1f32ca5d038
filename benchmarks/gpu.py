"""`make gpu-check`: what a lent GPU machine checks in about five minutes, and the figures it keeps.

A GPU machine is lent now and then, for a few minutes, with no network: this is the one prepared
script to spend them on. It is run there as ``make gpu-check`` (docs/performance.md, "GPU check");
``make gpu-prep`` (``--prepare``) runs first, here, with the network: it downloads the wheels that
machine lacks and builds lit_nn's own into ``.gpu/wheels``, which travels with the working tree.

Run with a CUDA GPU, it installs those wheels beside the machine's own torch (``pip install
--no-deps --target .gpu/site``), then runs these steps, each a process of its own with its own
time limit, all within ``--budget`` seconds (330 by default); a step that fails or runs out of time
is recorded with its error and the others still run (those that need its result are skipped):

- ``environment``: versions (Python, torch, CUDA, the GPU, the carried packages), requirements of
  the carried wheels that the machine does not meet, and which JPEG decoder lit_nn uses;
- ``throughput``: ResNet-18 and ResNet-50 training images/s (``bf16-mixed``, channels-last, batch
  256, 224 px crops of generated photo-like JPEGs decoded by lit_nn's ``image_folder`` pipeline)
  through ``lit-nn fit``'s own code path, against a hand-written PyTorch AMP loop on the same
  tensors, with the same initial weights, in the same process (goal: lit_nn at least 0.95 of it);
- ``loader``: the ``image_folder`` training loader's images/s with 0, 4 and 8 workers, against
  the GPU's step rate from ``throughput``;
- ``tests``: the GPU-only tests (those marked by ``tests/helpers/run_if.py``);
- ``fit-digits-bf16``, ``fit-digits-16``, ``fit-digits-compile``: digits on the GPU with
  ``configs/trainer/gpu.yaml`` and ``bf16-mixed``, ``16-mixed``, or ``bf16-mixed`` with
  ``--model.channels_last true --model.compile true``;
- ``fit-images``, ``fit-images-16``: a generated image folder, ResNet-18, channels-last, with
  ``bf16-mixed`` and ``--model.compile true``, or with ``16-mixed``;
- ``deploy``: the GPU-trained digits checkpoint tested, exported to ONNX (checked with
  onnxruntime) and served (LitServe's worker on the GPU), its answers compared with the export's.

The timed steps run alone, first; the others up to three at a time. Every figure goes to
``benchmarks/results/gpu.json`` with the GPU's name; each step's output to ``.gpu/logs/``.

Without a CUDA GPU it says so in one line and exits 0. ``--rehearse`` runs every step on the CPU
instead, small (a few images, a few steps), to check the script before a GPU machine is spent on
it; its figures say nothing of a GPU and go to ``.gpu/rehearsal.json``.

    python benchmarks/gpu.py                  # make gpu-check
    python benchmarks/gpu.py --prepare        # make gpu-prep (here, with the network)
    python benchmarks/gpu.py --rehearse       # every step on this CPU, small
    python benchmarks/gpu.py --only tests,throughput
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # for benchmarks.*; last, so an installed lit_nn (the carried wheel) comes first

WORK = ROOT / ".gpu"
WHEELS = WORK / "wheels"
RESULT = ROOT / "benchmarks" / "results" / "gpu.json"
BUDGET_S = 330.0
"""All steps together: a lent machine gives 15 minutes, its start and the transfers included."""
PARALLEL = 3
"""Untimed steps at once (the machine has 16 CPUs and one GPU)."""
CARRY_LIMIT_MIB = 64
"""What one call to the GPU machine carries: the working tree and the wheels together."""

# The wheels the GPU machine lacks (it has torch, torchvision, Lightning, torchmetrics, pluggy, numpy,
# onnx, onnxscript, onnxruntime, pyarrow, scikit-learn, PyYAML, Pillow, prometheus-client, anyio, h11,
# click, uvloop and typing-extensions), at the versions lit_nn's tests ran with (lit_nn/compat.py).
# Not carried: wandb (W&B is disabled on every path here: WANDB_MODE=disabled, lit_nn then logs to CSV
# and never imports it), Optuna and optuna-integration (sweeps and cv only), TorchCodec (lit_nn decodes
# JPEGs with torchvision's decode_jpeg without it), uvicorn's [standard] extras (it runs on h11 and
# uvloop without them).
CARRIED = {
    # lit_nn's command line: LightningCLI needs jsonargparse with its [signatures] extra
    "jsonargparse": "4.53.0",
    "docstring-parser": "0.18.0",
    "typeshed-client": "2.15.0",
    # lit-nn serve: LitServe, and the FastAPI stack it runs on (pydantic-core and pyzmq are compiled
    # per Python version: --python-version picks theirs)
    "litserve": "0.2.19",
    "fastapi": "0.165.0",
    "starlette": "1.10.0",
    "uvicorn": "0.55.0",
    "pyzmq": "27.3.0",
    "pydantic": "2.14.4",
    "pydantic-core": "2.50.5",
    "annotated-types": "0.8.0",
    "typing-inspection": "0.4.5",
    "opentelemetry-api": "1.45.2",  # FastAPI imports it
}
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]


# --- the orchestration: steps as time-boxed child processes ----------------------------------------


@dataclass(frozen=True)
class Step:
    """One check.

    Attributes:
        name: Its name (``--only``, the results' key, ``_step_<name>`` below).
        timeout_s: Longest it may run (less when the budget has less left).
        alone: A timing: it starts only when nothing else runs, and nothing starts beside it.
        after: A step whose success it needs (its result, a checkpoint); skipped without it.
    """

    name: str
    timeout_s: float
    alone: bool = False
    after: str | None = None


STEPS = (
    Step("environment", 60, alone=True),
    Step("throughput", 150, alone=True),
    Step("loader", 60, alone=True),
    Step("tests", 180),
    Step("fit-digits-bf16", 90),
    Step("fit-digits-16", 90),
    Step("fit-images", 150),
    Step("fit-digits-compile", 150),
    Step("fit-images-16", 120),
    Step("deploy", 120, after="fit-digits-bf16"),
)
REHEARSAL_SLACK = 4
"""``--rehearse``: each step's time and the budget, times this."""
MIN_START_S = 15.0
"""A step is not started with less of the budget left than this."""


def tail(text: str, lines: int = 12, chars: int = 2000) -> str:
    """The end of a process's output, as an error to record.

    Args:
        text: The output.
        lines: Non-empty lines kept.
        chars: Characters kept.

    Returns:
        The last lines.
    """
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(kept)[-chars:]


def _stop(process: subprocess.Popen) -> None:
    """End a step's process and everything it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class _Running:
    step: Step
    process: subprocess.Popen
    started: float
    limit: float
    log: Path
    figures: Path


def run_steps(
    steps: Sequence[Step],
    command: Callable[[Step, Path], list[str]],
    logs: Path,
    budget_s: float = BUDGET_S,
    parallel: int = PARALLEL,
    env: dict[str, str] | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, dict[str, Any]]:
    """Run steps as child processes, each time-boxed and isolated, within one budget.

    Steps start in order: one marked ``alone`` waits until nothing runs and holds back the steps
    after it; the others run up to ``parallel`` at once. A step's process writes its figures as JSON
    to the file it is given; its output goes to ``logs/<name>.log``. A step that exits non-zero is
    ``failed`` (with the end of its output), one past its time ``timed out`` (its process group
    killed), one whose ``after`` step did not succeed, or that would start with less than
    :data:`MIN_START_S` of the budget left, ``skipped``.

    Args:
        steps: The steps.
        command: The command line of a step, given the file for its figures.
        logs: Folder for the logs.
        budget_s: Seconds for all of them.
        parallel: Steps at once.
        env: The children's environment.
        say: Where to say what starts and ends.

    Returns:
        Each step's name to its ``status``, ``seconds``, ``figures`` (what it wrote, also when it
        failed), ``error`` and ``log``.
    """
    logs.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + budget_s
    pending, running, results = list(steps), {}, {}
    names = {step.name for step in steps}

    def finish(run: _Running, status: str, error: str | None = None) -> None:
        seconds = round(time.monotonic() - run.started, 1)
        result: dict[str, Any] = {"status": status, "seconds": seconds, "log": str(run.log)}
        with contextlib.suppress(OSError, ValueError):
            result["figures"] = json.loads(run.figures.read_text())
        if error:
            result["error"] = error
        results[run.step.name] = result
        say(f"gpu-check: {run.step.name}: {status} ({seconds} s)" + (f": {error.splitlines()[-1]}" if error else ""))

    while pending or running:
        for name, run in list(running.items()):
            code = run.process.poll()
            if code is None and time.monotonic() > run.started + run.limit:
                _stop(run.process)
                finish(run, "timed out", f"stopped after {run.limit:.0f} s\n" + tail(run.log.read_text()))
            elif code == 0:
                finish(run, "ok")
            elif code is not None:
                finish(run, "failed", f"exit {code}\n" + tail(run.log.read_text()))
            else:
                continue
            del running[name]
        for step in list(pending):
            if step.after is not None:
                if step.after not in names:
                    results[step.name] = {"status": "skipped", "error": f"needs step {step.after}, not run"}
                    pending.remove(step)
                    continue
                if step.after not in results:
                    continue  # its input is still being made
                if results[step.after]["status"] != "ok":
                    results[step.name] = {
                        "status": "skipped",
                        "error": f"needs step {step.after}, which did not succeed",
                    }
                    pending.remove(step)
                    continue
            if (step.alone and running) or any(r.step.alone for r in running.values()):
                break
            if len(running) >= parallel:
                break
            left = deadline - time.monotonic()
            if left < MIN_START_S:
                results[step.name] = {"status": "skipped", "error": f"the budget of {budget_s:.0f} s was spent"}
                pending.remove(step)
                continue
            log, figures = logs / f"{step.name}.log", logs / f"{step.name}.json"
            figures.unlink(missing_ok=True)
            with log.open("w") as out:
                process = subprocess.Popen(
                    command(step, figures),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    cwd=ROOT,
                    start_new_session=True,
                )
            running[step.name] = _Running(step, process, time.monotonic(), min(step.timeout_s, left), log, figures)
            pending.remove(step)
            say(f"gpu-check: {step.name}: started")
            if step.alone:
                break
        time.sleep(0.2)
    return {step.name: results[step.name] for step in steps}


# --- what a step runs with ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """Where and how big: the GPU's sizes, or the rehearsal's on a CPU.

    Attributes:
        work: The work folder (runs, generated images).
        rehearse: On the CPU, small.
    """

    work: Path
    rehearse: bool

    @property
    def trainer(self) -> str:
        """The trainer preset that puts the run on the device."""
        return str(ROOT / "configs" / "trainer" / ("cpu.yaml" if self.rehearse else "gpu.yaml"))

    @property
    def batch_size(self) -> int:
        """Images per training step in ``throughput``."""
        return 8 if self.rehearse else 256

    @property
    def image_size(self) -> int:
        """The side of the crops in ``throughput`` and ``loader``."""
        return 64 if self.rehearse else 224

    @property
    def photos(self) -> int:
        """Generated photos for ``throughput`` (cached batches) and ``loader``."""
        return 32 if self.rehearse else 1024

    @property
    def steps(self) -> tuple[int, int]:
        """``throughput``'s warm-up and timed steps."""
        return (1, 2) if self.rehearse else (10, 30)


def preset(name: str) -> str:
    """A shipped preset's path: ``trainer/bf16-mixed`` → ``configs/trainer/bf16-mixed.yaml``."""
    return str(ROOT / "configs" / f"{name}.yaml")


def lit_nn(args: Sequence[str], cwd: Path, timeout: float = 600) -> str:
    """Run ``python -m lit_nn ARGS``, print its output (into the step's log), and insist it succeeds.

    Args:
        args: The command's arguments.
        cwd: Its folder.
        timeout: Seconds.

    Returns:
        Its output.

    Raises:
        RuntimeError: When it fails, with its last line.
    """
    print(f"$ lit-nn {' '.join(args)}", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "lit_nn", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    output = done.stdout + done.stderr
    print(output, flush=True)
    if done.returncode:
        raise RuntimeError(f"lit-nn {args[0]} exited {done.returncode}: {tail(output, 1)}")
    return output


def photo(task: tuple[str, int, int]) -> None:
    """Write one photo-like JPEG (``benchmarks.common.photo``), a task of :func:`photos`' pool.

    Args:
        task: The folder, the image's index (its seed; the class is its parity), and the shortest
            side's low end (photos are 300-500 px a side, scaled down below 300).
    """
    import numpy as np

    from benchmarks.common import photo as draw

    root, index, smallest = task
    rng = np.random.default_rng([0, index])
    image = draw(rng)
    if smallest < 300:
        scale = smallest / 300
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    split = "val" if index // 2 % 8 == 7 else "train"  # one pair in eight: both classes
    path = Path(root) / split / ("cat", "dog")[index % 2] / f"{index:05d}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=int(rng.integers(80, 96)))


def photos(folder: Path, count: int, smallest: int = 300) -> Path:
    """A folder of ``count`` photo-like JPEGs in ``train/`` and ``val/`` (one pair in eight), two classes.

    Made once, in a partial folder of this process renamed into place, and reused by later steps
    (two steps that make it at once keep the first one's).

    Args:
        folder: Where.
        count: Images.
        smallest: The shortest side's low end (photos are 300-500 px, scaled down below 300).

    Returns:
        The folder.
    """
    if folder.is_dir():
        return folder
    from multiprocessing import get_context

    partial = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    with get_context("fork").Pool(max(1, min(8, len(os.sched_getaffinity(0))))) as pool:
        pool.map(photo, [(str(partial), index, smallest) for index in range(count)], chunksize=16)
    try:
        partial.rename(folder)
    except OSError:  # another step made it first
        shutil.rmtree(partial, ignore_errors=True)
        if not folder.is_dir():
            raise
    return folder


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


# --- the steps (each runs in a child process: ``--step NAME``) -------------------------------------------------


def _step_environment(setting: Setting) -> dict[str, Any]:
    """Versions, the GPU, unmet requirements of the carried wheels, and lit_nn's JPEG decoder."""
    import importlib.metadata as metadata

    import torch
    from packaging.requirements import Requirement

    figures: dict[str, Any] = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "cpus": len(os.sched_getaffinity(0)),
    }
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        figures.update(
            gpu=properties.name,
            capability=f"{properties.major}.{properties.minor}",
            memory_gib=round(properties.total_memory / 2**30, 1),
            bf16=torch.cuda.is_bf16_supported(),
        )
    names = (
        "torchvision",
        "lightning",
        "torchmetrics",
        "pluggy",
        "numpy",
        "onnx",
        "onnxscript",
        "onnxruntime",
        "pyarrow",
        "scikit-learn",
        "typing-extensions",
        "protobuf",
        *CARRIED,
        "lit_nn",
        "wandb",
        "optuna",
        "torchcodec",
    )
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    figures["versions"] = versions
    unmet, lit_nn_absent = [], []
    site = setting.work / "site"  # where the carried wheels were installed
    carried = list(metadata.distributions(path=[str(site)])) if site.is_dir() else []
    for dist in carried:
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            try:
                have = metadata.version(requirement.name)
            except metadata.PackageNotFoundError:
                have = None
            if have is not None and requirement.specifier.contains(have, prereleases=True):
                continue
            if dist.metadata["Name"] == "lit_nn":
                lit_nn_absent.append(f"{text} (have {have})")
            else:
                unmet.append(f"{dist.metadata['Name']} needs {text}, have {have}")
    figures["carried"] = sorted(f"{d.metadata['Name']} {d.version}" for d in carried)
    figures["unmet_requirements"] = unmet
    figures["lit_nn_requirements_not_met"] = lit_nn_absent  # expected: wandb, Optuna, TorchCodec (not on these paths)
    imports = {}
    for module in ("lit_nn.cli.lightning_cli", "lit_nn.deploy.server", "lit_nn.deploy.export"):
        try:
            __import__(module)
            imports[module] = "ok"
        except Exception as exc:  # noqa: BLE001 (recorded: the step is a report)
            imports[module] = f"{type(exc).__name__}: {exc}"
    figures["imports"] = imports
    from lit_nn.data.images import jpeg_decoder

    decoder = jpeg_decoder()
    figures["jpeg_decoder"] = (
        "Pillow" if decoder is None else "TorchCodec" if isinstance(decoder, functools.partial) else "torchvision"
    )
    failed = [m for m, said in imports.items() if said != "ok"]
    if failed or unmet:
        raise StepFailed(f"cannot import {', '.join(failed)}" if failed else f"unmet: {'; '.join(unmet)}", figures)
    return figures


class StepFailed(Exception):
    """A step that failed with figures worth keeping.

    Args:
        message: What failed.
        figures: What it measured.
    """

    def __init__(self, message: str, figures: dict[str, Any]) -> None:
        super().__init__(message)
        self.figures = figures


def _throughput_cli(setting: Setting, arch: str, root: Path, state: dict[str, Any], runs: Path) -> dict[str, Any]:
    """One ``lit-nn fit`` through lit_nn's own CLI class, in this process, its steps timed."""
    import torch
    from lightning.pytorch import Callback

    from lit_nn.cli.lightning_cli import LitNNCLI
    from lit_nn.runs import RUN_DIR_ENV, SESSION_ENV

    warm, timed = setting.steps

    class StepTimer(Callback):
        """Times steps ``warm`` to ``warm + timed - 1`` between GPU synchronisations; keeps step 0's loss."""

        seconds = math.nan
        first_loss = math.nan
        threads = 0

        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:  # noqa: ANN401, D102
            if batch_idx == warm:
                self.threads = torch.get_num_threads()
                _sync()
                self.started = time.perf_counter()

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:  # noqa: ANN401, D102
            if batch_idx == 0:
                loss = outputs["loss"] if isinstance(outputs, dict) else outputs
                self.first_loss = float(loss)
            if batch_idx == warm + timed - 1:
                _sync()
                self.seconds = time.perf_counter() - self.started

    timer = StepTimer()

    class TimedCLI(LitNNCLI):
        """``lit-nn fit`` exactly, with the timer added and the shared initial weights loaded."""

        def instantiate_trainer(self, **kwargs: Any) -> Any:  # noqa: ANN401, D102
            trainer = super().instantiate_trainer(**kwargs)
            trainer.callbacks.append(timer)
            return trainer

        def before_fit(self) -> None:  # noqa: D102
            self.model.backbone.load_state_dict(state)

    args = [
        "fit",
        "--model",
        "MulticlassClassificationTask",
        "--model.backbone",
        arch,
        "--model.channels_last",
        "true",
        "--model.optimizer",
        "sgd",
        "--model.lr",
        "0.01",
        "--data",
        "benchmarks.gpu_data.CachedImageFolder",
        "--data.root",
        str(root),
        "--data.image_size",
        str(setting.image_size),
        "--data.batch_size",
        str(setting.batch_size),
        "--data.steps",
        str(warm + timed),
        "-c",
        setting.trainer,
        "-c",
        preset("trainer/bf16-mixed"),
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_val_batches",
        "0",
        "--trainer.num_sanity_val_steps",
        "0",
        "--trainer.benchmark",
        "true",
        "--seed_everything",
        "0",
        "--run.root",
        str(runs),
        *QUIET,
    ]
    torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
    try:
        TimedCLI(args=args)
    finally:  # the CLI leaves its run folder in the environment for DDP children
        for key in (RUN_DIR_ENV, SESSION_ENV):
            os.environ.pop(key, None)
    peak = round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None
    return {"seconds": timer.seconds, "first_loss": timer.first_loss, "peak_gib": peak, "threads": timer.threads}


def _throughput_hand(
    setting: Setting, arch: str, state: dict[str, Any], mean: Any, std: Any, threads: int
) -> dict[str, Any]:
    """The hand-written PyTorch AMP loop on the cached batches: what a user would write without lit_nn.

    It runs on as many torch CPU threads as lit_nn chose (``threads``): on a GPU they hardly
    matter, and on the CPU of a rehearsal they change bf16 results, which the first-step losses
    compare.
    """
    import torch
    from torch import nn

    from benchmarks.gpu_data import CACHE
    from lit_nn.registry import default_registry

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = True
    model = default_registry().create(
        "backbones",
        arch,
        input_shape=(3, setting.image_size, setting.image_size),
        output_size=2,
        activation=nn.ReLU,
        dropout=0.0,
    )
    model.load_state_dict(state)
    model = model.to(device, memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    mean, std = mean.to(device), std.to(device)
    warm, timed = setting.steps
    torch.cuda.reset_peak_memory_stats() if device.type == "cuda" else None
    first_loss, started, seconds = math.nan, 0.0, math.nan
    for step in range(warm + timed):
        images, labels = CACHE[step % len(CACHE)]
        if step == warm:
            _sync()
            started = time.perf_counter()
        x = images.to(device, non_blocking=True).float().div_(255).sub_(mean).div_(std)  # stays channels-last
        y = labels.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step == 0:
            first_loss = float(loss)
        if step == warm + timed - 1:
            _sync()
            seconds = time.perf_counter() - started
    peak = round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None
    return {"seconds": seconds, "first_loss": first_loss, "peak_gib": peak, "threads": torch.get_num_threads()}


def _decoded_batches(setting: Setting, root: Path, count: int) -> list[tuple[Any, Any]]:
    """``count`` training batches of the image folder, decoded and augmented by lit_nn's pipeline."""
    import itertools

    import torch

    from lit_nn.data.image_folder import ImageFolderDataModule

    data = ImageFolderDataModule(
        str(root),
        image_size=setting.image_size,
        batch_size=setting.batch_size,
        num_workers=min(8, len(os.sched_getaffinity(0))),
        pin_memory=False,
        persistent_workers=False,
    )
    batches = list(itertools.islice(data.loader("train", shuffle=True), count))
    if torch.cuda.is_available():
        batches = [(images.pin_memory(), labels.pin_memory()) for images, labels in batches]
    return batches


def _step_throughput(setting: Setting) -> dict[str, Any]:
    """ResNet-18 and ResNet-50 training images/s: lit_nn against the hand-written loop, same tensors."""
    import gc

    import torch

    from benchmarks.gpu_data import CACHE
    from lit_nn.data.image_folder import IMAGENET_MEAN, IMAGENET_STD
    from lit_nn.registry import default_registry

    root = photos(setting.work / "photos", setting.photos)
    CACHE[:] = _decoded_batches(setting, root, max(1, min(4, setting.photos * 7 // 8 // setting.batch_size)))
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    warm, timed = setting.steps
    figures: dict[str, Any] = {
        "batch_size": setting.batch_size,
        "image_size": setting.image_size,
        "precision": "bf16-mixed",
        "channels_last": True,
        "optimizer": "SGD (momentum 0.9, Nesterov), lr 0.01",
        "cached_batches": len(CACHE),
        "warm_up_steps": warm,
        "timed_steps": timed,
        "rounds": 2,
    }
    for arch in ("resnet18", "resnet50"):
        torch.manual_seed(0)
        shape = (3, setting.image_size, setting.image_size)
        backbone = default_registry().create(
            "backbones", arch, input_shape=shape, output_size=2, activation=torch.nn.ReLU, dropout=0.0
        )
        state = {k: v.clone() for k, v in backbone.state_dict().items()}
        runs: dict[str, list[dict[str, Any]]] = {"lit_nn": [], "hand": []}
        for order in (("lit_nn", "hand"), ("hand", "lit_nn")):
            for variant in order:
                if variant == "lit_nn":
                    result = _throughput_cli(setting, arch, root, state, setting.work / "runs" / "throughput")
                else:
                    result = _throughput_hand(setting, arch, state, mean, std, runs["lit_nn"][0]["threads"])
                result["images_per_s"] = round(setting.batch_size * timed / result["seconds"], 1)
                runs[variant].append(result)
                print(f"{arch} {variant}: {result}", flush=True)
                gc.collect()
                torch.cuda.empty_cache() if torch.cuda.is_available() else None
        rates = {v: statistics.median(r["images_per_s"] for r in found) for v, found in runs.items()}
        first = {v: found[0]["first_loss"] for v, found in runs.items()}
        figures[arch] = {
            "lit_nn_images_per_s": rates["lit_nn"],
            "hand_images_per_s": rates["hand"],
            "lit_nn_over_hand": round(rates["lit_nn"] / rates["hand"], 3),
            "goal": 0.95,
            "met": rates["lit_nn"] / rates["hand"] >= 0.95,
            "runs": runs,
            "first_step_loss": first,
            "first_step_loss_agrees": abs(first["lit_nn"] - first["hand"]) <= 0.02 * max(1.0, abs(first["hand"])),
        }
    return figures


def _step_loader(setting: Setting) -> dict[str, Any]:
    """The image folder training loader's images/s with 0, 4 and 8 workers (decode, resize, crop, flip)."""
    import torch

    from lit_nn.data.image_folder import ImageFolderDataModule
    from lit_nn.data.images import jpeg_decoder

    root = photos(setting.work / "photos", setting.photos)
    batch = 8 if setting.rehearse else 64
    figures: dict[str, Any] = {
        "batch_size": batch,
        "image_size": setting.image_size,
        "cpus": len(os.sched_getaffinity(0)),
    }
    decoder = jpeg_decoder()
    figures["jpeg_decoder"] = (
        "Pillow" if decoder is None else "TorchCodec" if isinstance(decoder, functools.partial) else "torchvision"
    )
    for workers in (0, 4, 8):
        data = ImageFolderDataModule(
            str(root),
            image_size=setting.image_size,
            batch_size=batch,
            num_workers=workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=True,
        )
        loader = data.loader("train", shuffle=True)
        rates = []
        for epoch in range(3 if workers else 2):
            started, images = time.perf_counter(), 0
            for x, _ in loader:
                images += len(x)
            if epoch or not workers:  # the first epoch of workers includes starting them
                rates.append(images / (time.perf_counter() - started))
        figures[f"workers_{workers}"] = {
            "images_per_s": round(statistics.median(rates), 1),
            "epochs_timed": len(rates),
            "images_per_epoch": images,
            "workers_used": loader.num_workers,
        }
        del loader
    return figures


def _run_dir(runs: Path) -> Path:
    found = sorted(p.parent for p in runs.glob("*/*/run.json"))
    if not found:
        raise RuntimeError(f"no run folder under {runs}")
    return found[-1]


def _fit_figures(output: str, runs: Path, rehearse: bool) -> dict[str, Any]:
    """What a fit says: the device, precision and options it ran with, finite weights, its loss line."""
    import torch
    import yaml

    run_dir = _run_dir(runs)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    (best,) = sorted((run_dir / "checkpoints").glob("best-*.ckpt"))[-1:] or [None]
    if best is None:
        raise RuntimeError(f"no best checkpoint in {run_dir / 'checkpoints'}")
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    finite = all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point())
    used = re.search(r"GPU available: (\w+).*?used: (\w+)", output)
    figures = {
        "run": str(run_dir),
        "checkpoint": str(best),
        "gpu_used": used is not None and used.group(2) == "True",
        "precision": config["trainer"].get("precision"),
        "accelerator": config["trainer"].get("accelerator"),
        "channels_last": config["model"]["init_args"].get("channels_last"),
        "compile": config["model"]["init_args"].get("compile"),
        "weights_finite": finite,
        "loss_curves": next((line for line in output.splitlines() if line.startswith("Loss curves")), None),
    }
    if not finite:
        raise StepFailed("the checkpoint holds NaN or infinite weights", figures)
    if not rehearse and not figures["gpu_used"]:
        raise StepFailed("the fit did not run on the GPU", figures)
    return figures


def _fit_digits(setting: Setting, name: str, *extra: str) -> dict[str, Any]:
    runs = setting.work / "runs" / name
    shutil.rmtree(runs, ignore_errors=True)
    epochs = "1" if setting.rehearse else "3"
    output = lit_nn(
        [
            "fit",
            "-c",
            preset("digits"),
            "-c",
            setting.trainer,
            *extra,
            "--trainer.max_epochs",
            epochs,
            "--run.root",
            str(runs),
            *QUIET,
        ],
        cwd=setting.work,
    )
    return _fit_figures(output, runs, setting.rehearse)


def _step_fit_digits_bf16(setting: Setting) -> dict[str, Any]:
    """Digits on the GPU, ``bf16-mixed``: the checkpoint ``deploy`` tests, exports and serves."""
    return _fit_digits(setting, "fit-digits-bf16", "-c", preset("trainer/bf16-mixed"))


def _step_fit_digits_16(setting: Setting) -> dict[str, Any]:
    """Digits on the GPU, ``16-mixed`` (float16 with loss scaling)."""
    return _fit_digits(setting, "fit-digits-16", "-c", preset("trainer/16-mixed"))


def _step_fit_digits_compile(setting: Setting) -> dict[str, Any]:
    """Digits on the GPU, ``bf16-mixed``, channels-last and compiled."""
    return _fit_digits(
        setting,
        "fit-digits-compile",
        "-c",
        preset("trainer/bf16-mixed"),
        "--model.channels_last",
        "true",
        "--model.compile",
        "true",
    )


def _fit_images(setting: Setting, name: str, *extra: str) -> dict[str, Any]:
    root = photos(setting.work / "photos-small", 64 if setting.rehearse else 256, smallest=80)
    runs = setting.work / "runs" / name
    shutil.rmtree(runs, ignore_errors=True)
    output = lit_nn(
        [
            "fit",
            "--model",
            "BinaryClassificationTask",
            "--model.backbone",
            "resnet18",
            "--model.channels_last",
            "true",
            "--data",
            "image_folder",
            "--data.root",
            str(root),
            "--data.image_size",
            "64",
            "--data.batch_size",
            "16",
            "--data.num_workers",
            "2",
            "-c",
            setting.trainer,
            *extra,
            "--trainer.max_epochs",
            "1" if setting.rehearse else "2",
            "--seed_everything",
            "0",
            "--run.root",
            str(runs),
            *QUIET,
        ],
        cwd=setting.work,
    )
    return _fit_figures(output, runs, setting.rehearse)


def _step_fit_images(setting: Setting) -> dict[str, Any]:
    """A generated image folder, ResNet-18 on the GPU: ``bf16-mixed``, channels-last, compiled."""
    return _fit_images(setting, "fit-images", "-c", preset("trainer/bf16-mixed"), "--model.compile", "true")


def _step_fit_images_16(setting: Setting) -> dict[str, Any]:
    """A generated image folder, ResNet-18 on the GPU: ``16-mixed``, channels-last."""
    return _fit_images(setting, "fit-images-16", "-c", preset("trainer/16-mixed"))


def _step_tests(setting: Setting) -> dict[str, Any]:
    """The GPU-only tests: the test files that use ``tests/helpers/run_if.py``, its marked tests only."""
    files = gpu_test_files()
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--gpu-only", "-rA", "-q", *files]
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
    )
    print(done.stdout + done.stderr, flush=True)
    outcomes: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        found = re.match(r"^(PASSED|FAILED|SKIPPED|ERROR)\s+(\S+)", line)
        if found:
            outcomes.setdefault(found.group(1).lower(), []).append(found.group(2))
    summary = next((line.strip("= ") for line in reversed(done.stdout.splitlines()) if " in " in line), None)
    figures = {"files": files, "summary": summary, **outcomes}
    if done.returncode:
        raise StepFailed(f"pytest exited {done.returncode}: {summary}", figures)
    return figures


def gpu_test_files() -> list[str]:
    """The test files that mark GPU-only tests: those that import ``tests/helpers/run_if.py``.

    Returns:
        Their paths, relative to the repository, sorted.
    """
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").rglob("test_*.py")
        if "tests.helpers.run_if import" in path.read_text(encoding="utf-8")
    )


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _request(port: int, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> tuple[int, Any]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    if body is None:
        connection.request("GET", path)
    else:
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read().decode()
    with contextlib.suppress(ValueError):
        return response.status, json.loads(text)
    return response.status, text


def _step_deploy(setting: Setting) -> dict[str, Any]:
    """The GPU-trained digits checkpoint tested, exported to ONNX and served; the answers against the export's."""
    import numpy as np
    import onnxruntime
    from sklearn.datasets import load_digits

    run_dir = _run_dir(setting.work / "runs" / "fit-digits-bf16")
    checkpoint = sorted((run_dir / "checkpoints").glob("best-*.ckpt"))[-1]
    figures: dict[str, Any] = {"checkpoint": str(checkpoint)}
    lit_nn(["test", "--ckpt_path", str(checkpoint), *QUIET], cwd=setting.work)
    metrics = sorted(run_dir.glob("test-*-metrics.json"))
    figures["test_metrics"] = json.loads(metrics[-1].read_text()) if metrics else None
    onnx_file = setting.work / "digits.onnx"
    for stale in (onnx_file, onnx_file.with_name(onnx_file.name + ".json")):
        stale.unlink(missing_ok=True)
    exported = lit_nn(["export", "--ckpt_path", str(checkpoint), "--output", str(onnx_file)], cwd=setting.work)
    figures["export_check"] = next((line for line in exported.splitlines() if line.startswith("Checked")), None)
    samples = load_digits().data.astype(np.float32)[:64]
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"features": samples.reshape(-1, 1, 8, 8)})[0].tolist()
    port = _free_port()
    log = (setting.work / "serve.log").open("w")
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "lit_nn", "serve", "--ckpt_path", str(checkpoint), "--port", str(port)],
        cwd=setting.work,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"lit-nn serve exited {server.returncode}: {tail(Path(log.name).read_text(), 3)}")
            with contextlib.suppress(OSError):
                if _request(port, "/health", timeout=2)[0] == 200:
                    break
            time.sleep(0.2)
        figures["serve_ready_s"] = round(time.perf_counter() - started, 1)
        labels = []
        began = time.perf_counter()
        for row in samples:
            status, answer = _request(port, "/predict", {"features": row.tolist()})
            labels.append(answer["label"] if status == 200 else None)
        figures["single_requests_per_s"] = round(len(samples) / (time.perf_counter() - began), 1)
        status, answer = _request(port, "/predict", {"features": samples.tolist()})
        batch_labels = [p["label"] for p in answer["predictions"]] if status == 200 else None
        figures["info"] = _request(port, "/info")[1]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    figures["served_agree_with_onnx"] = sum(a == b for a, b in zip(labels, expected, strict=True)) / len(expected)
    figures["batch_request_agrees_with_onnx"] = batch_labels == expected
    figures["serve_log_tail"] = tail(Path(log.name).read_text(), 6)
    if figures["served_agree_with_onnx"] < 1 or not figures["batch_request_agrees_with_onnx"]:
        raise StepFailed("the served model's labels differ from the ONNX export's", figures)
    return figures


def run_step(name: str, figures_file: Path, setting: Setting) -> int:
    """Run one step in this process and write its figures (a child of :func:`run_steps`).

    Args:
        name: The step.
        figures_file: Where its figures go (also those of a failed step that kept some).
        setting: Sizes and device.

    Returns:
        The exit status: 0 when it succeeded.
    """
    setting.work.mkdir(parents=True, exist_ok=True)
    step = globals()[f"_step_{name.replace('-', '_')}"]
    code = 0
    try:
        figures = step(setting)
    except StepFailed as failed:
        figures, code = {**failed.figures, "error": str(failed)}, 1
        print(f"gpu-check: {name}: {failed}", flush=True)
    except BaseException:
        traceback.print_exc()
        sys.stdout.flush()
        return 1
    figures_file.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return code


# --- the whole check, the installation, the preparation -------------------------------------------------------


def no_gpu_line() -> str | None:
    """The one line said where there is no CUDA GPU (importing torch only).

    Returns:
        The line, or ``None`` when there is a GPU.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a CUDA build's complaint about a missing driver is the line below
        try:
            import torch
        except ImportError as exc:
            return f"gpu-check: no GPU check here: {sys.executable} cannot import torch ({exc}); nothing was run"
        if torch.cuda.is_available():
            return None
        return (
            f"gpu-check: no CUDA GPU here (torch {torch.__version__}): nothing was run; run `make gpu-check` on a "
            "GPU machine (docs/performance.md, GPU check)"
        )


def install(wheels: Path, site: Path) -> dict[str, Any]:
    """Install the carried wheels beside this Python's own packages: ``pip install --no-deps --target``.

    Args:
        wheels: The folder ``--prepare`` filled.
        site: Where they go (put on ``PYTHONPATH`` for the steps).

    Returns:
        ``status``, ``seconds``, the wheels, and pip's error when it failed.
    """
    files = sorted(str(p) for p in wheels.glob("*.whl"))
    if not files:
        return {"status": "skipped", "error": f"no wheels in {wheels}: using what this Python has (make gpu-prep)"}
    started = time.perf_counter()
    shutil.rmtree(site, ignore_errors=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--no-compile",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--target",
            str(site),
            *files,
        ],
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = {
        "status": "ok" if done.returncode == 0 else "failed",
        "seconds": round(time.perf_counter() - started, 1),
        "wheels": [Path(f).name for f in files],
    }
    if done.returncode:
        result["error"] = tail(done.stdout + done.stderr)
    return result


def check(args: argparse.Namespace) -> int:
    """The whole check: install, run the steps, write the figures.

    Args:
        args: The command line.

    Returns:
        The exit status: 0 when every step succeeded.
    """
    import torch

    started = time.monotonic()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    installed = (
        install(Path(args.wheels), work / "site")
        if not args.no_install
        else {"status": "skipped", "error": "--no-install"}
    )
    print(f"gpu-check: install: {installed['status']}" + (f": {installed['error']}" if "error" in installed else ""))
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
    if installed["status"] == "ok":
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(work / "site"), os.environ.get("PYTHONPATH")) if p)
    only = set(args.only.split(",")) if args.only else None
    unknown = sorted((only or set()) - {s.name for s in STEPS})
    if unknown:
        raise SystemExit(
            f"gpu-check: no step named {', '.join(unknown)}; the steps: {', '.join(s.name for s in STEPS)}"
        )
    steps = [s for s in STEPS if only is None or s.name in only]
    budget = args.budget
    if args.rehearse:  # a CPU, and maybe a shared one: the same steps, more time
        steps = [dataclasses.replace(s, timeout_s=s.timeout_s * REHEARSAL_SLACK) for s in steps]
        budget *= REHEARSAL_SLACK

    def command(step: Step, figures: Path) -> list[str]:
        return [
            sys.executable,
            str(Path(__file__).resolve()),
            "--step",
            step.name,
            "--figures",
            str(figures),
            "--work",
            str(work),
            *(["--rehearse"] if args.rehearse else []),
        ]

    results = run_steps(steps, command, work / "logs", budget_s=budget, env=env)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (a rehearsal on the CPU)"
    report = {
        "gpu": gpu,
        "rehearsal": args.rehearse,
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "budget_s": budget,
        "seconds": round(time.monotonic() - started, 1),
        "install": installed,
        "steps": results,
        "summary": summary(results),
    }
    out = Path(args.json) if args.json else (work / "rehearsal.json" if args.rehearse else RESULT)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(json.dumps(report, indent=2, default=str) + "\n")
    partial.replace(out)
    failed = [name for name, result in results.items() if result["status"] != "ok"]
    print(
        f"gpu-check: {len(results) - len(failed)} of {len(results)} steps succeeded on {gpu} in "
        f"{report['seconds']} s" + (f"; not: {', '.join(failed)}" if failed else "") + f"; figures in {out}"
    )
    return 1 if failed else 0


def summary(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The headline figures: lit_nn against the hand loop, and the loader against the GPU's step rate.

    Args:
        results: :func:`run_steps`' results.

    Returns:
        ``lit_nn_over_hand`` per network, and per worker count the loader's images/s over each
        network's lit_nn training images/s (at least 1: the loader keeps up).
    """
    figures = results.get("throughput", {}).get("figures", {})
    loader = results.get("loader", {}).get("figures", {})
    found: dict[str, Any] = {}
    for arch in ("resnet18", "resnet50"):
        if arch in figures:
            found[f"{arch}_lit_nn_over_hand"] = figures[arch]["lit_nn_over_hand"]
            found[f"{arch}_images_per_s"] = figures[arch]["lit_nn_images_per_s"]
    for workers in (0, 4, 8):
        rate = loader.get(f"workers_{workers}", {}).get("images_per_s")
        for arch in ("resnet18", "resnet50"):
            if rate and arch in figures:
                found[f"loader_{workers}_workers_over_{arch}_steps"] = round(
                    rate / figures[arch]["lit_nn_images_per_s"], 2
                )
    return found


def prepare(wheels: Path, python_version: str) -> int:
    """Download the carried wheels and build lit_nn's (``make gpu-prep``, here, with the network).

    Args:
        wheels: The folder (emptied first).
        python_version: The GPU machine's Python (``3.12``).

    Returns:
        The exit status.
    """
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    pins = [f"{name}=={version}" for name, version in CARRIED.items()]
    download = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        *platforms,
        "--dest",
        str(wheels),
        *pins,
    ]
    build = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--wheel-dir",
        str(wheels),
        str(ROOT),
    ]
    for command in (download, build):
        if subprocess.run(command).returncode:
            print(f"gpu-prep: failed: {' '.join(command[:4])} …", file=sys.stderr)
            return 1
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' build folder
    sizes = {p.name: p.stat().st_size for p in wheels.glob("*.whl")}
    tree = _tree_bytes()
    total = sum(sizes.values()) + tree
    for name, size in sorted(sizes.items(), key=lambda item: -item[1]):
        print(f"  {size / 2**20:7.2f} MiB  {name}")
    print(
        f"gpu-prep: {len(sizes)} wheels, {sum(sizes.values()) / 2**20:.1f} MiB in {wheels}; with the working tree "
        f"({tree / 2**20:.1f} MiB) {total / 2**20:.1f} MiB travel, of the {CARRY_LIMIT_MIB} MiB a call carries"
    )
    return 0 if total < CARRY_LIMIT_MIB * 2**20 else 1


def _tree_bytes() -> int:
    """The bytes of the working tree that travels: tracked files and untracked ones git does not ignore."""
    done = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True
    )
    paths = [ROOT / p for p in done.stdout.decode().split("\0") if p]
    return sum(p.stat().st_size for p in paths if p.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    """``make gpu-check`` (and ``make gpu-prep``: ``--prepare``).

    Args:
        argv: The arguments (``sys.argv[1:]`` by default).

    Returns:
        The exit status: 0 without a GPU, and when every step succeeded.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="download the carried wheels, build lit_nn's")
    parser.add_argument("--python-version", default="3.12", help="the GPU machine's Python, for --prepare")
    parser.add_argument("--rehearse", action="store_true", help="every step on the CPU, small")
    parser.add_argument("--only", help="comma-separated steps")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for all steps")
    parser.add_argument("--json", help=f"where the figures go (default {RESULT.relative_to(ROOT)})")
    parser.add_argument("--work", default=str(WORK), help="runs, images and logs")
    parser.add_argument("--wheels", default=str(WHEELS), help="the carried wheels")
    parser.add_argument("--no-install", action="store_true", help="use what this Python has")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--figures", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        return prepare(Path(args.wheels), args.python_version)
    if args.step:
        return run_step(args.step, Path(args.figures), Setting(Path(args.work), args.rehearse))
    line = None if args.rehearse else no_gpu_line()
    if line is not None:
        print(line)
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
