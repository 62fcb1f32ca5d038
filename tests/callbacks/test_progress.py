"""The progress bar shows each drawn step's own loss, from the training step's output."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from lit_nn.callbacks.progress import ThrottledProgressBar


class Quiet(LightningModule):
    """Logs nothing: whatever loss the bar shows, it took from the step's output."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(3, 1)
        self.losses: list[float] = []

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = nn.functional.mse_loss(self.layer(batch[0]), batch[1])
        self.losses.append(loss.item())
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Shown(ThrottledProgressBar):
    def __init__(self) -> None:
        super().__init__(interval=0.0)
        self.shown: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        self.shown.append(float(self.train_progress_bar.postfix.split("train/loss=")[1].split(",")[0]))


@pytest.mark.parametrize("accumulate", [1, 2])
def test_every_drawn_step_shows_its_own_loss(tmp_path, accumulate):
    torch.manual_seed(0)
    data = DataLoader(TensorDataset(torch.randn(24, 3), torch.randn(24, 1)), batch_size=4)
    module, bar = Quiet(), Shown()
    trainer = Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_model_summary=False, default_root_dir=tmp_path, callbacks=[bar],
                      accumulate_grad_batches=accumulate)  # fmt: skip
    trainer.fit(module, data)
    assert len(bar.shown) == len(module.losses) == 6
    assert bar.shown == pytest.approx(module.losses, rel=1e-2)  # tqdm shows three significant digits
