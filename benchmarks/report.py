"""Render ``docs/performance.md`` from the benchmarks' JSON results (``benchmarks/performance.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Result = Mapping[str, Any]


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table.

    Args:
        header: Column titles.
        rows: Cells, converted with ``str``.

    Returns:
        The table, one line per row.
    """
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(met: bool) -> str:
    """Say whether a goal was met.

    Args:
        met: Whether it was.

    Returns:
        ``"met"`` or ``"**not met**"``.
    """
    return "met" if met else "**not met**"


def provenance(result: Result) -> str:
    """The line under each section saying where and how its figures were measured.

    Args:
        result: One benchmark's figures.

    Returns:
        Machine, date, the script's own wall time and peak memory.
    """
    script = result.get("script", {})
    quick = " with --quick" if script.get("quick") else ""
    return (
        f"Measured {script.get('date', '?')}{quick} on {result['machine']}; the script took "
        f"{script.get('seconds', '?')} s, peak memory {script.get('peak_mib', '?')} MiB."
    )


def startup(result: Result) -> str:
    """The start-up section.

    Args:
        result: ``benchmarks/startup.py``'s figures.

    Returns:
        Markdown.
    """
    goal, goals = result["goal_seconds"], result.get("goals_s", {})

    def goal_cell(name: str) -> str:
        if name in goals:
            return f"< {goals[name]} s: {verdict(result['goals_met'][name])}"
        if name in result["goals_met"]:
            return f"< {goal:.0f} s: {verdict(result['goals_met'][name])}"
        return "floor"

    rows = [
        (f"`{name}`", f"{f['median_s']:.2f}", f"{f['min_s']:.2f}", f"{f['peak_mib']:.0f}", goal_cell(name))
        for name, f in result["commands"].items()
    ]
    return "\n".join(
        [
            "## Start-up",
            "",
            "Wall time of a fresh process (median of the runs; the commands alternated), and its peak",
            "memory. Listing commands import no torch, Lightning or plugin code: every name is registered",
            "by import path (`lit_nn.lazy`) and imported when a run uses it. `plugins --kind` reads each",
            "factory's arguments, so it imports torch; `fit --help` builds Lightning's parser. The first",
            "step is stamped by a callback in the real `lit-nn fit -c configs/digits.yaml` (W&B offline),",
            "from the moment the process was launched. The floors are Python alone, with torch, and with",
            "Lightning (which imports all of torchmetrics, and through it torchvision, torch._dynamo,",
            "scipy.signal and matplotlib, before lit_nn runs a line).",
            "",
            table(("command", "median s", "min s", "peak MiB", "goal"), rows),
            "",
            provenance(result),
        ]
    )


def image_pipeline(result: Result) -> str:
    """The image input pipeline section.

    Args:
        result: ``benchmarks/image_pipeline.py``'s figures.

    Returns:
        Markdown.
    """
    goals = result.get("goals", {})
    rows = []
    for mode, title in (("in_process", "one thread, in process"), ("one_worker", "one worker process")):
        for name, figures in result.get(mode, {}).items():
            ratio = figures["ratio"]
            goal = f" (goal {goals[mode]}: {verdict(ratio >= goals[mode])})" if name in ("train", "val") else ""
            rows.append((title, name, f"{figures['images_per_s']:.0f}", f"{ratio:.3f}{goal}"))
    return "\n".join(
        [
            "## Image input pipeline",
            "",
            f"{result['images']} generated photo-like JPEGs (mean {result['mean_file_kib']} KiB, 300-500 px), "
            f"resized to {result['image_size']} px, batch {result['batch_size']}, {result['rounds']} rounds. "
            "Baseline: read the file, TorchCodec's `decode_jpeg`, the same resize and crop, `default_collate` "
            "(`uint8`). `train`: the `image_folder` datamodule's training loader (decode, resize, random crop, "
            "flip, `uint8` channels-last batch); `val`: its evaluation loader (centre crop); `val_normalised`: "
            "`val` then the datamodule's `on_after_batch_transfer`, which makes normalised `float32` on the "
            "device the batch reached, here this CPU (on a GPU that step runs there). In process the loaders "
            "alternate batch by batch, with a worker epoch by epoch; the ratio is the median over rounds of "
            "the rate over the baseline's in the same round.",
            "",
            table(("mode", "loader", "images/s", "ratio to baseline"), rows),
            "",
            f"Peak memory of a worker process: {result.get('worker_peak_mib', '?')} MiB. " + provenance(result),
        ]
    )


def csv_loading(result: Result) -> str:
    """The CSV loading section.

    Args:
        result: ``benchmarks/csv_loading.py``'s figures.

    Returns:
        Markdown.
    """
    readers = result["readers"]
    rows = [
        (name, f"{r['seconds']:.2f}", f"{r['peak_growth_mib']:.0f}", f"{r['read_bytes'] / 2**20:.1f}")
        for name, r in readers.items()
    ]
    goals = result["goals"]
    lines = [
        "## CSV loading",
        "",
        f"`CSVDataModule` on a generated file of {result['rows']:,} rows x {result['columns']} columns (14 numbers, "
        f"3 categories, a 5-class target; {result['file_mib']} MiB; features {result['features_mib']} MiB as "
        "float32), each load in a fresh process, the readers alternating (median of the runs). `previous`: "
        "the pure-Python reader this one replaced (`csv` module, lists of strings), read from git; "
        "`current`: pyarrow's block reader (`lit_nn/data/csv_read.py`). Peak memory is above the process's "
        "own after its imports; read MiB is what the process read from files while loading.",
        "",
        table(("reader", "seconds", "peak growth MiB", "read MiB"), rows),
        "",
        f"Speed-up {result['speedup']}x (goal {goals['speedup']:.0f}x: "
        f"{verdict(result['speedup'] >= goals['speedup'])}); "
        f"peak growth {result['memory_over_file']}x the file (goal {goals['memory_over_file']}x: "
        f"{verdict(result['memory_over_file'] <= goals['memory_over_file'])}).",
    ]
    big = result.get("big")
    if big:
        lines += [
            "",
            f"The same content repeated to {big['file_mib']:,} MiB ({big['rows']:,} rows): loaded in "
            f"{big['seconds']} s, peak growth {big['peak_growth_mib']:,} MiB = {big['memory_over_file']}x the file "
            f"(features {big['features_mib']:,} MiB), the file read {big['reads_of_the_file']} times "
            f"(goal: once, {verdict(big['reads_of_the_file'] < 1.5)}; memory "
            f"{verdict(big['memory_over_file'] <= goals['memory_over_file'])}).",
        ]
    return "\n".join([*lines, "", provenance(result)])


def overhead(result: Result) -> str:
    """The per-step overhead section.

    Args:
        result: ``benchmarks/overhead.py``'s figures.

    Returns:
        Markdown.
    """
    rows = []
    for batch, figures in result["batch"].items():
        for name, variant in figures["variants"].items():
            rows.append(
                (
                    batch,
                    name,
                    f"{variant['loop_s']:.3f}",
                    f"{variant['us_per_step']:.0f}",
                    f"{variant['ratio_to_hand']:.3f}",
                    f"{variant['overhead_us_per_step']:.0f}",
                    f"{variant['final_loss']:.6f}",
                )
            )
        rows.append((batch, "lit_nn / barebones", "", "", f"{figures['lit_nn_over_barebones']:.3f}", "", ""))
        if "lit_nn_over_peer" in figures:
            rows.append((batch, "lit_nn / peer", "", "", f"{figures['lit_nn_over_peer']:.3f}", "", ""))
    goals = [(name, goal["value"], verdict(goal["met"])) for name, goal in result["goals"].items()]
    probe = result.get("accelerator_check_per_step", {})
    return "\n".join(
        [
            "## Overhead per training step",
            "",
            f"{result['model']}, {result['train_samples']:,} synthetic samples, torch threads "
            f"{result['torch_threads']}, {result['clock']} clock, median of {result['runs']} alternated runs. "
            "`hand`: a hand-written PyTorch loop over the same DataLoader; `barebones`: "
            "`Trainer(barebones=True)` on a bare LightningModule; `peer`: lightning-hydra-template's "
            "`MNISTLitModule` (torchmetrics and `self.log` every step) under Lightning's default Trainer "
            "(progress bar, checkpoint, CSV logger); `lit_nn`: `MulticlassClassificationTask` "
            "built by `LitNNCLI` with the defaults of `lit-nn fit` (metrics, logging, checkpoints, progress "
            "bar, lit_nn's callbacks; CSV logger). Same initial weights, data order, optimiser and steps; "
            "time of the training epochs with validation and checkpoints.",
            "",
            table(("batch", "variant", "seconds", "µs/step", "× hand", "overhead µs/step", "final loss"), rows),
            "",
            table(("goal", "value", ""), goals),
            "",
            "`optimizer.step()` asks torch whether an accelerator is available; with Lightning's "
            "`PYTORCH_NVML_BASED_CUDA_CHECK=1` and no NVML library that costs "
            f"{probe.get('with_lightning_setting_us', '?')} µs a step here, without it "
            f"{probe.get('without_us', '?')} µs, so lit_nn drops the variable during a run when NVML is "
            "missing. " + provenance(result),
        ]
    )


TIME_TO_ACCURACY_COLUMNS = ("seed", "one process s", "fit s", "test s", "two processes s", "one / two",
                            "CPU s (one / two)", "test acc", "peak MiB", "load before (one / two)")  # fmt: skip


def time_to_accuracy(result: Result) -> str:
    """The time-to-accuracy section.

    Args:
        result: ``benchmarks/time_to_accuracy.py``'s figures.

    Returns:
        Markdown.
    """
    rows = [
        (
            run["seed"],
            f"{run['one_process_s']:.1f}",
            f"{run['fit_s']:.1f}",
            f"{run['test_s']:.1f}",
            f"{run['total_s']:.1f}",
            f"{run['ratio']:.2f}",
            f"{run['one_process_cpu_s']:.1f} / {run['total_cpu_s']:.1f}",
            f"{run['one_process_test_acc']:.4f}",
            f"{max(run['fit_peak_mib'], run['test_peak_mib'], run['one_process_peak_mib']):.0f}",
            f"{run['one_process_load_1min']:.1f} / {run['load_1min']:.1f}",
        )
        for run in result["runs"]
    ]
    one, fit, test = result["commands"]
    same = "the same" if result["same_accuracy_both_ways"] else "**not** the same"
    return "\n".join(
        [
            "## Time to accuracy",
            "",
            "Wall time of the real commands, start-up included, each seed in a fresh run folder (W&B offline, "
            f"progress bars on): `{one}` (what `make demo` runs) in one process, against `{fit}` then `{test}` "
            "as two; the order alternates from seed to seed, and the one-minute load average is taken before each. "
            "Seed 0 is the shipped config; other seeds change the split too (`--data.seed`). "
            f"Goal: {result['goal']}: {verdict(result['goal_met'])}.",
            "",
            table(TIME_TO_ACCURACY_COLUMNS, rows),
            "",
            f"Median: {result['median_one_process_s']:.1f} s in one process against {result['median_total_s']:.1f} s "
            f"in two (ratio {result['median_ratio']:.2f}); CPU time {result['median_one_process_cpu_s']:.1f} s "
            f"against {result['median_total_cpu_s']:.1f} s (ratio {result['median_cpu_ratio']:.2f}: CPU time is what "
            f"a busy machine stretches least). Test accuracy is {same} both ways; mean "
            f"{result['mean_test_acc']:.4f} (lowest {result['min_test_acc']:.4f}). " + provenance(result),
        ]
    )


HOW = """## What lit_nn does to stay fast

Found with cProfile and A/B runs of `benchmarks/overhead.py` (details in the commit history):

- **Metrics** are updated once per 16 batches with the batches concatenated
  (`lit_nn/tasks/stage_metrics.py`, `StageMetrics`): the counts and sums torchmetrics keeps are the same, its per-call
  checks and bookkeeping (0.7-0.9 ms a batch here) are paid once. Top-k accuracy is computed
  without one-hot tensors.
- **Logging**: Lightning's `self.log` costs 0.6-1 ms a call here. `train/loss` is logged on the
  steps a logger writes (every `log_every_n_steps`, the same CSV rows as before) and on each
  epoch's last step; its epoch mean is kept in a `MeanMetric` and logged once per epoch, as are
  `val/loss` and `test/loss`.
- **Progress bar**: `lit-nn fit` uses `ThrottledProgressBar` (redraws at most every 0.1 s, and at
  each epoch's first and last batch) unless a bar is configured; Lightning's redraws twice a batch.
  It shows each drawn step's loss from the training step's output, so no `self.log` is spent on it.
- **Callbacks**: callbacks with nothing to do are left out (activation statistics off, plots off,
  SLURM requeue outside SLURM) and the per-batch hooks a callback does not implement are skipped.
- **The floor**: with a CUDA build of torch and no NVML library, every `optimizer.step()` probes
  for a GPU through NVML because Lightning sets `PYTORCH_NVML_BASED_CUDA_CHECK=1`; the CLI's
  `SkipFutileNvmlCheck` callback drops the variable for the run (torch falls back to the same
  answer) and puts it back afterwards.
  Lightning's `_current_fx_name` bookkeeping skips `nn.Module.__setattr__` (`lit_nn/tasks/speed.py`, with the
  step-loss logging rule above).
- **Start-up**: built-ins and `lit-nn-extras` register by import path (`lit_nn.lazy`), so listing
  names imports nothing heavy; only the running command's Lightning parser is built (building all
  four cost about 0.4 s). The collector is off while the command imports, and after the imports
  `gc.freeze()` moves the few hundred thousand objects
  they made out of the collector's way (`lit_nn/cli/gc_freeze.py`): about 1.5 s less at exit and 1-3 s
  less in a short digits fit, measured on the 2-CPU machine below. `lit-nn fit --test true` (what
  `make demo` runs) tests in the fit's process, so fit and test pay the start once: the test itself
  then takes about 1.2 s (0.7 s of CPU), where a second process takes 6-10 s (`lit_nn/cli/fit_test.py`).
- **Threads**: `ChooseThreads` (see "Threads under load") sets one thread for a small step and the
  free share of the CPUs otherwise.
- **Images**: JPEGs smaller than twice the resize are decoded by TorchCodec's libjpeg-turbo
  straight to `uint8` tensors (larger ones with Pillow's draft mode, which decodes them at reduced
  size); resize, crop and flip run on `uint8`; batches stay `uint8` and channels-last (the
  decoders' layout: each crop is copied row by row, about 20x faster than transposing it), written
  into shared memory in a worker, and become normalised `float32` in the datamodule's
  `on_after_batch_transfer`, on the device. Loader workers persist between epochs; memory is
  pinned only when training on CUDA.
- **CSV**: pyarrow reads the file once in 4 MiB blocks, every field as text; each block becomes
  float32 numbers or dictionary codes at once, and the features are written straight into one
  float32 matrix (`lit_nn/data/csv_read.py`).

## Not met, and why

- **lit_nn over the hand-written loop** (goals 1.03 at batch 256 and 1.10 at batch 64): on this
  2-core machine Lightning's own floor, `Trainer(barebones=True)`, already costs about 1.6 ms a
  step over the hand loop (roughly 470 Python calls of Lightning's loop and hooks per step at a few
  µs each); lit_nn adds about 0.1-0.2 ms on top of it. What lit_nn controls in the floor (the NVML
  probe, the `__setattr__` bookkeeping) is removed; the rest is Lightning's loop.
- **Start-up** (`lit-nn fit --help` under 3.5 s, the first step under 4 s): below the floor
  measured in the same run. `import lightning.pytorch` alone takes longer
  than both first goals on this machine, because Lightning's version checks import all of
  torchmetrics, which imports torchvision, torch._dynamo (which Lightning imports anyway),
  scipy.signal and matplotlib if they are installed (about 1.4 s of it here). `lit-nn fit --help`
  comes in under that floor (the collector is off while it imports, and what the imports made is
  frozen, so the exit skips a full collection); the first step adds parsing the config, starting
  the W&B run (about 1 s) and building data and model. Hiding scipy and matplotlib from
  torchmetrics' availability checks would save that 1.4 s a process, but would switch off every
  torchmetrics feature that needs them for plugins too; not done. (Digits fit + test under 15 s is
  met by testing in the fit's process, `--test true`: "Time to accuracy".)
- **CSV memory on a small file**: by design the load holds the features (136 bytes a row here)
  and the number columns (64 bytes a row) together while it builds the matrix, about 1.5x the
  file (133 bytes a row); pyarrow's fixed state (compute kernels, buffers: 15-30 MiB) comes on top,
  which on the 25 MiB file is enough to pass 2x. At 1.9 GB the fixed part is small and the load
  stays under 2x.
- **Not measured**: no GPU machine has been lent yet, so ResNet-18 images per second with
  `bf16-mixed` and `channels_last` has no figure yet; `make gpu-check` measures it (see
  [GPU check](#gpu-check)). Both switches exist on every task:
  `--model.channels_last true` (4-D inputs and weights in the channels-last layout) and
  `--model.compile true` (`nn.Module.compile` on the backbone, so checkpoints keep their
  parameter names; compiling a small MLP takes about 20 s on this CPU before the first step).
"""


def threads(result: Result) -> str:
    """The thread-count section.

    Args:
        result: ``benchmarks/threads.py``'s figures.

    Returns:
        Markdown.
    """
    fits = result["fits"]
    rows = [(name, f"{f['median_s']:.1f}", f["threads"]) for name, f in fits.items()]
    return "\n".join(
        [
            "## Threads under load",
            "",
            f"Wall time of `lit-nn fit -c digits` for {result['epochs']} epochs (a fresh process, imports",
            "included), alone and beside one busy loop per CPU; torch's default of one thread per core",
            "against lit_nn's choice (`lit_nn/callbacks/threads.py`: one thread for a step under 200",
            "MFLOP, else the process's share of the CPUs that other work leaves free; `LIT_NN_THREADS`",
            "or `OMP_NUM_THREADS` override it).",
            "",
            table(("case", "seconds", "threads"), rows),
            "",
            provenance(result),
        ]
    )


def serving(result: Result) -> str:
    """The serving and inference section: the PyTorch server against the ONNX server.

    Args:
        result: ``benchmarks/serving.py``'s figures.

    Returns:
        Markdown.
    """
    titles = {"pytorch": "PyTorch, checkpoint", "onnx": "ONNX, export"}
    rows = []
    for name, s in result["servers"].items():
        kind = name.removesuffix("_unbatched")
        rows.append((
            f"{titles[kind]} (max_batch_size {s['max_batch_size']})", f"{s['startup_seconds']:.1f}",
            f"{s['startup_cpu_seconds']:.1f}", f"{s['rss_mib']:,.0f}", f"{s['pss_mib']:,.0f}", s["processes"],
            f"{s['requests_per_second']:,.0f}", f"{s['p50_ms']:.1f}", f"{s['p99_ms']:.1f}", s["errors"],
            s["wrong_answers"], f"{s['server_cpu_ms_per_request']:.2f}",
        ))  # fmt: skip
    header = ("server", "start-up s", "start-up CPU s", "RSS MiB", "PSS MiB", "processes", "req/s", "p50 ms",
              "p99 ms", "errors", "wrong", "server CPU ms/request")  # fmt: skip
    onnx, pytorch = result["servers"]["onnx"], result["servers"]["pytorch"]
    ratios, goals = result["onnx_vs_pytorch"], result["goals"]
    inference = result["inference_us_per_sample"]
    per_sample = [
        (key.replace("batch_", "batch "), f["onnxruntime"], f["pytorch"], f"{f['speedup']}x")
        for key, f in inference.items()
    ]
    versions = ", ".join(f"{name} {v}" for name, v in result["versions"].items())
    load = result["load_average"]
    return "\n".join(
        [
            "## Serving and inference",
            "",
            f"The {result['model']}, served on 127.0.0.1 by `lit-nn serve -c digits --ckpt_path best` (PyTorch, "
            "in the run's folder) and by `lit-nn serve digits.onnx` (onnxruntime, in a folder holding only the "
            "export and its metadata), each with batching on (the default) and off. Start-up: from launch to "
            "the first healthy `/health`, median of the starts made while no other server ran, and the CPU "
            "seconds the server's processes had spent by then. Memory: the server's whole process tree after "
            "the load, RSS summed (as `ps` adds it up) and PSS (pages the forked processes share counted "
            "once). Load: single-sample JSON requests from "
            f"{onnx['clients']} concurrent clients (threads of the benchmark, one kept-alive connection each; "
            "they share the CPUs with the server) in rounds that alternate between the servers (the others "
            "suspended), after 100 warm-up requests; req/s is the median round, p50 and p99 over all "
            f"{onnx['requests']:,} requests. Every answer is checked against the ONNX export's label for that "
            "sample.",
            "",
            table(header, rows),
            "",
            f"ONNX against PyTorch: {ratios['requests_per_second']}x the requests per second, "
            f"{ratios['startup_seconds']}x faster to start, {ratios['rss']}x less resident memory. Goals "
            f"(issue 31): the ONNX server starts in under 2 s: {verdict(goals['onnx_starts_under_2_s'])} "
            f"({onnx['startup_seconds']:.1f} s); it serves at least 2x the PyTorch server's requests/s: "
            f"{verdict(goals['onnx_serves_2x_pytorch'])} ({ratios['requests_per_second']}x). Dynamic batching: "
            f"{result['batching_speedup']['pytorch']}x (PyTorch) and {result['batching_speedup']['onnx']}x (ONNX) "
            "the requests per second with batching off.",
            "",
            "What bounds the requests per second is what a request costs the server outside the model: "
            "uvicorn and FastAPI in LitServe's HTTP process (the request gate's parsing and checks included), "
            "and LitServe's queues between its HTTP process, its queue manager and its inference worker. Both "
            f"servers pay it alike; the model's own share is the difference of the last column "
            f"({pytorch['server_cpu_ms_per_request']:.2f} against {onnx['server_cpu_ms_per_request']:.2f} ms), "
            "and the clients spend "
            f"{onnx['client_cpu_ms_per_request']:.2f} ms a request of the same CPUs.",
            "",
            "Inference per sample on the CPU, one thread, the ONNX export in onnxruntime against the same "
            f"model in PyTorch (eager), alternating, median microseconds (the export's own check: "
            f"{result['export_check'].removeprefix('Checked with ')}):",
            "",
            table(("input", "onnxruntime us", "PyTorch us", "onnxruntime speed-up"), per_sample),
            "",
            f"CPU: {result['cpu']}; {versions}; load average {load['before'][0]} before the run, "
            f"{load['after'][0]} after (other work shared the machine).",
            provenance(result),
        ]
    )


GPU_PROCEDURE = """\
`make gpu-check` (`benchmarks/gpu.py`) is the one prepared script for a GPU machine: a lent one
comes now and then, for minutes, with no network, its own Python 3.12 and PyTorch 2.11 (with
torchvision, Lightning, torchmetrics, pluggy, onnx, onnxruntime, pyarrow and scikit-learn) but
not jsonargparse, wandb, Optuna, LitServe or TorchCodec, and at most 64 MiB carried per call.
So the preparation runs here and the check there:

1. **Here, with the network**: `make gpu-prep` (`benchmarks/gpu.py --prepare`) downloads into
   `.gpu/wheels` (ignored by git) the wheels that machine lacks, for its Python
   (`GPU_PYTHON_VERSION=3.12`, manylinux x86_64), and builds lit_nn's own wheel: jsonargparse with
   its `[signatures]` extra (docstring-parser, typeshed-client) for the command line; LitServe,
   FastAPI, Starlette, uvicorn, pyzmq, pydantic (and pydantic-core, annotated-types,
   typing-inspection) and opentelemetry-api (which FastAPI imports) for `lit-nn serve`, at the
   versions the tests ran with. 14 wheels, 5.2 MiB; with the working tree 7.4 MiB travel. Not
   carried, because nothing on these paths imports them: wandb (every step runs with
   `WANDB_MODE=disabled`, under which lit_nn logs to CSV and never imports wandb; the GPU-only
   tests set W&B offline only for the W&B preset), Optuna and optuna-integration (sweeps and
   `lit-nn cv`), TorchCodec (lit_nn decodes JPEGs with torchvision's `decode_jpeg` without it,
   and says so), uvicorn's `[standard]` extras (it serves on h11 and uvloop without them). Run
   it again after changing lit_nn: the fits, exports and servers there run lit_nn's wheel.
2. **There**: carry the checkout with `.gpu/wheels`, then `make gpu-check` (`GPU_PYTHON=...` if
   `python3` is not the interpreter that holds PyTorch). It installs the wheels with
   `pip install --no-deps --target .gpu/site` beside that interpreter's own packages (a venv
   would not do: that machine's `python3` is itself a venv, and a venv made from it with
   `--system-site-packages` sees the base interpreter's packages, not its torch) and puts
   `.gpu/site` first on `PYTHONPATH` for the steps. Then it runs the steps below: each is a
   process of its own with its own time limit; one that fails or runs out of time is recorded
   with its error, and the others still run; all of them within 330 s. The timed steps run
   alone, first; the others three at a time. Every figure goes to `benchmarks/results/gpu.json`,
   with the GPU's name, and each step's output to `.gpu/logs/<step>.log`.
3. **Back here**: bring back `benchmarks/results/gpu.json` (and `.gpu/logs/`, one log per step:
   `tar czf gpu-logs.tgz .gpu/logs` is one file), commit the JSON, and `python
   benchmarks/performance.py --render` puts its figures on this page. `make gpu-check
   GPU_ARGS="--only tests,throughput"` reruns some steps only.

Without a CUDA GPU, `make gpu-check` says so in one line and exits 0. `python benchmarks/gpu.py
--rehearse` runs every step on the CPU instead, small (8 images a batch, 64 px, two timed steps),
to check the script before a GPU machine is spent on it; its figures say nothing of a GPU.

lit_nn's bounds allow that machine's torch 2.11 (`torch>=2.2`); its tests ran with 2.14.1, and
`lit-nn export`'s ONNX path needs PyTorch's `torch.export`-based exporter (`dynamo=True`, PyTorch
2.6 and newer). The `environment` step records what the machine has, the carried wheels'
requirements it does not meet, and what cannot be imported.

"""

GPU_STEPS = (
    ("`environment`", "versions, the GPU, unmet requirements, imports, lit_nn's JPEG decoder", "60 s"),
    (
        "`throughput`",
        "ResNet-18 and ResNet-50 training images/s, `bf16-mixed`, channels-last, batch 256, 224 px crops of "
        "generated photo-like JPEGs decoded by lit_nn's `image_folder` pipeline: `lit-nn fit`'s own code path (a "
        "datamodule whose training batches are those decoded batches) against a hand-written PyTorch AMP loop on "
        "the same tensors with the same initial weights, alternating, two rounds (goal: lit_nn at least 0.95 of "
        "it); the first step's losses must agree",
        "150 s",
    ),
    (
        "`loader`",
        "the `image_folder` training loader's images/s (decode, resize, random crop, flip) with 0, 4 and 8 "
        "workers, against the GPU's step rate",
        "60 s",
    ),
    ("`tests`", "the GPU-only tests: the test files that import `tests/helpers/run_if.py`, with `--gpu-only`", "180 s"),
    (
        "`fit-digits-bf16`, `fit-digits-16`, `fit-digits-compile`",
        "digits with `-c trainer/gpu` and `bf16-mixed`, `16-mixed`, or `bf16-mixed` with "
        "`--model.channels_last true --model.compile true`: on the GPU, at that precision, finite weights",
        "90-150 s",
    ),
    (
        "`fit-images`, `fit-images-16`",
        "a generated image folder, ResNet-18, channels-last, with `bf16-mixed` and `--model.compile true`, or "
        "with `16-mixed`",
        "120-150 s",
    ),
    (
        "`deploy`",
        "the `fit-digits-bf16` checkpoint: `lit-nn test`, `lit-nn export` (ONNX, checked with onnxruntime), "
        "`lit-nn serve` (LitServe's worker on the GPU): 64 single requests and one of 64 samples, every label "
        "against the export's",
        "120 s",
    ),
)


def last_line(text: str | None) -> str:
    """The last line of an error, for a table cell.

    Args:
        text: The error, or ``None``.

    Returns:
        Its last non-empty line, ``|`` escaped; empty without one.
    """
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].replace("|", "\\|") if lines else ""


def gpu_check(result: Result | None) -> str:
    """The GPU check section: how to run it, and its figures once it has run.

    Args:
        result: ``benchmarks/results/gpu.json``, or ``None`` before a GPU machine ran it.

    Returns:
        Markdown.
    """
    parts = [
        "## GPU check",
        "",
        GPU_PROCEDURE.rstrip(),
        "",
        table(("step", "what it checks", "time limit"), GPU_STEPS),
        "",
    ]
    if result is None:
        return "\n".join([*parts, "**Figures: not run yet: no GPU was lent to this task.**"])
    steps = result["steps"]
    parts += [
        f"Run {result['date']} on {result['gpu']} (torch {result['torch']}, Python {result['python']}): "
        f"{sum(s['status'] == 'ok' for s in steps.values())} of {len(steps)} steps succeeded in "
        f"{result['seconds']} s.",
        "",
        table(
            ("step", "status", "seconds", "error"),
            [(name, s["status"], s.get("seconds", ""), last_line(s.get("error"))) for name, s in steps.items()],
        ),
    ]
    throughput = steps.get("throughput", {}).get("figures", {})
    rows = [
        (arch, f"{f['lit_nn_images_per_s']:,.0f}", f"{f['hand_images_per_s']:,.0f}", f["lit_nn_over_hand"],
         verdict(f["met"]), "yes" if f["first_step_loss_agrees"] else "**no**")
        for arch, f in throughput.items()
        if isinstance(f, dict) and "lit_nn_images_per_s" in f
    ]  # fmt: skip
    if rows:
        header = ("network", "lit_nn img/s", "hand loop img/s", "ratio", "goal 0.95", "same first loss")
        parts += ["", table(header, rows)]
    loader = steps.get("loader", {}).get("figures", {})
    summary = result.get("summary", {})
    rows = [
        (workers, f"{loader[f'workers_{workers}']['images_per_s']:,.0f}",
         summary.get(f"loader_{workers}_workers_over_resnet18_steps", ""),
         summary.get(f"loader_{workers}_workers_over_resnet50_steps", ""))
        for workers in (0, 4, 8)
        if f"workers_{workers}" in loader
    ]  # fmt: skip
    if rows:
        parts += ["", table(("workers", "loader img/s", "over ResNet-18 steps", "over ResNet-50 steps"), rows)]
    return "\n".join(parts)


SECTIONS: dict[str, Callable[[Result], str]] = {
    "overhead": overhead,
    "image_pipeline": image_pipeline,
    "time_to_accuracy": time_to_accuracy,
    "startup": startup,
    "threads": threads,
    "csv_loading": csv_loading,
    "serving": serving,
}


def render(results: Mapping[str, Result]) -> str:
    """The whole page.

    Args:
        results: Benchmark name to its figures.

    Returns:
        Markdown for ``docs/performance.md``.
    """
    parts = [
        "# Performance",
        "",
        "Produced by `python benchmarks/performance.py` (each benchmark in its own process; figures in",
        "`benchmarks/results/*.json`). Every figure names the machine it came from; every ratio compares",
        "with a baseline measured in the same run.",
    ]
    for name, section in SECTIONS.items():
        if name in results:
            parts += ["", section(results[name])]
    parts += ["", HOW.rstrip(), "", gpu_check(results.get("gpu"))]
    return "\n".join(parts) + "\n"
