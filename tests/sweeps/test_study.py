"""The shared study: claims and trial locks between real processes, interrupted trials taken over."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest
from jsonargparse import Namespace
from optuna.trial import TrialState

from lit_nn.errors import ConfigError
from lit_nn.sweeps.space import spec_of
from lit_nn.sweeps.study import RUN_DIR_ATTR, SweepFolder, hold, load_study, next_trial, open_study
from tests.conftest import ROOT


def make_spec(n_trials=3, storage="journal", **given):
    options = dict(name="s", parameters={"model.lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True}},
                   n_trials=n_trials, sampler="random", metric=None, direction=None, pruning=False, warmup_epochs=0,
                   seed=0, storage=storage)  # fmt: skip
    return spec_of(Namespace(**{**options, **given}), "val/loss", "min")


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from lit_nn.sweeps.study import hold
    lock = hold(Path(sys.argv[1]))
    print("held" if lock else "busy", flush=True)
    time.sleep(600)
    """
)


def holding_process(path):
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_trial_lock_is_free_again_once_its_holder_is_killed(tmp_path):
    path = tmp_path / "locks" / "trial-0000.lock"
    process = holding_process(path)
    try:
        assert hold(path) is None  # a living process holds it
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        lock = hold(path)  # the kernel let it go with the process
        assert lock is not None
        lock.close()
    finally:
        process.kill()


@pytest.mark.parametrize("storage", ["journal", "sqlite"])
def test_an_interrupted_trial_is_taken_over_with_its_values_and_never_more_trials_than_asked(tmp_path, storage):
    folder, spec = SweepFolder(tmp_path / "s"), make_spec(storage=storage)
    study = open_study(folder, spec, {"model": {"lr": 0.1}})
    first = next_trial(study, folder, spec)
    values = first.values
    second = next_trial(study, folder, spec)
    assert (first.trial.number, second.trial.number) == (0, 1) and second.values != values
    assert first.run_dir == folder.path / "trial-0000" and not first.carried_on
    first.release()  # as a killed process's lock is released: trial 0 is now interrupted
    taken = next_trial(study, folder, spec)
    assert taken.trial.number == 0 and taken.carried_on and taken.values == values
    assert taken.run_dir == folder.path / "trial-0000"  # no last.ckpt in it: nothing made yet, so the same name
    third = next_trial(study, folder, spec)
    assert third.trial.number == 2
    assert next_trial(study, folder, spec) is None  # three trials asked: none more while all are taken
    for claimed in (taken, second, third):
        study.tell(claimed.trial, 0.5)
        claimed.release()
    assert next_trial(study, folder, spec) is None
    assert [t.state for t in load_study(folder)[0].get_trials()] == [TrialState.COMPLETE] * 3
    grown = make_spec(n_trials=4, storage=storage)  # asking for more carries the same study on
    assert next_trial(open_study(folder, grown, {"model": {"lr": 0.1}}), folder, grown).trial.number == 3


def test_an_interrupted_trial_without_a_checkpoint_is_run_again_in_a_new_folder(tmp_path):
    folder, spec = SweepFolder(tmp_path / "s"), make_spec()
    study = open_study(folder, spec, {})
    first = next_trial(study, folder, spec)
    first.run_dir.mkdir()  # it started (its run folder exists) but wrote no last.ckpt
    first.release()
    again = next_trial(study, folder, spec)
    assert again.trial.number == 0 and again.run_dir == folder.path / "trial-0000-2"
    assert study.get_trials()[0].user_attrs[RUN_DIR_ATTR] == str(folder.path / "trial-0000-2")
    (again.run_dir / "checkpoints").mkdir(parents=True)
    (again.run_dir / "checkpoints" / "last.ckpt").write_bytes(b"")  # the second attempt got as far as a checkpoint
    again.release()
    resumed = next_trial(study, folder, spec)
    assert resumed.run_dir == folder.path / "trial-0000-2" and resumed.values == first.values


def test_a_trial_held_by_a_living_process_is_left_to_it(tmp_path):
    folder, spec = SweepFolder(tmp_path / "s"), make_spec(n_trials=2)
    study = open_study(folder, spec, {})
    first = next_trial(study, folder, spec)
    first.release()
    process = holding_process(folder.lock_file(0))  # another process runs trial 0
    try:
        second = next_trial(study, folder, spec)  # held by this process while it lives
        assert second.trial.number == 1
        assert next_trial(study, folder, spec) is None
    finally:
        process.kill()


def test_a_folder_holding_another_study_is_refused_naming_the_difference(tmp_path):
    folder = SweepFolder(tmp_path / "s")
    open_study(folder, make_spec(), {"model": {"init_args": {"lr": 0.1}}})
    started = r"holds a study started with another --sweep.seed \(seed: 0 then, 1 now\).*another --sweep.name"
    with pytest.raises(ConfigError, match=started):
        open_study(folder, make_spec(seed=1), {"model": {"init_args": {"lr": 0.1}}})
    with pytest.raises(ConfigError, match=r"another configuration \(model.init_args.lr: 0.1 then, 0.2 now\)"):
        open_study(folder, make_spec(), {"model": {"init_args": {"lr": 0.2}}})


def test_a_missing_sweep_folder_says_what_to_give(tmp_path):
    with pytest.raises(ConfigError, match="holds no sweep"):
        load_study(SweepFolder(tmp_path))


def test_claims_are_exclusive_between_processes(tmp_path):
    folder = SweepFolder(tmp_path / "s")
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from lit_nn.sweeps.study import SweepFolder, claim
        with claim(SweepFolder(Path(sys.argv[1]))):
            print("claimed", flush=True)
            time.sleep(1.0)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(folder.path)], stdout=subprocess.PIPE, text=True,
                               cwd=ROOT)  # fmt: skip
    assert process.stdout.readline().strip() == "claimed"
    from lit_nn.sweeps.study import claim

    started = time.monotonic()
    with claim(folder):
        waited = time.monotonic() - started
    process.wait(timeout=30)
    assert waited > 0.5  # it waited for the other process's claim


def test_a_trial_stopped_before_its_values_were_drawn_draws_them_as_its_number_would(tmp_path):
    spec = make_spec()
    fresh_folder = SweepFolder(tmp_path / "fresh")
    expected = next_trial(open_study(fresh_folder, spec, {}), fresh_folder, spec).values
    folder = SweepFolder(tmp_path / "s")
    study = open_study(folder, spec, {})
    study.ask()  # as a process stopped inside its claim leaves it: running, no values, no lock, no run folder
    taken = next_trial(study, folder, spec)
    assert taken.trial.number == 0 and taken.carried_on and taken.values == expected


@pytest.mark.parametrize("how", ["garbage", "cut"])
def test_a_damaged_journal_is_refused_in_one_line_before_anything_is_written(tmp_path, how):
    folder, spec = SweepFolder(tmp_path / "s"), make_spec()
    study = open_study(folder, spec, {"a": 1})
    trial = study.ask()
    study.tell(trial, 1.0)
    journal = folder.path / "study.journal"
    if how == "garbage":
        lines = journal.read_bytes().splitlines(keepends=True)
        journal.write_bytes(b"".join([lines[0], b"\x00garbage{\n", *lines[1:]]))
        bad = 2
    else:
        bad = len(journal.read_bytes().splitlines())
        journal.write_bytes(journal.read_bytes()[:-7])  # the last entry cut short, as by a kill mid-write
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.path.iterdir() if p.is_file()}
    for attempt in (lambda: open_study(folder, make_spec(n_trials=5), {"a": 1}), lambda: load_study(folder)):
        with pytest.raises(ConfigError) as refused:
            attempt()
        message = str(refused.value)
        assert "\n" not in message and message.startswith(f"{journal} line {bad} ")
        assert ("cut short" if how == "cut" else "is not a journal entry") in message
        assert f"sed -i '{bad}d' {journal}" in message and ".bak" in message
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.path.iterdir() if p.is_file()}
    assert after == before  # sweep.json (n_trials asked anew), base.yaml and the journal untouched
