"""RunWandbLogger in process: W&B's step against the trainer's, and the step the next command starts at."""

from __future__ import annotations

import json

import pytest

from lit_nn.wandb_logger import RunWandbLogger, continuation, step_file
from tests.helpers.wandb_files import read_offline_run


@pytest.mark.parametrize(
    ("first_step", "trainer_steps", "wandb_steps"),
    [
        (0, [0, 5, 9], [0, 5, 9]),  # a new run: W&B's step is the trainer's
        (30, [31, 40], [31, 40]),  # a fit resumed from the last checkpoint: it continues as it is
        (30, [0, 2, 4], [30, 32, 34]),  # a test (step 0), or a fit resumed from an earlier checkpoint: shifted once
    ],
)
def test_wandb_steps_only_increase_and_keep_their_spacing(
    tmp_path, monkeypatch, first_step, trainer_steps, wandb_steps
):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    logger = RunWandbLogger(name="x/y", save_dir=str(tmp_path), offline=True, project="p", first_step=first_step,
                            resumed=first_step > 0)  # fmt: skip
    for step in trainer_steps:
        logger.log_metrics({"val/loss": 1.0 / (step + 1)}, step=step)
    logger.experiment.finish()
    logger.save_step()
    (path,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    saved = read_offline_run(path)
    assert saved.steps == wandb_steps and saved.resumed is (first_step > 0)
    assert [row["trainer/global_step"] for row in saved.history] == trainer_steps
    assert json.loads(step_file(tmp_path).read_text()) == {"next_step": wandb_steps[-1] + 1}
    assert continuation(tmp_path) == (wandb_steps[-1] + 1, True)


def test_a_run_folder_without_wandb_pieces_starts_at_step_zero(tmp_path):
    assert continuation(tmp_path) == (0, False)
    (tmp_path / "wandb").mkdir()
    step_file(tmp_path).write_text("not json")
    assert continuation(tmp_path) == (0, False)
