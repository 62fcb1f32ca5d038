"""Parity with a hand-written PyTorch loop (the idea of Lightning's ``tests/parity_pytorch``).

lit_nn's task, trained by a Trainer with lit_nn's progress bar, callbacks, CSV logging and
checkpoints, ends with the weights a plain loop over the same data, init and optimiser ends with;
so does Lightning's barebones Trainer. The speed-ups (metrics updated in groups, the step loss
logged only when read, empty callback hooks skipped, a faster top-5 accuracy, no NVML probe per
step) leave the results and the logged numbers as they were.
"""

from __future__ import annotations

import csv

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from lit_nn.callbacks.finite_loss import StopOnNonFiniteLoss
from lit_nn.callbacks.progress import ThrottledProgressBar
from lit_nn.callbacks.random_state import RandomState
from lit_nn.data.synthetic import SyntheticClassification
from lit_nn.skip_unused_hooks import skip_unused_batch_hooks
from lit_nn.tasks import MulticlassClassificationTask
from lit_nn.tasks.multiclass import TopKAccuracy

DATA = {"num_samples": 1200, "num_features": 16, "num_classes": 6, "batch_size": 32}
EPOCHS = 3  # 27 steps each
LR = 1e-3


def data() -> SyntheticClassification:
    torch.manual_seed(0)  # the loaders take their seed from torch's, as after the CLI's seed_everything
    datamodule = SyntheticClassification(**DATA)
    datamodule.setup("fit")
    return datamodule


def task() -> MulticlassClassificationTask:
    torch.manual_seed(0)
    return MulticlassClassificationTask(
        input_shape=[DATA["num_features"]], num_classes=DATA["num_classes"], backbone_kwargs={"hidden_sizes": [32]}
    )


def training_loss(model: nn.Module, datamodule: SyntheticClassification) -> float:
    dataset = datamodule.datasets["train"]
    model.eval()
    with torch.no_grad():
        return float(nn.functional.cross_entropy(model(dataset.features), dataset.targets))


def hand_loop(lr: float = LR) -> tuple[float, list[float], list[float]]:
    """Plain PyTorch: the final loss on the training split, every step's loss, each epoch's mean."""
    model, datamodule = task().backbone, data()
    loader = datamodule.train_dataloader()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps, epochs = [], []
    for epoch in range(EPOCHS):
        loader.sampler.set_epoch(epoch)  # as Lightning does
        total = count = 0.0
        model.train()
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps.append(loss.item())
            total, count = total + loss.item() * len(y), count + len(y)
        epochs.append(total / count)
    return training_loss(model, datamodule), steps, epochs


class Bare(LightningModule):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return nn.functional.cross_entropy(self.model(batch[0]), batch[1])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=LR)


@pytest.fixture(scope="module")
def hand() -> tuple[float, list[float], list[float]]:
    return hand_loop()


def test_a_different_run_is_told_apart(hand):
    # The comparisons below can fail: a learning rate 10 % off already moves the final loss.
    assert abs(hand_loop(lr=1.1 * LR)[0] - hand[0]) > 1e-4


def test_barebones_trainer_ends_where_the_hand_loop_ends(hand):
    module, datamodule = Bare(task().backbone), data()
    Trainer(barebones=True, max_epochs=EPOCHS, accelerator="cpu", devices=1).fit(
        module, train_dataloaders=datamodule.train_dataloader()
    )
    assert training_loss(module.model, datamodule) == pytest.approx(hand[0], abs=1e-5)


def test_lit_nn_task_ends_where_the_hand_loop_ends_and_logs_its_losses(hand, tmp_path):
    final, step_losses, epoch_means = hand
    model, datamodule = task(), data()
    trainer = Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        devices=1,
        default_root_dir=tmp_path,
        logger=CSVLogger(tmp_path, name="logs", version=0),
        log_every_n_steps=10,
        enable_model_summary=False,
        callbacks=[
            ModelCheckpoint(monitor="val/loss", save_last=True),
            ThrottledProgressBar(),
            RandomState(),
            StopOnNonFiniteLoss(),
        ],
    )
    skip_unused_batch_hooks(trainer.callbacks)  # as lit-nn fit does
    trainer.fit(model, datamodule)
    assert trainer.global_step == len(step_losses) == 81
    assert training_loss(model.backbone, datamodule) == pytest.approx(final, abs=1e-5)

    rows = list(csv.DictReader((tmp_path / "logs" / "version_0" / "metrics.csv").open()))
    logged = {int(r["step"]): float(r["train/loss"]) for r in rows if r.get("train/loss")}
    assert sorted(logged) == [9, 19, 29, 39, 49, 59, 69, 79]  # every log_every_n_steps, as Lightning logs
    assert all(value == pytest.approx(step_losses[step], abs=1e-5) for step, value in logged.items()), logged
    epochs = [float(r["train/loss_epoch"]) for r in rows if r.get("train/loss_epoch")]
    assert epochs == pytest.approx(epoch_means, rel=1e-5)
    assert len([r for r in rows if r.get("val/loss")]) == EPOCHS
    assert float(trainer.callback_metrics["train/loss"]) == pytest.approx(step_losses[-1], abs=1e-5)  # the last step


def test_fast_top5_accuracy_counts_what_torchmetrics_counts():
    torch.manual_seed(0)
    reference, fast = MulticlassAccuracy(num_classes=7, top_k=5, average="micro"), TopKAccuracy(num_classes=7, top_k=5)
    for n in (1, 13, 64, 200):
        logits = torch.randn(n, 7)
        logits[: n // 2, 3] = logits[: n // 2, 4]  # ties at the boundary too
        target = torch.randint(0, 7, (n,))
        reference.update(logits, target)
        fast.update(logits, target)
    assert torch.equal(fast.compute(), reference.compute())


class _Redraws(ThrottledProgressBar):
    def __init__(self, interval: float) -> None:
        super().__init__(interval=interval)
        self.due: list[bool] = []

    def on_train_batch_end(self, *args, **kwargs) -> None:
        self.due.append(self.redraw_due)
        super().on_train_batch_end(*args, **kwargs)


def test_the_bar_redraws_after_its_interval_and_at_every_epoch_end(tmp_path):
    bar = _Redraws(interval=3600.0)
    trainer = Trainer(max_epochs=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                      enable_model_summary=False, default_root_dir=tmp_path, callbacks=[bar])  # fmt: skip
    trainer.fit(task(), data())
    assert bar.due == ([True] + [False] * 25 + [True]) * 2  # each epoch's first and last batch only
