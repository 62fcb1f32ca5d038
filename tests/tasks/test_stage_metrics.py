"""StageMetrics: updates in groups of batches give the numbers per-batch updates give."""

from __future__ import annotations

import pytest
import torch
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from lit_nn.tasks.stage_metrics import StageMetrics


def batches(n: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        size = 5 + i % 3  # batches of different sizes weigh differently
        out.append(
            (torch.rand((), generator=g), torch.randn(size, 4, generator=g), torch.randint(0, 4, (size,), generator=g))
        )
    return out


def collection() -> MetricCollection:
    return MetricCollection({"acc": MulticlassAccuracy(num_classes=4, average="micro")})


@pytest.mark.parametrize("group", [1, 3, 16])
def test_grouped_updates_give_the_per_batch_numbers(group):
    stage = StageMetrics(collection(), "val/", batches=group)
    loss, reference = MeanMetric(), collection().clone(prefix="val/")
    for value, preds, target in batches(10):
        stage.update(value, preds, target)
        loss.update(value, len(target))
        reference.update(preds, target)
    stage.flush()
    assert torch.allclose(stage.loss.compute(), loss.compute())
    assert stage.metrics.compute() == reference.compute()
    assert set(stage.metrics) == {"val/acc"}


def test_a_group_runs_only_when_full_and_flush_loss_leaves_the_metrics_queued():
    stage = StageMetrics(collection(), "train/", batches=4)
    for value, preds, target in batches(3):
        stage.update(value, preds, target)
    assert not stage.loss.update_called and not stage.metrics["acc"].update_called
    stage.flush_loss()
    assert stage.loss.update_called and not stage.metrics["acc"].update_called
    stage.update(*batches(1, seed=1)[0])  # the fourth batch fills the group
    assert stage.metrics["acc"].update_called


def test_discard_forgets_an_interrupted_epoch():
    stage = StageMetrics(collection(), "train/", batches=8)
    for value, preds, target in batches(5):
        stage.update(value, preds, target)
    stage.discard()
    stage.flush()
    assert not stage.loss.update_called and not stage.metrics["acc"].update_called


class Recorder:
    """Stands in for LightningModule.log, whose arguments are what is checked."""

    def __init__(self) -> None:
        self.logged: list[tuple[str, bool]] = []

    def log(self, name: str, value: object, prog_bar: bool = False) -> None:
        self.logged.append((name, prog_bar))


def test_log_names_the_loss_and_metrics_with_the_prefix_and_resets_unused_metrics():
    stage = StageMetrics(collection(), "val/", batches=16)
    for value, preds, target in batches(2):
        stage.update(value, preds, target)
    module = Recorder()
    stage.log(module, bar_metric="acc")  # flushes first
    assert module.logged == [("val/loss", True), ("val/acc", True)]
    train = StageMetrics(collection(), "train/")
    train.log(module := Recorder(), loss_name=None)
    assert module.logged == []  # nothing updated: nothing logged


def test_a_group_size_below_one_is_refused():
    with pytest.raises(ValueError, match="batches must be 1 or more"):
        StageMetrics(collection(), "val/", batches=0)
