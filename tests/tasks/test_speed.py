"""The tasks' speed tricks (lit_nn/tasks/speed.py), each on its own."""

from __future__ import annotations

from types import SimpleNamespace

from torch import nn

from lit_nn.tasks import RegressionTask
from lit_nn.tasks.speed import step_loss_is_read


def small_task() -> RegressionTask:
    return RegressionTask(input_shape=[3], backbone_kwargs={"hidden_sizes": [4]})


def fake_trainer(writes: bool, last_batch: bool = False, fast_dev_run: bool = False) -> SimpleNamespace:
    progress = SimpleNamespace(is_last_batch=last_batch)
    return SimpleNamespace(
        fast_dev_run=fast_dev_run,
        _logger_connector=SimpleNamespace(should_update_logs=writes),
        fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress)),
        should_stop=False,
        max_steps=-1,
        global_step=3,
    )


def test_hook_name_is_set_without_module_checks_and_the_rest_as_usual():
    task = small_task()
    task._current_fx_name = "training_step"
    assert vars(task)["_current_fx_name"] == "training_step"
    task.extra = nn.Linear(1, 1)  # still registered as a submodule
    assert "extra" in dict(task.named_children()) and "extra" not in vars(task)


def test_step_loss_is_read_when_written_at_the_epochs_end_or_outside_a_trainer():
    task = small_task()
    assert step_loss_is_read(task)  # no trainer
    for trainer, expected in [
        (fake_trainer(writes=False), False),
        (fake_trainer(writes=True), True),
        (fake_trainer(writes=False, last_batch=True), True),
        (fake_trainer(writes=False, fast_dev_run=True), True),
    ]:
        task._trainer = trainer
        assert step_loss_is_read(task) is expected
