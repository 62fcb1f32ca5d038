"""The SLURM path on a real one-node cluster: munged, slurmctld and slurmd on this machine, loopback only.

``docker/slurm/train.sbatch`` runs unchanged under ``sbatch``: two tasks of ``srun lit-nn fit`` form one
DDP job on the CPU (gloo), then ``srun lit-nn test`` tests its best checkpoint. A second job is
signalled as SLURM signals a job before its time runs out; lit_nn's ``SlurmRequeue`` saves
``hpc_ckpt_1.ckpt`` between two steps on every rank and requeues it (Lightning's own handler, which
saves inside the signal handler, can deadlock under DDP: Lightning issue #21406), and the requeued job
resumes from that checkpoint in the same run folder and W&B run.

The cluster (``tests/helpers/slurm_cluster.py``) is started once for this module and stopped by
process id at its end, whatever the tests did. The tests skip only when ``slurm-wlm`` and ``munge``
are missing and cannot be installed (or this is not root, which the daemons need).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.conftest import DISTRIBUTED_ENV, ROOT
from tests.helpers.cli import lit_nn_command
from tests.helpers.slurm_cluster import (
    FINISHED,
    ClusterError,
    ClusterUnavailable,
    SlurmCluster,
    cluster_processes,
    is_running,
    resolves_to_loopback,
    start,
)
from tests.helpers.wandb_files import read_offline_run

SBATCH = ROOT / "docker" / "slurm" / "train.sbatch"
EPOCHS, BATCHES = 6, 10
FIT_ARGS = ["--trainer.max_epochs", str(EPOCHS), "--trainer.limit_train_batches", str(BATCHES),
            "--trainer.enable_progress_bar", "false"]  # fmt: skip
ACC_MIN = 0.9
"""Test accuracy an uninterrupted job with FIT_ARGS reaches (0.98 when measured); the preempted one must too."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    try:
        cluster = start(tmp_path_factory.mktemp("slurm"))
    except ClusterUnavailable as exc:
        pytest.skip(f"no SLURM cluster on this machine: {exc}")
    try:
        yield cluster
    finally:
        problems = cluster.stop()
        daemons = {name: pid for name, pid in cluster.pids.items() if is_running(pid)}
        left = cluster_processes(cluster.conf)
        assert not problems and not daemons and not left, f"cluster did not stop cleanly: {problems} {daemons} {left}"


def job_environment(cluster: SlurmCluster, tmp_path: Path, **extra: str) -> dict[str, str]:
    """What the job gets (sbatch exports the submitting environment): the script's variables, W&B off.

    Only loopback: gloo binds to ``lo``, and Lightning's ``MASTER_ADDR`` (the node name) is set to
    127.0.0.1 where the host name resolves to another address.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIT_NN_", "WANDB_", "SLURM_")) and k not in DISTRIBUTED_ENV}  # fmt: skip
    env.update(CONFIG=str(ROOT / "configs" / "digits.yaml"), LIT_NN=lit_nn_command()[0], ACCELERATOR="cpu",
               RUN_ROOT=str(tmp_path / "runs"), GLOO_SOCKET_IFNAME="lo", WANDB_MODE="disabled")  # fmt: skip
    if not resolves_to_loopback(cluster.node):
        env["MASTER_ADDR"] = "127.0.0.1"
    env.update(extra)
    return env


class Job:
    """A submitted ``train.sbatch`` job: its id, output file and run folder."""

    def __init__(self, cluster: SlurmCluster, tmp_path: Path, env: dict[str, str], chdir: Path | None = None) -> None:
        self.cluster = cluster
        where = ["--chdir", str(chdir)] if chdir else []
        result = cluster.run("sbatch", "--parsable", *where, str(SBATCH), *FIT_ARGS, base=env, cwd=tmp_path)
        self.id = result.stdout.strip().split(";")[0]
        self.out = (chdir or tmp_path) / f"lit-nn-{self.id}.out"  # the script's --output, in the job's folder
        self.run_dir = tmp_path / "runs" / "digits" / f"slurm-{self.id}"

    def output(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    def wait(self, done, timeout: float, what: str) -> dict[str, str]:
        """Poll ``scontrol show job`` until ``done(fields)``; on timeout fail with the job's output."""
        try:
            return self.cluster.wait_for_job(self.id, done, timeout, what)
        except ClusterError as exc:
            pytest.fail(f"{exc}\n--- {self.out}\n{self.output()[-4000:]}")

    def poll(self, done, timeout: float) -> dict[str, str]:
        """Poll ``scontrol show job`` until ``done(fields)`` or ``timeout``; the last fields either way."""
        deadline = time.monotonic() + timeout
        while not done(fields := self.cluster.job(self.id)) and time.monotonic() < deadline:
            time.sleep(0.2)
        return fields

    def wait_until_finished(self, timeout: float = 240) -> dict[str, str]:
        return self.wait(lambda j: j.get("JobState") in FINISHED, timeout, "end")

    def cancel(self) -> None:
        """Cancel the job unless it has finished (a failed test leaves the node free for the next)."""
        with contextlib.suppress(ClusterError):
            if self.cluster.job(self.id).get("JobState") not in FINISHED:
                self.cluster.run("scancel", self.id, check=False)


def run_folders(tmp_path: Path) -> list[Path]:
    return sorted(p.parent for p in (tmp_path / "runs").glob("*/*/run.json"))


def checkpoint_progress(path: Path) -> tuple[int, int]:
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    return checkpoint["epoch"], checkpoint["global_step"]


def saved_test_metrics(run_dir: Path) -> dict[str, float]:
    """The job's ``lit-nn test`` metrics; every rank saw the same."""
    (report,) = run_dir.glob("test-*-metrics.json")
    saved = json.loads(report.read_text())
    assert len(saved["per_rank"]) == 2 and saved["per_rank"][0] == saved["per_rank"][1] == saved["metrics"]
    return saved["metrics"]


def printed_test_acc(output: str) -> float:
    (value,) = re.findall(r"test/acc\W+([0-9.]+)", output)  # Lightning's table of test metrics
    return float(value)


def test_the_cluster_is_real_and_idle_before_any_job(cluster):
    fields = cluster.run("sinfo", "--noheader", "--format", "%P|%a|%D|%T|%N|%c").stdout.strip().split("|")
    assert fields == ["debug*", "up", "1", "idle", cluster.node, str(max(os.cpu_count() or 1, 2))]
    assert cluster.run("squeue", "--noheader").stdout.strip() == ""
    assert all(is_running(pid) for pid in cluster.pids.values())
    tasks = cluster.run("srun", "--ntasks=2", "--label", "printenv", "SLURM_PROCID", "SLURMD_NODENAME", cwd=ROOT)
    assert sorted(tasks.stdout.splitlines()) == sorted(
        [f"{rank}: {line}" for rank in (0, 1) for line in (str(rank), cluster.node)]
    ), tasks.stdout


@pytest.mark.slow
def test_sbatch_trains_on_two_tasks_and_tests_the_jobs_best_checkpoint(cluster, tmp_path):
    env = job_environment(cluster, tmp_path)
    del env["CONFIG"]  # the script's default, the shipped digits config, from a folder without configs/
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    job = Job(cluster, tmp_path, env, chdir=elsewhere)
    try:
        state = job.wait_until_finished()
    finally:
        job.cancel()
    output = job.output()
    assert (state["JobState"], state["ExitCode"], state["Restarts"]) == ("COMPLETED", "0:0", "0"), output[-4000:]

    assert f"lit-nn job {job.id} (restart 0): 1 node(s) x 2 task(s) on {cluster.node}" in output
    for rank in (0, 1):  # both tasks joined one DDP job, in fit and again in test
        assert output.count(f"Initializing distributed: GLOBAL_RANK: {rank}, MEMBER: {rank + 1}/2") == 2, output
    assert f"`Trainer.fit` stopped: `max_epochs={EPOCHS}` reached." in output

    assert run_folders(tmp_path) == [job.run_dir]
    (best,) = (job.run_dir / "checkpoints").glob("best-*.ckpt")
    assert f"Restoring states from the checkpoint path at {best}" in output  # this job's own best checkpoint
    assert checkpoint_progress(job.run_dir / "checkpoints" / "last.ckpt") == (EPOCHS - 1, EPOCHS * BATCHES)
    assert not list(job.run_dir.glob("hpc_ckpt_*.ckpt"))
    assert sorted(p.name.split("-")[0] for p in (job.run_dir / "logs").iterdir()) == ["fit", "test"]
    assert list(job.run_dir.glob("logs/fit-*/metrics.csv"))  # WANDB_MODE=disabled: CSV

    metrics = saved_test_metrics(job.run_dir)
    assert metrics["test/acc"] >= ACC_MIN
    assert printed_test_acc(output) == pytest.approx(metrics["test/acc"], abs=1e-6)


@pytest.mark.slow
def test_a_signalled_job_saves_requeues_and_resumes_in_the_same_run_and_wandb_run(cluster, tmp_path):
    wandb = tmp_path / "wandb"  # W&B offline, its own folders; the runs themselves go to the run folder
    env = job_environment(cluster, tmp_path, WANDB_MODE="offline", WANDB_DIR=str(wandb),
                          WANDB_CONFIG_DIR=str(wandb / "config"), WANDB_CACHE_DIR=str(wandb / "cache"),
                          WANDB_DATA_DIR=str(wandb / "data"))  # fmt: skip
    job = Job(cluster, tmp_path, env)
    try:
        # Signal once the first epoch is saved (the job then has EPOCHS - 1 epochs to go). `scancel
        # --signal=USR1 JOB` signals the tasks of the job's steps, as `#SBATCH --signal=SIGUSR1@90`
        # does; `--batch` would signal only the batch shell (which waits on srun; the tasks never
        # see it), and `--full` the shell too, which the untrapped SIGUSR1 kills (the job fails).
        deadline = time.monotonic() + 180
        while not (job.run_dir / "checkpoints" / "last.ckpt").exists():
            state = cluster.job(job.id)
            assert state["JobState"] not in FINISHED, f"the job ended before its first epoch:\n{job.output()[-4000:]}"
            assert time.monotonic() < deadline, f"no checkpoint after 180 s: {state}\n{job.output()[-4000:]}"
            time.sleep(0.1)
        cluster.run("scancel", "--signal=USR1", job.id)

        # lit_nn saves hpc_ckpt_1.ckpt in the run folder and runs `scontrol requeue` (seconds).
        state = job.poll(lambda j: j.get("Restarts") != "0" or j.get("JobState") in FINISHED, 30)
        if state.get("Restarts") == "0":
            output = job.output()[-4000:]
            pytest.fail(f"job {job.id} was not requeued 30 s after SIGUSR1: {state['JobState']}\n{output}")
        state = job.wait(lambda j: j.get("JobState") != "COMPLETING", 60, "end of the signalled run")
        hpc = job.run_dir / "hpc_ckpt_1.ckpt"
        assert hpc.exists(), job.output()[-4000:]
        if state["Reason"] == "BeginTime":
            # SLURM holds a requeued job back for cred_expire (120 s by default: EligibleTime is the
            # requeue time + 121 s), until the old job's credentials have expired. A real cluster
            # waits; the test lets it start in 3 s. Not now: slurmd refuses a credential made in the
            # same second as the old one's revocation (it compares whole seconds), and the job then
            # fails with "Job credential revoked" before it starts.
            cluster.run("scontrol", "update", f"JobId={job.id}", "StartTime=now+3")
        state = job.wait_until_finished()
    finally:
        job.cancel()
    output = job.output()
    assert (state["JobState"], state["ExitCode"], state["Restarts"]) == ("COMPLETED", "0:0", "1"), (
        output[-4000:] + "\n" + cluster.logs()[-4000:]
    )

    # The first run stopped mid-training; the requeued one (same job, output appended) resumed from
    # the hpc checkpoint and did the optimiser steps left, no more and no fewer.
    assert f"lit-nn job {job.id} (restart 0)" in output and f"lit-nn job {job.id} (restart 1)" in output
    assert f"lit-nn: SIGUSR1 from SLURM: saved {hpc}; requeued job {job.id}" in output
    assert f"Restoring states from the checkpoint path at {hpc}" in output
    hpc_epoch, hpc_step = checkpoint_progress(hpc)
    assert BATCHES <= hpc_step < EPOCHS * BATCHES  # signalled after the first epoch, before the last
    assert checkpoint_progress(job.run_dir / "checkpoints" / "last.ckpt") == (EPOCHS - 1, EPOCHS * BATCHES)
    assert output.count(f"`Trainer.fit` stopped: `max_epochs={EPOCHS}` reached.") == 1

    # One run folder (the job id did not change), two fit sessions and a test in it: the first fit's
    # config.yaml, then each later command's own <command>-<time>.yaml (W&B logs: no logs/ folders kept).
    assert run_folders(tmp_path) == [job.run_dir]
    assert (job.run_dir / "config.yaml").is_file()
    assert sorted(p.name.split("-")[0] for p in job.run_dir.glob("*-*.yaml")) == ["fit", "test"]
    assert saved_test_metrics(job.run_dir)["test/acc"] >= ACC_MIN  # as good as an uninterrupted job

    # One W&B run across the requeue: every W&B log of the run folder carries run.json's id.
    wandb_id = json.loads((job.run_dir / "run.json").read_text())["wandb_id"]
    logs = sorted(job.run_dir.glob("wandb/offline-run-*/run-*.wandb"))  # by start time: fit, fit again, test
    assert [path.name for path in logs] == [f"run-{wandb_id}.wandb"] * 3
    before, resumed, tested = (read_offline_run(path) for path in logs)
    # lit_nn closes the W&B run before the requeue's SIGTERM could kill W&B's service, so the
    # signalled fit's epochs are there too.
    assert before.run_id == wandb_id
    assert {row["epoch"] for row in before.history if "val/loss" in row} >= set(range(hpc_epoch))
    assert resumed.run_id == tested.run_id == wandb_id and resumed.name == f"digits/slurm-{job.id}"
    epochs = sorted({row["epoch"] for row in resumed.history if "val/loss" in row})
    assert epochs == list(range(hpc_epoch, EPOCHS))
    assert any("test/acc" in row for row in tested.history)


SWEEP_SBATCH = ROOT / "docker" / "slurm" / "sweep.sbatch"


@pytest.mark.slow
def test_two_array_tasks_of_sweep_sbatch_finish_one_study(cluster, tmp_path):
    """``sbatch --array=0-1 sweep.sbatch``: both tasks run trials of one study in the shared folder, four in all."""
    from lit_nn.sweeps.study import WORKER_ATTR, SweepFolder, load_study

    env = job_environment(cluster, tmp_path, SWEEP=str(ROOT / "configs" / "sweeps" / "digits.yaml"))
    args = ["--sweep.n_trials", "4", "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "8"]
    result = cluster.run("sbatch", "--parsable", "--array=0-1", str(SWEEP_SBATCH), *args, base=env, cwd=tmp_path)
    array = result.stdout.strip().split(";")[0]
    tasks = [f"{array}_{index}" for index in (0, 1)]
    outputs = [tmp_path / f"lit-nn-sweep-{array}_{index}.out" for index in (0, 1)]
    try:
        states = [cluster.wait_for_job(task, lambda j: j.get("JobState") in FINISHED, 300, "end") for task in tasks]
    except ClusterError as exc:
        pytest.fail(f"{exc}\n" + "\n".join(p.read_text(errors="replace")[-3000:] for p in outputs if p.exists()))
    finally:
        cluster.run("scancel", array, check=False)
    text = [p.read_text(errors="replace") for p in outputs]
    for index, (state, output) in enumerate(zip(states, text, strict=True)):
        assert (state["JobState"], state["ExitCode"]) == ("COMPLETED", "0:0"), output[-4000:]
        assert f"lit-nn sweep: array job {array} task {index} (restart 0)" in output

    folder = tmp_path / "runs" / "digits" / "sweeps" / "digits"
    study, _ = load_study(SweepFolder(folder))
    trials = study.get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    tasks_seen = {t.user_attrs[WORKER_ATTR].rsplit("array task ", 1)[-1].rstrip(")") for t in trials}
    assert tasks_seen == {"0", "1"}  # both tasks ran trials of the one study
    for trial in trials:  # each exactly once, in one run folder
        assert sum(output.count(f"trial {trial.number} of 4 started") for output in text) == 1
        assert len(list((folder / f"trial-{trial.number:04d}" / "logs").glob("fit-*"))) == 1
