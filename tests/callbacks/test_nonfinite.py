"""A NaN or infinite loss stops training with a message naming where, and spares the last good checkpoint."""

from __future__ import annotations

import math
import re

import torch
from lightning.pytorch import Trainer

from lit_nn.callbacks.finite_loss import NonFiniteLossError, StopOnNonFiniteLoss
from lit_nn.checkpoints import load_checkpoint
from tests.helpers.cli import run


def test_a_diverging_run_stops_at_the_first_bad_step_and_keeps_the_last_good_checkpoint(tmp_path):
    # Plain SGD at 0.7 on the linear diabetes model diverges geometrically: finite for two epochs, then inf.
    result = run(["fit", "-c", "configs/diabetes.yaml", "--model.optimizer", "sgd", "--model.lr", "0.7",
                  "--model.scheduler", "none", "--trainer.max_epochs", "50", "--trainer.enable_progress_bar", "false",
                  "--run.root", str(tmp_path / "runs"), "--run.name", "run"])  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    line = result.stderr.rstrip().splitlines()[-1]
    found = re.search(r"the training loss became (inf|nan) at epoch (\d+), batch (\d+) \(optimiser step (\d+)\)", line)
    assert found, line
    assert "a learning rate too high (it is 0.7" in line and "NaN or infinite values in the data" in line
    bad_epoch = int(found.group(2))
    last = tmp_path / "runs" / "diabetes" / "run" / "checkpoints" / "last.ckpt"
    assert f"the last good checkpoint, {last}, is untouched" in line
    saved = load_checkpoint(last)
    assert 0 <= saved["epoch"] < bad_epoch
    assert all(torch.isfinite(t).all() for t in saved["state_dict"].values())
    assert math.isfinite(
        float(
            saved["callbacks"][
                "ModelCheckpoint{'monitor': 'val/loss', 'mode': 'min', "
                "'every_n_train_steps': 0, 'every_n_epochs': 1, "
                "'train_time_interval': None}"
            ]["best_model_score"]
        )
    )


class _Outputs:
    """What a training step hands to on_train_batch_end."""

    def __init__(self, values):
        self.values = iter(values)

    def __call__(self):
        return {"loss": torch.tensor(next(self.values))}


def test_the_first_bad_step_is_named_even_when_read_later():
    trainer = Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    guard = StopOnNonFiniteLoss(check_every_n_steps=4)
    losses = _Outputs([1.0, 0.5, float("nan"), float("inf")])
    for batch in range(3):
        guard.on_train_batch_end(trainer, None, losses(), None, batch)  # kept, not read yet
    try:
        guard.on_train_batch_end(trainer, None, losses(), None, 3)
    except NonFiniteLossError as error:
        assert "became nan at epoch 0, batch 2" in str(error)
        assert "no checkpoint had been written yet" in str(error)
    else:
        raise AssertionError("a NaN loss went unnoticed")
