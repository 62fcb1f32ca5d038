"""``lit-nn sweep``: real Optuna studies of real digits trials; killed, restarted and shared by workers."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time

import optuna
import pytest
import yaml
from jsonargparse import Namespace
from optuna.trial import TrialState

from lit_nn.cli import main
from lit_nn.cli.sweep import Plan, write_report
from lit_nn.sweeps.space import spec_of
from lit_nn.sweeps.study import RUN_DIR_ATTR, WORKER_ATTR, SweepFolder, load_study
from lit_nn.sweeps.trial import recorded_score
from tests.conftest import ROOT
from tests.helpers.cli import clean_environment, lit_nn_command, run, start
from tests.helpers.wandb_files import read_offline_run

QUICK = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "8"]


def sweep_args(root, *extra):
    return ["-c", "configs/digits.yaml", "-c", "configs/sweeps/digits.yaml", "--run.root", str(root), *QUICK, *extra]


def trials(folder):
    study, _ = load_study(SweepFolder(folder))
    return study.get_trials()


def fit_sessions(run_dir):
    return sorted(p.name for p in (run_dir / "logs").iterdir() if p.name.startswith("fit-"))


@pytest.fixture(scope="module")
def digits_sweep(tmp_path_factory):
    """Three trials of two epochs, W&B offline (no key: HOME is an empty folder)."""
    tmp = tmp_path_factory.mktemp("sweep")
    (tmp / "home").mkdir()
    saved = dict(os.environ)
    os.environ.pop("WANDB_MODE", None)
    os.environ["HOME"] = str(tmp / "home")
    try:
        result = run(["sweep", *sweep_args(tmp / "runs", "--sweep.n_trials", "3")], cwd=ROOT, environ=dict(os.environ))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, tmp / "runs" / "digits" / "sweeps" / "digits", result


def test_a_small_digits_sweep_ends_with_the_table_the_best_config_and_optunas_plots(digits_sweep):
    _, folder, result = digits_sweep
    done = trials(folder)
    assert [t.number for t in done] == [0, 1, 2] and all(t.state == TrialState.COMPLETE for t in done)
    best = max(done, key=lambda t: t.value)
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("trial  state"))
    assert "val/acc" in header and "model.lr" in header and "data.batch_size" in header
    assert any(line.startswith(f"{best.number}  ") and " best " in line for line in lines)
    assert f"Best: trial {best.number}, val/acc {best.value:.4f}" in result.stdout
    assert "3 of 3 trials: 3 complete, 0 pruned, 0 failed" in result.stdout
    for name in ("history.png", "importances.png", "parallel_coordinate.png", "slice.png"):
        data = (folder / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000, name
    rows = (folder / "trials.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("trial,state,val/acc,epochs,model.lr")
    for trial in done:  # every trial is an ordinary run folder of the sweep, its value its best checkpoint's
        run_dir = folder / f"trial-{trial.number:04d}"
        assert trial.user_attrs[RUN_DIR_ATTR] == str(run_dir)
        assert (run_dir / "run.json").is_file() and (run_dir / "config.yaml").is_file()
        assert len(list((run_dir / "checkpoints").glob("best-*.ckpt"))) == 1
        assert recorded_score(run_dir, "val/acc") == pytest.approx(trial.value)
        assert len(trial.intermediate_values) == 2  # one value per epoch, reported to Optuna
        assert (folder / "logs" / f"trial-{trial.number:04d}.log").read_text().count("Epoch") >= 0
    assert "GPU available" not in result.stdout  # each trial's Lightning output is in its log, not the console


def test_each_trial_is_its_own_wandb_run_grouped_by_the_sweep(digits_sweep):
    _, folder, _ = digits_sweep
    ids = set()
    for number in range(3):
        (log,) = (folder / f"trial-{number:04d}").glob("wandb/offline-run-*/run-*.wandb")
        saved = read_offline_run(log)
        assert saved.group == "digits" and saved.name == f"digits/trial-{number:04d}" and saved.job_type == "fit"
        assert saved.config["checkpoint"]["monitor"] == "val/acc"
        ids.add(saved.run_id)
    assert len(ids) == 3
    upload = f"W&B: each trial's run is offline in its folder; upload them all: wandb sync {folder}/trial-*/wandb/"
    upload += "offline-run-*"
    assert digits_sweep[2].stdout.rstrip().splitlines()[-1] == upload


def test_the_best_config_trains_to_the_reported_value_on_the_same_split(digits_sweep):
    tmp, folder, _ = digits_sweep
    best = max(trials(folder), key=lambda t: t.value)
    text = (folder / "best.yaml").read_text()
    assert text.startswith(f"# lit_nn sweep digits: trial {best.number}, val/acc")
    main(["fit", "-c", str(folder / "best.yaml"), "--run.root", str(tmp / "refit"), "--trainer.logger", "false"])
    (run_dir,) = [p.parent for p in (tmp / "refit").glob("digits/*/run.json")]
    assert recorded_score(run_dir, "val/acc") == pytest.approx(best.value, abs=1e-6)


def test_the_report_can_be_drawn_again_at_any_time(digits_sweep, capsys):
    _, folder, _ = digits_sweep
    (folder / "history.png").unlink()
    assert main(["sweep", "--report", str(folder)]) is None
    out = capsys.readouterr().out
    assert "3 of 3 trials: 3 complete" in out and (folder / "history.png").is_file()


def test_the_same_name_with_another_configuration_is_refused_in_one_line(digits_sweep, capsys):
    tmp, folder, _ = digits_sweep
    before = (folder / "study.journal").read_bytes()
    with pytest.raises(SystemExit) as exc:
        main(["sweep", *sweep_args(tmp / "runs", "--model.dropout", "0.3")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lit-nn: error: ") and "\n" not in err
    assert "holds a study started with another configuration (model.init_args.dropout: 0.1 then, 0.3 now)" in err
    assert (folder / "study.journal").read_bytes() == before


def test_a_trial_whose_values_fail_is_recorded_with_its_reason_and_the_sweep_goes_on(tmp_path, capsys):
    args = sweep_args(tmp_path, "--sweep.sampler", "grid", "--sweep.n_trials", "5", "--sweep.name", "acts",
                      "--sweep.parameters", "{model.activation: [relu, no_such_activation]}",
                      "--trainer.max_epochs", "1")  # fmt: skip
    assert main(["sweep", *args]) is None  # the grid has two points: two trials, one failed
    out = capsys.readouterr().out
    done = {t.params["model.activation"]: t for t in trials(tmp_path / "digits" / "sweeps" / "acts")}
    assert done["relu"].state == TrialState.COMPLETE and done["no_such_activation"].state == TrialState.FAIL
    reason = done["no_such_activation"].user_attrs["reason"]
    assert "no_such_activation" in reason and "relu" in reason  # lit_nn's unknown-name message, with the names
    assert "2 of 5 trials: 1 complete, 0 pruned, 1 failed" in out


def test_a_trial_whose_loss_is_not_finite_fails_with_lit_nns_reason(tmp_path, capsys):
    args = sweep_args(tmp_path, "--sweep.n_trials", "1", "--sweep.parameters", "{model.lr: [1.0e+12]}")
    with pytest.raises(SystemExit) as exc:  # no trial completed
        main(["sweep", *args])
    assert exc.value.code == 1
    (trial,) = trials(tmp_path / "digits" / "sweeps" / "digits")
    assert trial.state == TrialState.FAIL and "the training loss became" in trial.user_attrs["reason"]
    assert "No plots: Optuna draws a study once a trial has completed" in capsys.readouterr().out


def pruning_seed(values):
    """A seed whose grid order puts the last value last: three trials to compare with, then the poor one."""
    from jsonargparse import Namespace

    from lit_nn.sweeps.space import sampler_for, spec_of, suggest

    for seed in range(100):
        spec = spec_of(Namespace(name="p", parameters={"model.lr": values}, n_trials=4, sampler="grid", seed=seed,
                                 metric=None, direction=None, pruning=True, warmup_epochs=0, storage="journal"),
                       "val/acc", "max")  # fmt: skip
        study = optuna.create_study(direction="maximize")
        order = []
        for number in range(4):
            study.sampler = sampler_for(spec, number)
            trial = study.ask()
            order.append(suggest(trial, spec.parameters)["model.lr"])
            study.tell(trial, 0.0)
        if order[-1] == values[-1]:
            return seed
    raise AssertionError("no seed puts the poor value last")


def test_a_trial_behind_the_median_is_pruned_by_optunas_lightning_callback(tmp_path, capsys):
    values = [0.01, 0.012, 0.014, 1.0e-9]  # the last learns nothing in an epoch
    seed = pruning_seed(values)
    args = sweep_args(tmp_path, "--sweep.sampler", "grid", "--sweep.n_trials", "4", "--sweep.warmup_epochs", "0",
                      "--sweep.seed", str(seed), "--sweep.parameters", f"{{model.lr: {values}}}",
                      "--trainer.max_epochs", "3")  # fmt: skip
    assert main(["sweep", *args]) is None
    done = trials(tmp_path / "digits" / "sweeps" / "digits")
    assert [t.state for t in done] == [TrialState.COMPLETE] * 3 + [TrialState.PRUNED]
    assert done[3].params["model.lr"] == 1.0e-9 and len(done[3].intermediate_values) == 1  # pruned after epoch 0
    assert "trial 3 pruned: behind the median after 1 epoch(s)" in capsys.readouterr().out
    assert len(done[0].intermediate_values) == 3  # every epoch of a complete trial reported


def test_a_metric_the_model_does_not_log_stops_the_sweep_and_leaves_no_study(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", *sweep_args(tmp_path, "--sweep.metric", "val/accuracy")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("lit-nn: error: sweep.metric val/accuracy is not logged by this model")
    assert "val/acc" in err
    folder = tmp_path / "digits" / "sweeps" / "digits"
    assert not (folder / "sweep.json").exists()
    storage = SweepFolder(folder).storage("journal")
    assert optuna.get_all_study_names(storage) == []


@pytest.mark.parametrize(
    "given, expected",
    [
        (["--sweep.parameters", "{model.lrr: {type: float, low: 0.001, high: 0.1}}"], "sweep.parameters: "),
        (["--sweep.parameters", "{}"], "the sweep has nothing to vary"),
        (["--sweep.parameters", "{model.lr: {type: float, low: 0, high: 0.1, log: true}}"], "a log scale needs low"),
        (["--sweep.n_trials", "0"], "sweep.n_trials: expected a whole number, 1 or more"),
        (["--workers", "0"], "--workers: expected 1 or more"),
        (["--ckpt_path", "last"], "--ckpt_path is not a sweep option"),
        (["--sweep", "configs/sweeps/digits.yaml"], "this file starts with `sweep:`, so give it with -c FILE"),
        (["--trainer.devices", "2"], "a sweep trains each trial on one device"),
        (["-c", "trainer/ddp"], "a sweep trains each trial on one device"),
    ],
)
def test_a_malformed_sweep_is_refused_in_one_line_before_any_trial(tmp_path, capsys, given, expected):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", *sweep_args(tmp_path), *given])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lit-nn: error: ") and "\n" not in err and expected in err
    assert not (tmp_path / "digits" / "sweeps").exists() or not list((tmp_path / "digits" / "sweeps").rglob("*.ckpt"))


def test_a_cv_sweep_says_how_to_upload_the_offline_wandb_runs_of_its_trials_folds(tmp_path):
    folder = SweepFolder(tmp_path / "sweep")
    (folder.path / "trial-0000" / "fold-2" / "wandb" / "offline-run-20250101_120000-abc123").mkdir(parents=True)
    options = Namespace(name="sweep", parameters={"model.lr": [0.003]}, n_trials=1, sampler="random", metric=None,
                        direction=None, pruning=False, warmup_epochs=0, seed=0, storage="journal", cv=2)  # fmt: skip
    lines = write_report(Plan(spec_of(options, "val/acc", "max"), folder, {}, 1, None), optuna.create_study())
    assert lines[-1] == (f"W&B: each fold's run is offline in its folder; upload them all: wandb sync {folder.path}/"
                         "trial-*/fold-*/wandb/offline-run-*")  # fmt: skip


def test_the_section_alone_can_be_given_with_dash_dash_sweep(tmp_path, capsys):
    section = tmp_path / "lr.yaml"
    section.write_text("name: lr\nn_trials: 1\nparameters:\n  model.lr: [0.01]\n")
    args = ["-c", "configs/digits.yaml", "--sweep", str(section), "--run.root", str(tmp_path), *QUICK]
    assert main(["sweep", *args]) is None
    assert "1 of 1 trials: 1 complete" in capsys.readouterr().out
    assert [t.params for t in trials(tmp_path / "digits" / "sweeps" / "lr")] == [{"model.lr": 0.01}]


def test_print_config_shows_the_base_and_the_sweep_and_makes_nothing(tmp_path, capsys):
    assert main(["sweep", *sweep_args(tmp_path), "--print_config"]) is None
    out = capsys.readouterr().out
    shown = yaml.safe_load(out)
    assert shown["sweep"]["metric"] == "val/acc" and shown["trainer"]["devices"] == 1
    assert out.rstrip().endswith(f"# sweep folder: {tmp_path / 'digits' / 'sweeps' / 'digits'}")
    assert not (tmp_path / "digits").exists()


def test_report_of_a_folder_without_a_sweep_says_which_folder_to_give(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "--report", str(tmp_path)])
    assert exc.value.code == 2
    assert "holds no sweep" in capsys.readouterr().err


def wait_for(condition, timeout, what, process):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the sweep ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_sweep_killed_mid_trial_carries_on_to_exactly_the_trials_asked(tmp_path, capsys, how):
    args = ["sweep", *sweep_args(tmp_path, "--sweep.n_trials", "2", "--trainer.max_epochs", "6")]
    folder = tmp_path / "digits" / "sweeps" / "digits"
    process = start(args, tmp_path / "first.log", cwd=ROOT, WANDB_MODE="disabled")
    last = folder / "trial-0001" / "checkpoints" / "last.ckpt"
    try:
        wait_for(last.exists, 240, "trial 1's first checkpoint", process)
        process.send_signal(getattr(signal, how))
        assert process.wait(timeout=60) == (-9 if how == "SIGKILL" else 143)
    finally:
        process.kill()
    assert trials(folder)[1].state == TrialState.RUNNING  # interrupted: neither finished nor failed
    capsys.readouterr()
    assert main(args) is None  # the same command again (in this process: Lightning is imported already)
    assert "trial 1 of 2 carried on from its last.ckpt" in capsys.readouterr().out
    done = trials(folder)
    assert [t.number for t in done] == [0, 1]
    assert all(t.state == TrialState.COMPLETE for t in done)
    assert sorted(p.name for p in folder.glob("trial-*") if p.is_dir()) == ["trial-0000", "trial-0001"]
    assert len(fit_sessions(folder / "trial-0001")) == 2  # resumed in its own run folder
    assert len(fit_sessions(folder / "trial-0000")) == 1
    assert sorted(done[1].intermediate_values) == list(range(6))  # every epoch once, whichever part ran it


def test_two_workers_share_one_study_stop_on_ctrl_c_and_the_same_command_carries_on(tmp_path, capsys):
    args = ["sweep", *sweep_args(tmp_path, "--sweep.n_trials", "4", "--workers", "2", "--trainer.max_epochs", "5")]
    folder = tmp_path / "digits" / "sweeps" / "digits"
    with (tmp_path / "first.log").open("w") as log:  # its own process group, with Ctrl-C's default behaviour
        process = subprocess.Popen([*lit_nn_command(), *args], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                   env=clean_environment(WANDB_MODE="disabled"), start_new_session=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        running = []

        def both_running():  # trials running under two workers' names: both workers at work
            # (by name: a worker's finished trial can still read RUNNING for a moment after it took the next)
            if (folder / "sweep.json").exists():
                taken = [t for t in trials(folder) if t.state == TrialState.RUNNING]
                running[:] = [t for t in taken if WORKER_ATTR in t.user_attrs]
            return len({t.user_attrs[WORKER_ATTR] for t in running}) == 2

        wait_for(both_running, 240, "two trials running at once", process)
        os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: SIGINT to the whole group
        assert process.wait(timeout=60) != 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    first = (tmp_path / "first.log").read_text()
    assert "run the same command again to carry it on" in first
    assert len({t.user_attrs[WORKER_ATTR] for t in running}) == 2
    interrupted = [t for t in trials(folder) if t.state == TrialState.RUNNING]  # (one may have been just taken)
    assert interrupted
    begun = {t.number: (folder / f"trial-{t.number:04d}").is_dir() for t in interrupted}
    saved = {t.number: (folder / f"trial-{t.number:04d}" / "checkpoints" / "last.ckpt").is_file() for t in interrupted}

    capsys.readouterr()
    assert main(args) is None  # the same command again, its second worker a process of its own as before
    again = capsys.readouterr().out
    done = trials(folder)
    assert [t.number for t in done] == [0, 1, 2, 3] and all(t.state != TrialState.RUNNING for t in done)
    assert len({json.dumps(t.params, sort_keys=True) for t in done}) == 4  # no trial drawn twice
    for output in (first, again):  # in each run, each trial taken by one worker, once
        for number in range(4):
            assert len(re.findall(rf"^trial {number} of 4 (started|carried on)", output, re.MULTILINE)) <= 1
    for number in begun:  # carried on from its last.ckpt; begun without one, run again beside it; or not begun
        run_dir = folder / f"trial-{number:04d}"
        if saved[number]:
            assert len(fit_sessions(run_dir)) == 2, number
        elif begun[number]:
            assert len(fit_sessions(run_dir.with_name(f"{run_dir.name}-2"))) == 1, number
        else:
            assert len(fit_sessions(run_dir)) == 1, number
    assert again.count("Best: trial") == 1  # the report once, by the first process
