"""``lit-nn cv``: real folds trained and scored, the report, carrying on after a kill, workers, bad input."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from sklearn import metrics

from lit_nn.cli import main
from lit_nn.cv.report import METRICS_ATTR
from lit_nn.cv.scores import read_table
from lit_nn.data.bundled import BreastCancer
from lit_nn.data.folds import make_folds
from tests.conftest import ROOT
from tests.helpers.cli import clean_environment, lit_nn_command
from tests.helpers.data import write_csv

QUICK = ["--trainer.max_epochs", "3", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def cv_args(root, *extra):
    return ["cv", "-c", "configs/breast_cancer.yaml", "--run.root", str(root), *QUICK, *extra]


def fold_metrics(folder):
    study = optuna.load_study(study_name=folder.name, storage=f"sqlite:///{folder / 'study.db'}")
    trials = study.get_trials()
    return {t.number: t.user_attrs.get(METRICS_ATTR) for t in trials}, trials  # trial N is fold N


STUDY = ["--cv.folds", "3", "--cv.test", "true", "--cv.storage", "sqlite", "--cv.metric", "f1"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Three folds of breast_cancer, each also tested on the test split, judged by f1 (not the default); W&B off."""
    tmp = tmp_path_factory.mktemp("cv")
    saved = dict(os.environ)
    os.environ["WANDB_MODE"] = "disabled"
    try:
        main(cv_args(tmp, *STUDY))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return tmp / "breast_cancer" / "cv" / "cv"


def test_each_fold_is_an_ordinary_run_scored_on_what_it_held_out(study):
    for name in ("fold-1", "fold-2", "fold-3"):
        run = study / name
        assert (run / "run.json").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
        assert (run / "held-out-predictions.csv").is_file() and (run / "test-predictions.csv").is_file()
    record = json.loads((study / "folds.json").read_text())
    held = [read_table(study / f"fold-{k}" / "held-out-predictions.csv")["id"] for k in (1, 2, 3)]
    pool = BreastCancer().fold_samples()
    assert held == [[pool.ids[i] for i in fold] for fold in record["held_out"]]  # each model predicted its own fold
    assert record["held_out"] == [f.tolist() for f in make_folds(pool, 3, seed=0)]  # the datamodule's seed


def test_the_out_of_fold_table_has_every_sample_once_and_its_metrics_are_scikit_learns(study):
    oof = read_table(study / "oof.csv")
    pool = BreastCancer().fold_samples()
    assert sorted(oof["id"]) == sorted(pool.ids)  # every sample outside the test split, once
    summary = json.loads((study / "summary.json").read_text())
    target = np.array([t == "benign" for t in oof["target"]])
    label = np.array([t == "benign" for t in oof["label"]])
    (got,) = summary["out_of_fold"]
    assert got["acc"] == pytest.approx(metrics.accuracy_score(target, label))
    assert got["f1"] == pytest.approx(metrics.f1_score(target, label))
    assert got["auroc"] == pytest.approx(metrics.roc_auc_score(target, oof["p_benign"]))
    per_fold, _ = fold_metrics(study)
    assert summary["network"]["acc"]["mean"] == pytest.approx(np.mean([m["acc"] for m in per_fold.values()]))
    assert {c["baseline"] for c in summary["comparisons"]} == {"logistic regression", "majority class"}
    assert set(summary["test_ensemble"]) == {"acc", "precision", "recall", "f1", "auroc"}


def test_the_report_is_drawn_again_from_the_folder_by_the_metric_the_study_was_judged_by(study, capsys):
    (study / "cv.png").unlink()
    capsys.readouterr()
    assert main(["cv", "--report", str(study)]) is None
    out = capsys.readouterr().out
    assert (study / "cv.png").is_file()
    assert "3 of 3 folds complete" in out and "Test split, the 3 folds' models averaged" in out
    assert "Estimate: held-out f1" in out and "the logistic regression baseline on f1" in out  # not the default acc


def test_the_same_study_with_other_folds_or_seed_is_refused_and_left_as_it_was(study, capsys):
    before = {p: p.stat().st_mtime_ns for p in study.rglob("*") if p.is_file()}
    root = study.parents[2]
    for change in (["--cv.folds", "4"], ["--cv.seed", "5"]):
        with pytest.raises(SystemExit):
            main(cv_args(root, *STUDY, *change))
        err = capsys.readouterr().err
        assert "holds a study made with other folds" in err and "give another --cv.name" in err
        assert len(err.strip().splitlines()) == 1
    assert before == {p: p.stat().st_mtime_ns for p in study.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--cv.folds", "1"], "--cv.folds must be 2 or more"),
        (["--cv.folds", "200"], "is more than the 170 samples of class malignant"),
        (["--cv.groups", "patient"], "--cv.groups patient: BreastCancer has no columns to group by"),
        (["--data", "tests.data.test_folds.PlainData"], "PlainData cannot make cross-validation folds"),
        (["--ckpt_path", "last"], "trains every fold from the start"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing_behind(tmp_path, capsys, extra, expected):
    with pytest.raises(SystemExit) as exit_info:
        main(cv_args(tmp_path / "runs", *extra))
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(expected, err), err
    assert not (tmp_path / "runs").exists()


def test_a_groups_column_that_does_not_exist_is_named(tmp_path, capsys):
    path = write_csv(tmp_path / "d.csv", [[i % 5, float(i), i % 2] for i in range(40)], ["patient", "x", "y"])
    with pytest.raises(SystemExit):
        main(["cv", "--data", "csv", "--data.path", str(path), "--data.target", "y", "--model",
              "BinaryClassificationTask", "--run.root", str(tmp_path / "runs"), "--cv.groups", "patients",
              *QUICK])  # fmt: skip
    err = capsys.readouterr().err
    assert "--cv.groups patients:" in err and "Did you mean 'patient'" in err
    assert not (tmp_path / "runs").exists()


def wait_for(condition, timeout, what, process):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"cv ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_killed_with_two_workers_the_same_command_carries_on_to_the_same_folds_as_one_uninterrupted_worker(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("LIT_NN_THREADS", "1")  # the same arithmetic in every process
    args = ["--cv.folds", "2", "--cv.storage", "sqlite", "--trainer.max_epochs", "8"]
    reference, folder = tmp_path / "one", tmp_path / "two" / "breast_cancer" / "cv" / "cv"
    main(cv_args(reference, *args))
    with (tmp_path / "first.log").open("w") as log:  # its own process group, as a terminal's job
        process = subprocess.Popen([*lit_nn_command(), *cv_args(tmp_path / "two", *args, "--workers", "2")], stdout=log,
                                   stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
                                   env=clean_environment(WANDB_MODE="disabled", LIT_NN_THREADS="1"))  # fmt: skip
    try:
        wait_for(lambda: any(folder.glob("fold-*/checkpoints/last.ckpt")), 240, "a fold's first checkpoint", process)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    _, trials = fold_metrics(folder)
    assert any(t.state == TrialState.RUNNING for t in trials)  # killed mid-fold
    capsys.readouterr()
    main(cv_args(tmp_path / "two", *args))  # the same command again, one worker
    out = capsys.readouterr().out
    assert "carried on" in out
    again, trials = fold_metrics(folder)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 and [t.params["fold"] for t in trials] == [0, 1]
    expected, _ = fold_metrics(reference / "breast_cancer" / "cv" / "cv")
    for fold in (0, 1):
        assert again[fold]["acc"] == expected[fold]["acc"]
        assert again[fold]["loss"] == pytest.approx(expected[fold]["loss"], rel=1e-5)
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("fold-")) == ["fold-1", "fold-2"]


def test_a_metric_the_model_does_not_log_stops_after_the_first_fold_and_leaves_no_study(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(cv_args(tmp_path, "--cv.folds", "2", "--cv.metric", "accuracy", "--trainer.max_epochs", "1"))
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1].startswith("lit-nn: error: --cv.metric accuracy: the model does not log test/accuracy")
    assert "acc, auroc, ece, f1" in err
    assert not (tmp_path / "breast_cancer" / "cv" / "cv" / "sweep.json").exists()  # the fixed command starts afresh


def test_a_sweep_with_cv_judges_each_trial_by_the_mean_of_its_held_out_folds(tmp_path, capsys):
    main(["sweep", "-c", "configs/breast_cancer.yaml", "--run.root", str(tmp_path), *QUICK, "--sweep.parameters",
          "{model.lr: [0.003]}", "--sweep.n_trials", "1", "--sweep.cv", "2", "--sweep.metric", "val/acc",
          "--sweep.direction", "maximize"])  # fmt: skip
    trial = tmp_path / "breast_cancer" / "sweeps" / "sweep" / "trial-0000"
    held_out = [json.loads(next((trial / f"fold-{k}").glob("test-*-metrics.json")).read_text()) for k in (1, 2)]
    study = optuna.load_study(study_name="sweep", storage=optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(trial.parent / "study.journal"))))  # fmt: skip
    assert study.trials[0].value == pytest.approx(np.mean([m["metrics"]["test/acc"] for m in held_out]))
    assert "val/acc 2-fold mean" in capsys.readouterr().out.replace("(", "").replace(")", "")
