"""Every documented LightningCLI route, through the real `lit-nn` command in a subprocess, run from a
folder that is not the repository root: registry names inside jsonargparse, shipped configs by name,
environment variables, defaults without a config, the checkpoint a command picks, and the one line
it prints."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from lit_nn.cli import main
from tests.conftest import ROOT, plugin_pythonpath
from tests.helpers.cli import clean_environment, dogs_vs_cats_overrides, fit, lit_nn_command, run
from tests.helpers.data import house_prices_csv, write_csv
from tests.helpers.files import snapshot
from tests.helpers.shapes import make_shapes_folder

QUICK = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2",
         "--trainer.enable_progress_bar", "false"]  # fmt: skip


def errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("lit-nn: error:")]


def one_error(result, status: int = 2) -> str:
    """The command failed with ``status``, one error line, no traceback; return that line."""
    assert result.returncode == status, result.stdout[-2000:] + result.stderr[-3000:]
    lines = errors(result)
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return lines[0]


def notices(result) -> list[str]:
    lines = result.stderr.splitlines()  # the thread count (every command) and duplicates (every fit): not counted
    said_always = ("error:", "torch computes on", "lit-nn: duplicates:")
    return [x for x in lines if x.startswith("lit-nn: ") and not any(s in x for s in said_always)]


def checkpoints(root: Path, experiment: str, which: str = "best-*") -> list[Path]:
    return sorted(root.glob(f"{experiment}/*/checkpoints/{which}.ckpt"))


@pytest.fixture(scope="module")
def trained_digits(tmp_path_factory) -> Path:
    """A run root with one short digits run (shipped config), made in process."""
    root = tmp_path_factory.mktemp("trained") / "runs"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WANDB_MODE", "disabled")
        fit("configs/digits.yaml", root, *QUICK)
    return root


def test_a_config_with_names_includes_a_file_beside_it(tmp_path):
    folder = tmp_path / "experiment"
    folder.mkdir()
    (folder / "digits-mlp.yaml").write_text(
        "model:\n  class_path: MulticlassClassificationTask\n  init_args:\n    backbone: mlp\n"
        "data:\n  class_path: digits\n  init_args:\n    as_images: false\ntrainer: trainer.yaml\n"
    )
    (folder / "trainer.yaml").write_text(
        "max_epochs: 1\nlimit_train_batches: 2\nlimit_val_batches: 1\nenable_progress_bar: false\n"
    )
    result = run(["fit", "-c", "experiment/digits-mlp.yaml"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (saved,) = (tmp_path / "runs" / "digits").glob("*/config.yaml")
    config = yaml.safe_load(saved.read_text())
    assert config["data"]["class_path"] == "lit_nn.data.bundled.Digits"
    assert config["trainer"]["limit_train_batches"] == 2 and config["trainer"]["max_epochs"] == 1
    assert sorted(p.name for p in folder.iterdir()) == ["digits-mlp.yaml", "trainer.yaml"]  # nothing written beside


def test_help_for_a_datamodule_by_its_registry_name(tmp_path):
    digits = run(["fit", "--data.help", "digits"], cwd=tmp_path)
    assert digits.returncode == 0, digits.stderr[-2000:]
    assert "--data.max_shift" in digits.stdout and "--data.batch_size" in digits.stdout
    csv_help = run(["fit", "--data.help", "csv"], cwd=tmp_path)
    assert csv_help.returncode == 0 and "--data.target" in csv_help.stdout and "--data.delimiter" in csv_help.stdout


def test_fit_help_lists_the_registered_names(tmp_path):
    result = run(["fit", "--help"], cwd=tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for name in ("MulticlassClassificationTask", "RegressionTask", "digits", "breast_cancer", "csv", "image_folder"):
        assert name in text


def test_environment_variables_on_request(tmp_path):
    config = tmp_path / "conf" / "digits.yaml"
    config.parent.mkdir()
    shutil.copy(ROOT / "configs" / "digits.yaml", config)
    env = {"LIT_NN_DEFAULT_ENV": "1", "PL_FIT__CONFIG": str(config), "PL_FIT__TRAINER__MAX_EPOCHS": "1",
           "PL_FIT__TRAINER__LIMIT_TRAIN_BATCHES": "2", "PL_FIT__TRAINER__LIMIT_VAL_BATCHES": "1"}  # fmt: skip
    result = run(["fit", "--trainer.enable_progress_bar", "false"], cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr[-3000:]
    (last,) = checkpoints(tmp_path / "runs", "digits", "last")
    assert torch.load(last, weights_only=True)["global_step"] == 2  # one epoch of two batches: the variables applied
    ignored = run(["fit", "--print_config"], cwd=tmp_path, **{**env, "LIT_NN_DEFAULT_ENV": "0"})
    assert "fit needs a model" in one_error(ignored)  # off by default: the variables are not read


def test_shipped_configs_by_name_from_any_folder(tmp_path):
    listing = run(["configs"], cwd=tmp_path)
    assert listing.returncode == 0
    assert re.search(r"^digits\s+Handwritten digits", listing.stdout, flags=re.M)
    assert re.search(r"^trainer/debug\s+", listing.stdout, flags=re.M)
    result = run(["fit", "-c", "digits", "-c", "configs/trainer/debug.yaml"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (said,) = notices(result)  # the repository's path, typed where there is no checkout
    assert said.startswith("lit-nn: configs/trainer/debug.yaml is not here; using the shipped config trainer/debug")
    assert list((tmp_path / "runs" / "digits").glob("*/run.json"))
    missing = one_error(run(["fit", "-c", "mine/digits.yaml"], cwd=tmp_path))
    assert "config file mine/digits.yaml does not exist" in missing and "Shipped configs: breast_cancer" in missing
    assert "did you mean 'digits'" in one_error(run(["fit", "-c", "digit"], cwd=tmp_path)).lower()


def test_without_a_config_sensible_defaults_are_chosen_and_said(tmp_path):
    house_prices_csv(tmp_path / "houses.csv")
    args = ["fit", "--model", "RegressionTask", "--data", "csv", "--data.path", "houses.csv", "--data.target", "price"]
    shown = run([*args, "--print_config"], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    config = yaml.safe_load(shown.stdout)
    assert config["trainer"]["max_epochs"] == 100
    (early,) = [c for c in config["trainer"]["callbacks"] if c["class_path"].endswith("EarlyStopping")]
    assert early["init_args"]["patience"] == 10 and early["init_args"]["monitor"] == "val/loss"
    (said,) = notices(shown)
    assert "no max_epochs given: training for at most 100 epochs, stopping early once val/loss" in said
    assert not (tmp_path / "runs").exists()  # --print_config makes no folder
    stopped = run([*args, "--trainer.enable_progress_bar", "false", "--trainer.callbacks+=EarlyStopping",
                   "--trainer.callbacks.monitor", "val/loss", "--trainer.callbacks.patience", "2",
                   "--trainer.callbacks.min_delta", "1e9"], cwd=tmp_path)  # fmt: skip
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    assert "Early stopping after epoch 2: val/loss had not improved for 2 epochs" in stopped.stdout
    (said,) = notices(stopped)  # a stopping rule was given: only the epoch limit is chosen
    assert "training for at most 100 epochs (set --trainer.max_epochs" in said


def test_best_picks_only_runs_of_the_same_configuration(tmp_path, trained_digits):
    root = trained_digits.parent / "shared"
    shutil.copytree(trained_digits, root)
    (cnn_best,) = checkpoints(root, "digits")
    mlp = run(
        [
            "fit",
            "-c",
            str(ROOT / "configs/digits.yaml"),
            "--model.backbone",
            "mlp",
            "--model.backbone_kwargs",
            "{hidden_sizes: [16]}",
            "--data.as_images",
            "false",
            "--data.max_shift",
            "0",
            "--run.root",
            str(root),
            *QUICK,
        ],
        cwd=tmp_path,
    )
    assert mlp.returncode == 0, mlp.stderr[-3000:]  # fmt: skip
    tested = run(["test", "-c", str(ROOT / "configs/digits.yaml"), "--ckpt_path", "best", "--run.root", str(root)],
                 cwd=tmp_path)  # fmt: skip
    assert tested.returncode == 0, tested.stderr[-3000:]
    (said,) = [n for n in notices(tested) if "checkpoint of run" in n]
    assert said.endswith(str(cnn_best)), said  # the CNN run, though the MLP run is newer
    refused = run(["test", "--model", "BinaryClassificationTask", "--data", "digits", "--ckpt_path", "best",
                   "--run.root", str(root)], cwd=tmp_path)  # fmt: skip
    line = one_error(refused)
    assert "no run under" in line and "that trains BinaryClassificationTask" in line
    assert "the latest run with one" in line and "trains MulticlassClassificationTask (backbone mlp" in line


def test_a_checkpoint_that_does_not_fit_the_config_is_refused_naming_both(tmp_path, trained_digits):
    (best,) = checkpoints(trained_digits, "digits")
    before = best.read_bytes()
    line = one_error(
        run(["test", "-c", str(ROOT / "configs/breast_cancer.yaml"), "--ckpt_path", str(best)], cwd=tmp_path)
    )
    assert f"checkpoint {best} does not fit this command's configuration" in line
    assert "task: this command BinaryClassificationTask, the checkpoint MulticlassClassificationTask" in line
    assert "data: this command BreastCancer, the checkpoint Digits" in line
    classes = one_error(run(["test", "-c", str(ROOT / "configs/digits.yaml"), "--model.num_classes", "5",
                             "--ckpt_path", str(best)], cwd=tmp_path))  # fmt: skip
    assert "num_classes: this command 5, the checkpoint 10" in classes
    assert best.read_bytes() == before


def test_resume_and_train_longer_replans_the_one_cycle_schedule(tmp_path):
    config = str(ROOT / "configs/digits.yaml")
    fit(config, tmp_path / "runs", *QUICK)  # the first fit, in process: the resume is what runs as a user's
    longer = run(["fit", "-c", config, *QUICK, "--trainer.max_epochs", "3", "--ckpt_path", "last"], cwd=tmp_path)
    assert longer.returncode == 0, longer.stderr[-3000:]
    assert "exists and is not empty" not in longer.stderr  # a resume writes into its own run's folder
    (replanned,) = [n for n in notices(longer) if "schedule" in n]
    assert "one-cycle schedule was planned for 3 optimiser steps and this fit runs 9: re-planned for 9" in replanned
    (last,) = checkpoints(tmp_path / "runs", "digits", "last")
    state = torch.load(last, weights_only=True)
    assert state["epoch"] == 2 and state["global_step"] == 9
    assert state["lr_schedulers"][0]["total_steps"] == 9


def test_the_batch_size_finder_works_with_the_one_cycle_config(tmp_path):
    result = run(["fit", "-c", str(ROOT / "configs/digits.yaml"), *QUICK, "--trainer.limit_train_batches", "1.0",
                  "--trainer.callbacks+=BatchSizeFinder", "--trainer.callbacks.max_trials", "2",
                  "--trainer.callbacks.init_val", "256"], cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (last,) = checkpoints(tmp_path / "runs", "digits", "last")
    state = torch.load(last, weights_only=True)
    assert state["lr_schedulers"][0]["total_steps"] == state["global_step"]  # planned for the batches it ran


def test_a_checkpoint_alone_rebuilds_a_plugin_datamodule_without_saved_hyperparameters(tmp_path):
    env = {"PYTHONPATH": plugin_pythonpath("good")}
    trained = run(["fit", "--model", "BinaryClassificationTask", "--data", "fixture_blobs", "--data.num_samples", "32",
                   *QUICK], cwd=tmp_path, **env)  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    (best,) = checkpoints(tmp_path / "runs", "fixture_blobs")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tested = run(["test", "--ckpt_path", str(best)], cwd=elsewhere, **env)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert re.search(r"test/acc\W+[\d.]+", tested.stdout)
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "runs").rglob("*"))
    disabled = run(["test", "--ckpt_path", str(best)], cwd=elsewhere, LIT_NN_DISABLE_PLUGINS="good", **env)
    line = one_error(disabled)
    assert "needs the datamodule litnn_fixture_good.Blobs, from the plugin 'good'" in line, line
    assert "disabled by LIT_NN_DISABLE_PLUGINS" in line and "--data NAME" in line, line
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "runs").rglob("*")) == before


def test_dogs_vs_cats_without_a_test_folder_says_so_and_a_failed_test_leaves_no_trace(tmp_path):
    overrides = dogs_vs_cats_overrides(tmp_path)  # the layout the config recommends: train/ and val/
    trained = run(["fit", "-c", "dogs_vs_cats", *overrides, *QUICK, "--trainer.logger", "false",
                   "--data.num_workers", str(len(os.sched_getaffinity(0)) + 2)], cwd=tmp_path)  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "worker processes in total" not in trained.stderr  # more workers than CPUs asked: as many as CPUs
    (said,) = [line for line in trained.stdout.splitlines() if line.startswith("Test it:")]
    images = tmp_path / "images"
    assert f"{images} has no test/ folder, so there is no test split: add {images}/test/<class>/" in said, said
    before = snapshot(tmp_path / "runs")
    command = said.split("then: lit-nn ", 1)[1].split()
    line = one_error(run(command, cwd=tmp_path))
    assert f"{images} has no test/ folder" in line, line
    assert snapshot(tmp_path / "runs") == before  # the failed test left no file behind
    make_shapes_folder(images, per_class=2, size=40, splits=["test"])
    tested = run(command, cwd=tmp_path)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "Please add the following callbacks" not in tested.stderr  # lit_nn's fit-only callbacks


def test_relative_data_paths_are_recorded_resolved(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    house_prices_csv(work / "houses.csv")
    trained = run(["fit", "--model", "RegressionTask", "--data", "csv", "--data.path", "houses.csv",
                   "--data.target", "price", *QUICK], cwd=work)  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    command = re.search(r"Test it: lit-nn (.+)", trained.stdout).group(1).split()
    tested = run(command, cwd=tmp_path)  # the printed command, from another folder
    assert tested.returncode == 0, tested.stderr[-3000:]
    (saved,) = (work / "runs" / "csv").glob("*/config.yaml")
    assert yaml.safe_load(saved.read_text())["data"]["init_args"]["path"] == str(work / "houses.csv")


def test_evaluating_needs_a_checkpoint_or_a_plain_untrained(tmp_path):
    config = str(ROOT / "configs/breast_cancer.yaml")
    line = one_error(run(["test", "-c", config], cwd=tmp_path))
    assert "test evaluates a trained model: give --ckpt_path best" in line and "--untrained true" in line
    assert not (tmp_path / "runs").exists()
    untrained = run(["test", "-c", config, "--untrained", "true"], cwd=tmp_path)
    assert untrained.returncode == 0, untrained.stderr[-3000:]
    assert re.search(r"test/acc\W+[\d.]+", untrained.stdout)


def test_predict_on_a_new_csv_without_the_target_column(tmp_path):
    house_prices_csv(tmp_path / "houses.csv")  # trained in process: the predict and test commands are the routes
    main(["fit", "--model", "RegressionTask", "--data", "csv", "--data.path", str(tmp_path / "houses.csv"),
          "--data.target", "price", "--trainer.max_epochs", "40", "--trainer.enable_progress_bar", "false",
          "--run.root", str(tmp_path / "runs")])  # fmt: skip
    (best,) = checkpoints(tmp_path / "runs", "csv")
    house_prices_csv(tmp_path / "labelled.csv", n=30, seed=7)
    rows = list(csv.reader((tmp_path / "labelled.csv").open()))
    write_csv(tmp_path / "new.csv", [r[:3] for r in rows[1:]], rows[0][:3])  # no price column
    output = tmp_path / "predictions.csv"
    predicted = run(["predict", "--ckpt_path", str(best), "--data.path", "new.csv", "--output", str(output)],
                    cwd=tmp_path)  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    table = list(csv.DictReader(output.open()))
    assert list(table[0]) == ["id", "prediction"] and [r["id"] for r in table] == [str(i) for i in range(30)]
    truth = [float(r[3]) for r in rows[1:]]
    errors_ = [abs(float(r["prediction"]) - t) for r, t in zip(table, truth, strict=True)]
    assert sum(errors_) / len(errors_) < 0.1 * sum(truth) / len(truth)  # the training encoding and scaling applied
    refused = one_error(run(["test", "--ckpt_path", str(best), "--data.path", "new.csv"], cwd=tmp_path))
    assert "new.csv has no targets, so there is nothing to test against" in refused


def test_predict_on_a_folder_of_unlabelled_images(tmp_path):
    root = make_shapes_folder(tmp_path / "shapes", per_class=6, size=32)  # trained in process: predict is the route
    main(["fit", "--model", "BinaryClassificationTask", "--data", "image_folder", "--data.root", str(root),
          "--data.image_size", "24", "--data.num_workers", "0", "--data.batch_size", "4",
          "--model.backbone", "cnn", *QUICK, "--run.root", str(tmp_path / "runs")])  # fmt: skip
    (best,) = checkpoints(tmp_path / "runs", "image_folder")
    flat = tmp_path / "new"
    flat.mkdir()
    for i, image in enumerate(sorted((root / "val").rglob("*.jpg"))[:5]):
        shutil.copy(image, flat / f"photo{i}.jpg")
    output = tmp_path / "predictions.csv"
    predicted = run(["predict", "--ckpt_path", str(best), "--data.root", str(flat), "--output", str(output)],
                    cwd=tmp_path)  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    table = list(csv.DictReader(output.open()))
    assert [Path(r["id"]).name for r in table] == [f"photo{i}.jpg" for i in range(5)]
    assert list(table[0]) == ["id", "label", "p_circle", "p_square"]


def test_lightning_optimizer_arguments_are_recorded_as_what_ran(tmp_path):
    result = run(["fit", "-c", str(ROOT / "configs/breast_cancer.yaml"), *QUICK, "--optimizer", "SGD",
                  "--optimizer.lr", "0.05", "--lr_scheduler", "StepLR", "--lr_scheduler.step_size", "1"],
                 cwd=tmp_path, WANDB_MODE="disabled")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (last,) = checkpoints(tmp_path / "runs", "breast_cancer", "last")
    hparams = torch.load(last, weights_only=True)["hyper_parameters"]
    assert hparams["optimizer"] == "torch.optim.SGD" and hparams["lr"] == 0.05
    assert hparams["scheduler"] == "torch.optim.lr_scheduler.StepLR" and hparams["scheduler_kwargs"]["step_size"] == 1
    (saved,) = (tmp_path / "runs" / "breast_cancer").glob("*/logs/fit-*/hparams.yaml")
    assert yaml.safe_load(saved.read_text())["optimizer"] == "torch.optim.SGD"
    alone = run(["test", "--ckpt_path", str(last)], cwd=tmp_path, WANDB_MODE="disabled")
    assert alone.returncode == 0, alone.stderr[-3000:]  # the task rebuilds what it records


def test_messages_say_what_to_do(tmp_path):
    bare = one_error(run(["fit"], cwd=tmp_path))
    assert "fit needs a model: give a config (-c digits" in bare and "--model TASK --data NAME" in bare
    schedule = one_error(
        run(
            [
                "fit",
                "-c",
                "breast_cancer",
                *QUICK,
                "--lr_scheduler",
                "OneCycleLR",
                "--lr_scheduler.max_lr",
                "0.1",
                "--lr_scheduler.total_steps",
                "2",
                "--trainer.max_epochs",
                "3",
            ],
            cwd=tmp_path,
        )
    )
    assert "OneCycleLR was given total_steps=2, but this fit runs 3 epochs (it steps once an epoch)" in schedule


def test_an_error_during_an_epoch_starts_its_own_line(tmp_path):
    diverging = ["fit", "-c", "diabetes", "--optimizer", "SGD", "--optimizer.lr", "0.7", "--trainer.max_epochs", "5"]
    result = subprocess.run([*lit_nn_command(), *diverging], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=clean_environment(), timeout=600)  # fmt: skip
    assert result.returncode == 2
    pieces = re.split(r"[\r\n]", result.stdout)
    (line,) = [p for p in pieces if "lit-nn: error:" in p]
    assert line.startswith("lit-nn: error:") and "the training loss became inf" in line, line


def test_print_config_shows_what_really_runs(tmp_path):
    result = run(["fit", "-c", "digits", "--print_config"], cwd=tmp_path, WANDB_MODE="offline")
    assert result.returncode == 0, result.stderr[-2000:]
    config = yaml.safe_load(result.stdout)
    assert config["trainer"]["logger"]["class_path"] == "lit_nn.wandb_logger.RunWandbLogger"  # for run folders
    wandb_args = config["trainer"]["logger"]["init_args"]
    assert wandb_args["offline"] is True and wandb_args["project"] == "lit_nn" and wandb_args["log_model"] is True
    assert (wandb_args["job_type"], wandb_args["group"], wandb_args["resumed"]) == ("fit", "digits", False)
    run_dir = Path(config["trainer"]["default_root_dir"])
    assert run_dir.parent == Path("runs/digits") and config["trainer"]["logger"]["init_args"]["save_dir"] == str(
        run_dir
    )
    assert config["checkpoint"]["dirpath"] == str(run_dir / "checkpoints")
    assert f"# run folder: {run_dir} (made when the command runs)" in result.stdout
    assert not (tmp_path / "runs").exists()
