"""Per-step overhead of lit_nn and of Lightning against a hand-written PyTorch loop.

Four ways to train the same MLP (64-256-256-10, lit_nn's ``mlp`` backbone, seeded init) with
Adam on the same data in the same order (lit_nn's ``multiclass`` datamodule: 20,000 training
samples, its epoch-seeded sampler), for the same number of epochs, each validating once per epoch:

- ``hand``: a hand-written loop over the datamodule's own loaders;
- ``barebones``: ``Trainer(barebones=True)`` on a bare LightningModule (Lightning's own floor);
- ``peer``: lightning-hydra-template's ``MNISTLitModule`` (torchmetrics updated and ``self.log``
  called every step) under Lightning's default Trainer (its progress bar, a checkpoint, a CSV logger);
- ``lit_nn``: the real ``MulticlassClassificationTask`` trained by ``lit-nn fit``'s own code path
  (:class:`~lit_nn.cli.lightning_cli.LitNNCLI` with its default callbacks, CSV logger, checkpoints,
  progress bar and metrics; only the run root is a temporary folder).

Timed is the training loop: the epochs, with their validation and checkpoints (Lightning's
``fit_loop.run``), not the set-up before it (the Trainer, the sanity check) nor what follows it
(the plots at the end of fitting); the whole ``fit`` call is reported beside it. The variants
alternate within one process, several runs each, and the median is reported with every ratio and
the overhead per optimiser step. Parity: the loss of each trained model on the whole training
split, which must equal the hand loop's to five decimals (Lightning's ``tests/parity_pytorch``).

The hand loop runs as a plain PyTorch script would, without ``PYTORCH_NVML_BASED_CUDA_CHECK=1``
(importing Lightning sets it, and on a CUDA build of torch without a GPU it makes every optimiser
step look for NVML); the Lightning variants run with it, as importing Lightning leaves it.

    python benchmarks/overhead.py                 # batch 64 and 256, 5 runs each (about 2 minutes)
    python benchmarks/overhead.py --quick         # one short run each, to check it works
    python benchmarks/overhead.py --threads 1 --clock cpu   # steadier when other processes share the cores
    python benchmarks/overhead.py --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import write_result  # noqa: E402
from lit_nn.cli.lightning_cli import LitNNCLI  # noqa: E402
from lit_nn.data.synthetic import SyntheticClassification  # noqa: E402
from lit_nn.registry import default_registry  # noqa: E402
from lit_nn.runs import RUN_DIR_ENV, SESSION_ENV  # noqa: E402
from lit_nn.tasks import MulticlassClassificationTask  # noqa: E402

SEED = 0
LR = 1e-3
HIDDEN = [256, 256]
# 25,000 samples split 80/10/10: 20,000 to train on, 2,500 to validate on each epoch.
DATA = {"num_samples": 25_000, "num_features": 64, "num_classes": 10, "val_fraction": 0.1, "test_fraction": 0.1}
VARIANTS = ("hand", "barebones", "peer", "lit_nn")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]
NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def as_imported(lightning: bool) -> None:
    """The environment a plain PyTorch script has (``lightning=False``) or one that imported Lightning.

    Importing Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``, which makes every optimiser step
    look for NVML on a CUDA build of torch; a hand-written PyTorch script does not pay for that.
    """
    if lightning:
        os.environ[NVML_CHECK] = "1"
    else:
        os.environ.pop(NVML_CHECK, None)


def datamodule(batch_size: int) -> SyntheticClassification:
    """The data every variant trains on; its loaders take their seed from torch's (as under the CLI)."""
    torch.manual_seed(SEED)
    data = SyntheticClassification(batch_size=batch_size, seed=SEED, **DATA)
    data.setup("fit")
    return data


def initial_state() -> dict[str, Tensor]:
    """The backbone's weights as ``lit-nn fit`` initialises them (seed 0, then the task is built)."""
    torch.manual_seed(SEED)
    task = MulticlassClassificationTask(
        input_shape=[DATA["num_features"]], num_classes=DATA["num_classes"], backbone_kwargs={"hidden_sizes": HIDDEN}
    )
    return {k: v.clone() for k, v in task.backbone.state_dict().items()}


def backbone(state: dict[str, Tensor]) -> nn.Module:
    """lit_nn's ``mlp`` backbone with the given weights."""
    model = default_registry().create(
        "backbones",
        "mlp",
        input_shape=(DATA["num_features"],),
        output_size=DATA["num_classes"],
        activation=nn.ReLU,
        hidden_sizes=HIDDEN,
    )
    model.load_state_dict(state)
    return model


def training_loss(model: nn.Module, data: SyntheticClassification) -> float:
    """Mean cross-entropy of a trained model on the whole training split (the parity figure)."""
    dataset = data.datasets["train"]
    model.eval()
    with torch.no_grad():
        return float(nn.functional.cross_entropy(model(dataset.features), dataset.targets))


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send the progress bar and messages to /dev/null (they are still drawn and written)."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        yield


class Timer:
    """Wall time of a callable's calls, by wrapping it."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn``, adding the time of each call to :attr:`seconds`."""

        def timed(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            started = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += clock() - started

        return timed


# --- the three variants ------------------------------------------------------------------------


def run_hand(batch_size: int, epochs: int, state: dict[str, Tensor]) -> dict[str, float]:
    """A hand-written loop: Adam, cross-entropy, one validation pass per epoch."""
    as_imported(lightning=False)
    data = datamodule(batch_size)
    model = backbone(state)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    criterion = nn.CrossEntropyLoss()
    train, val = data.train_dataloader(), data.val_dataloader()
    steps = 0
    started = clock()
    for epoch in range(epochs):
        train.sampler.set_epoch(epoch)  # as Lightning does before every epoch
        model.train()
        for x, y in train:
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
        model.eval()
        with torch.inference_mode():
            for x, y in val:
                criterion(model(x), y)
    loop = clock() - started
    return {"loop_s": loop, "fit_s": loop, "steps": steps, "loss": training_loss(model, data)}


class Bare(LightningModule):
    """The least a LightningModule needs: training and validation steps, and Adam."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.criterion = model, nn.CrossEntropyLoss()

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """The batch's loss."""
        x, y = batch
        return self.criterion(self.model(x), y)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """The batch's loss, as the hand loop computes it."""
        x, y = batch
        return self.criterion(self.model(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam, as everywhere here."""
        return torch.optim.Adam(self.parameters(), lr=LR)


class PeerModule(LightningModule):
    """lightning-hydra-template's ``MNISTLitModule``, the peer a user would pick instead of lit_nn.

    As that template writes it: a ``model_step`` returning loss, predictions and targets; a
    ``MeanMetric`` loss and an ``Accuracy`` per stage updated and logged through ``self.log``
    every step; the best validation accuracy in a ``MaxMetric``.
    """

    def __init__(self, model: nn.Module, num_classes: int) -> None:
        from torchmetrics import MaxMetric, MeanMetric
        from torchmetrics.classification.accuracy import Accuracy

        super().__init__()
        self.model, self.criterion = model, nn.CrossEntropyLoss()
        self.train_acc = Accuracy(task="multiclass", num_classes=num_classes)
        self.val_acc = Accuracy(task="multiclass", num_classes=num_classes)
        self.train_loss, self.val_loss, self.val_acc_best = MeanMetric(), MeanMetric(), MaxMetric()

    def model_step(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Loss, predicted labels and targets."""
        x, y = batch
        logits = self.model(x)
        return self.criterion(logits, y), logits.argmax(dim=1), y

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """Update and log the loss and accuracy every step, as the template does."""
        loss, preds, targets = self.model_step(batch)
        self.train_loss(loss)
        self.train_acc(preds, targets)
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        """The same for validation."""
        loss, preds, targets = self.model_step(batch)
        self.val_loss(loss)
        self.val_acc(preds, targets)
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        """Track and log the best validation accuracy."""
        self.val_acc_best(self.val_acc.compute())
        self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=True, prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam, as everywhere here."""
        return torch.optim.Adam(self.parameters(), lr=LR)


def run_peer(batch_size: int, epochs: int, state: dict[str, Tensor]) -> dict[str, float]:
    """The template's module under Lightning's default Trainer: its progress bar, checkpoints, a CSV logger."""
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    as_imported(lightning=True)
    data = datamodule(batch_size)
    module = PeerModule(backbone(state), DATA["num_classes"])
    with tempfile.TemporaryDirectory(prefix="lit-nn-peer-") as tmp, quiet():
        checkpoint = ModelCheckpoint(dirpath=tmp, monitor="val/acc", mode="max", save_last=True)
        trainer = Trainer(max_epochs=epochs, logger=CSVLogger(tmp), callbacks=[checkpoint], default_root_dir=tmp,
                          enable_model_summary=False, num_sanity_val_steps=0)  # fmt: skip
        return timed_fit(trainer, module, data)


def run_barebones(batch_size: int, epochs: int, state: dict[str, Tensor]) -> dict[str, float]:
    """``Trainer(barebones=True)``: Lightning with logging, checkpoints, progress bar and summary off."""
    as_imported(lightning=True)
    data = datamodule(batch_size)
    module = Bare(backbone(state))
    return timed_fit(Trainer(barebones=True, max_epochs=epochs), module, data)


def timed_fit(trainer: Trainer, module: LightningModule, data: SyntheticClassification) -> dict[str, float]:
    """``trainer.fit``, its training loop and the whole call timed, and the trained model's loss."""
    loop = Timer()
    trainer.fit_loop.run = loop.wrap(trainer.fit_loop.run)
    started = clock()
    trainer.fit(module, datamodule=data)
    fit = clock() - started
    return {
        "loop_s": loop.seconds,
        "fit_s": fit,
        "steps": trainer.global_step,
        "loss": training_loss(module.model, data),
    }


class TimedCLI(LitNNCLI):
    """``lit-nn fit`` exactly, with the training loop and the ``fit`` call timed."""

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:  # noqa: ANN401
        """lit_nn's trainer, its training loop timed."""
        trainer = super().instantiate_trainer(**kwargs)
        self.loop = Timer()
        trainer.fit_loop.run = self.loop.wrap(trainer.fit_loop.run)
        return trainer

    def before_fit(self) -> None:
        """Keep the initial weights, to check they are the other variants'."""
        self.initial = {k: v.clone() for k, v in self.model.backbone.state_dict().items()}

    def fit(self, **kwargs: Any) -> None:  # noqa: ANN401
        """``trainer.fit``, timed (LightningCLI calls a ``fit`` method of the CLI in its place)."""
        started = clock()
        self.trainer.fit(**kwargs)
        self.fit_seconds = clock() - started


def cli_args(batch_size: int, epochs: int, root: Path) -> list[str]:
    """``lit-nn fit`` arguments for the benchmark's data and model; everything else is the default."""
    data = [f"--data.{key}={value}" for key, value in DATA.items()]
    return ["fit", "--model", "MulticlassClassificationTask", f"--model.backbone_kwargs={{hidden_sizes: {HIDDEN}}}",
            "--data", "multiclass", *data, f"--data.batch_size={batch_size}", f"--data.seed={SEED}",
            f"--model.lr={LR}", f"--trainer.max_epochs={epochs}", f"--seed_everything={SEED}",
            "--run.root", str(root)]  # fmt: skip


def run_lit_nn(batch_size: int, epochs: int, state: dict[str, Tensor]) -> dict[str, float]:
    """``lit-nn fit`` through :class:`~lit_nn.cli.lightning_cli.LitNNCLI`, in this process."""
    as_imported(lightning=True)
    with tempfile.TemporaryDirectory(prefix="lit-nn-overhead-") as tmp:
        argv = cli_args(batch_size, epochs, Path(tmp) / "runs")  # registry names resolve inside the parser
        try:
            with quiet():
                cli = TimedCLI(args=argv)
        finally:  # the CLI leaves its run folder in the environment for DDP children; lit-nn clears it
            for key in (RUN_DIR_ENV, SESSION_ENV):
                os.environ.pop(key, None)
        same_init = all(torch.equal(cli.initial[k], v) for k, v in state.items())
        data = cli.datamodule
        loss = training_loss(cli.model.backbone, data)
        return {
            "loop_s": cli.loop.seconds,
            "fit_s": cli.fit_seconds,
            "steps": cli.trainer.global_step,
            "loss": loss,
            "same_init": same_init,
        }


RUNNERS = {"hand": run_hand, "barebones": run_barebones, "peer": run_peer, "lit_nn": run_lit_nn}


# --- measuring ---------------------------------------------------------------------------------


def summarise(results: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Medians, ratios, per-step overhead and parity of one batch size."""
    steps = results["hand"][0]["steps"]
    medians = {v: statistics.median(r["loop_s"] for r in runs) for v, runs in results.items()}
    out: dict[str, Any] = {"steps": steps, "variants": {}}
    for variant, runs in results.items():
        seconds = medians[variant]
        losses = [r["loss"] for r in runs]
        out["variants"][variant] = {
            "loop_s": round(seconds, 4),
            "loop_s_runs": [round(r["loop_s"], 4) for r in runs],
            "fit_s": round(statistics.median(r["fit_s"] for r in runs), 4),
            "steps": runs[0]["steps"],
            "steps_per_s": round(steps / seconds, 1),
            "us_per_step": round(seconds / steps * 1e6, 1),
            "ratio_to_hand": round(seconds / medians["hand"], 3),
            "overhead_us_per_step": round((seconds - medians["hand"]) / steps * 1e6, 1),
            "final_loss": losses[0],
            "loss_equal_to_hand_5dp": all(round(x, 5) == round(results["hand"][0]["loss"], 5) for x in losses),
        }
        if "same_init" in runs[0]:
            out["variants"][variant]["same_init_as_hand"] = all(r["same_init"] for r in runs)
    out["lit_nn_over_barebones"] = round(medians["lit_nn"] / medians["barebones"], 3)
    if "peer" in medians:
        out["lit_nn_over_peer"] = round(medians["lit_nn"] / medians["peer"], 3)
    out["lit_nn_overhead_over_barebones_us_per_step"] = round(
        (medians["lit_nn"] - medians["barebones"]) / steps * 1e6, 1
    )
    return out


def goals(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The issue's goals, each with its figure and whether it is met."""
    at = {int(b): f for b, f in figures.items()}
    found: dict[str, dict[str, Any]] = {}
    if 64 in at:
        found["lit_nn / barebones at batch 64 <= 1.05"] = {"value": at[64]["lit_nn_over_barebones"]}
        found["lit_nn / hand at batch 64 <= 1.10 (stretch)"] = {"value": at[64]["variants"]["lit_nn"]["ratio_to_hand"]}
    if 256 in at:
        found["lit_nn / hand at batch 256 <= 1.03"] = {"value": at[256]["variants"]["lit_nn"]["ratio_to_hand"]}
    for name, goal in found.items():
        goal["met"] = goal["value"] <= float(name.split("<= ")[1].split()[0])
    parity = all(v["loss_equal_to_hand_5dp"] for f in at.values() for v in f["variants"].values())
    found["final loss equal to the hand loop's to 5 decimals"] = {"value": parity, "met": parity}
    return found


def nvml_probe_us() -> dict[str, Any]:
    """What one optimiser step's accelerator check costs with and without Lightning's NVML setting."""
    import timeit

    from lit_nn.callbacks.nvml import _nvml_missing

    optimizer = torch.optim.Adam([nn.Parameter(torch.zeros(1))])
    check = optimizer._accelerator_graph_capture_health_check  # what every Adam.step() calls first
    figures: dict[str, Any] = {"nvml_missing": _nvml_missing()}
    for name, lightning in (("with_lightning_setting_us", True), ("without_us", False)):
        as_imported(lightning=lightning)
        figures[name] = round(min(timeit.repeat(check, number=200, repeat=5)) / 200 * 1e6, 1)
    return figures


def measure(batch_sizes: list[int], epochs: dict[int, int], runs: int) -> dict[str, Any]:
    """Alternate the variants (rotating their order every round) and summarise each batch size."""
    state = initial_state()
    for variant in VARIANTS:  # warm-up: imports, first calls, allocator; not counted
        RUNNERS[variant](batch_sizes[0], 1, state)
    results: dict[int, dict[str, list[dict[str, float]]]] = {b: {v: [] for v in VARIANTS} for b in batch_sizes}
    for round_ in range(runs):
        for batch_size in batch_sizes:
            order = VARIANTS[round_ % len(VARIANTS) :] + VARIANTS[: round_ % len(VARIANTS)]
            for variant in order:
                result = RUNNERS[variant](batch_size, epochs[batch_size], state)
                results[batch_size][variant].append(result)
                print(
                    f"batch {batch_size:4d} round {round_} {variant:10s} loop {result['loop_s']:.3f} s "
                    f"fit {result['fit_s']:.3f} s loss {result['loss']:.6f}",
                    file=sys.stderr,
                    flush=True,
                )
    return {str(b): {"epochs": epochs[b], **summarise(results[b])} for b in batch_sizes}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print (and optionally save) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run of one epoch per variant")
    parser.add_argument("--runs", type=int, default=None, help="runs per variant (default 5, quick 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="time the runs by the wall clock, or by this process's CPU time (steadier when other "
        "processes share the cores; use it with --threads 1)",
    )
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    # Every variant computes on the same threads: lit-nn's own choice (ChooseThreads) is measured
    # in benchmarks/threads.py, not here.
    os.environ["LIT_NN_THREADS"] = str(torch.get_num_threads())
    warnings.filterwarnings("ignore")  # Lightning's advice on num_workers and the like
    runs = args.runs or (1 if args.quick else 5)
    epochs = {64: 1, 256: 1} if args.quick else {64: 3, 256: 6}
    started = time.perf_counter()
    figures = measure([64, 256], epochs, runs)
    write_result(
        args.json,
        {
            "benchmark": "overhead",
            "model": f"MLP {DATA['num_features']}-{'-'.join(map(str, HIDDEN))}-{DATA['num_classes']}, Adam lr {LR}",
            "train_samples": int(DATA["num_samples"] * (1 - DATA["val_fraction"] - DATA["test_fraction"])),
            "runs": runs,
            "torch_threads": torch.get_num_threads(),
            "clock": args.clock,
            "batch": figures,
            "goals": goals(figures),
            "accelerator_check_per_step": nvml_probe_us(),
            "wall_s": round(time.perf_counter() - started, 1),
        },
    )


if __name__ == "__main__":
    main()
