"""The thread count: from the CPUs a process may use, its peers, its model and the load beside it."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from lightning.pytorch import Callback, Trainer

from lit_nn.callbacks.threads import (
    SMALL_STEP_FLOPS,
    ChooseThreads,
    busy_elsewhere,
    cgroup_cpus,
    plan_threads,
    step_flops,
    usable_cpus,
)
from lit_nn.data.synthetic import SyntheticClassification
from lit_nn.errors import ConfigError
from lit_nn.tasks import MulticlassClassificationTask

BIG = 10 * SMALL_STEP_FLOPS


@pytest.mark.parametrize(
    ("cpus", "peers", "flops", "busy", "env", "threads", "reason"),
    [
        (8, 1, BIG, 0.0, {}, 8, "8 CPUs for 1 process"),
        (8, 4, BIG, 0.0, {}, 2, "8 CPUs for 4 processes"),
        (8, 1, SMALL_STEP_FLOPS / 2, 0.0, {}, 1, "MFLOP is fastest on one"),
        (2, 1, BIG, 1.0, {}, 1, "1.0 of them busy with other work"),
        (8, 1, BIG, 3.9, {}, 4, "3.9 of them busy"),
        (8, 1, None, 0.0, {}, 8, "8 CPUs for 1 process"),
        (8, 1, SMALL_STEP_FLOPS / 2, 0.0, {"LIT_NN_THREADS": "3"}, 3, "LIT_NN_THREADS=3"),
        (8, 1, BIG, 0.0, {"OMP_NUM_THREADS": "5"}, 5, "OMP_NUM_THREADS=5"),
        (1, 1, BIG, 0.0, {}, 1, "1 CPU for 1 process"),
    ],
)
def test_the_plan(cpus, peers, flops, busy, env, threads, reason):
    plan = plan_threads(cpus, peers, flops, busy, environ=env, current=5)
    assert plan.threads == threads and reason in plan.reason


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_thread_count_is_refused_in_one_line(value):
    with pytest.raises(ConfigError, match=rf"LIT_NN_THREADS='{value}' is not a thread count; set it to a whole number"):
        plan_threads(2, 1, None, environ={"LIT_NN_THREADS": value})


def test_usable_cpus_take_the_smallest_limit(tmp_path):
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")
    assert cgroup_cpus(quota) == 2
    (tmp_path / "none").write_text("max 100000\n")
    assert cgroup_cpus(tmp_path / "none") is None and cgroup_cpus(tmp_path / "missing") is None
    assert usable_cpus({"SLURM_CPUS_PER_TASK": "1"}, cgroup=quota) == 1
    assert usable_cpus({}, cgroup=tmp_path / "missing") >= 1


def test_a_busy_process_beside_this_one_is_seen():
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert busy_elsewhere(window=0.5) >= 0.5
    finally:
        loop.kill()
        loop.wait()


def test_step_flops_count_the_backbone_for_the_batch():
    task = MulticlassClassificationTask(input_shape=[64], num_classes=10, backbone_kwargs={"hidden_sizes": [32]})
    forward = 2 * (64 * 32 + 32 * 10)  # a multiply and an add per weight
    assert step_flops(task, batch_size=16, training=False) == forward * 16
    assert step_flops(task, batch_size=16, training=True) == 3 * forward * 16
    assert task.training  # put back as it was


def test_the_callback_sets_the_count_for_the_run_and_gives_it_back(tmp_path, monkeypatch, capsys):
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("LIT_NN_THREADS", str(before + 1))
    seen = []

    class Look(Callback):
        def on_train_start(self, trainer, pl_module):
            seen.append(torch.get_num_threads())

    data = SyntheticClassification(num_samples=64, num_features=4, num_classes=2, batch_size=16)
    task = MulticlassClassificationTask(input_shape=[4], num_classes=2, backbone_kwargs={"hidden_sizes": [8]})
    trainer = Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                      callbacks=[ChooseThreads(), Look()])  # fmt: skip
    trainer.fit(task, data)
    assert seen == [before + 1] and torch.get_num_threads() == before
    err = capsys.readouterr().err
    assert f"lit-nn: torch computes on {before + 1} threads per process (LIT_NN_THREADS={before + 1};" in err
