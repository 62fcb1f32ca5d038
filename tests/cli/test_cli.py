"""The lit-nn Lightning commands: run folders, checkpoints by name, links, errors in one line."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import yaml

from lit_nn.cli import main
from lit_nn.errors import ConfigError
from tests.helpers.cli import fit

QUICK = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2"]


def runs_of(root, experiment):
    return sorted(p.parent for p in (root / experiment).glob("*/run.json"))


def test_fit_makes_a_run_folder_with_config_checkpoints_and_logs(tmp_path):
    fit("configs/digits.yaml", tmp_path, *QUICK)
    (run_dir,) = runs_of(tmp_path, "digits")
    assert json.loads((run_dir / "run.json").read_text())["lit_nn"]
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"]["class_path"] == "lit_nn.tasks.MulticlassClassificationTask"
    assert saved["data"]["class_path"] == "lit_nn.data.bundled.Digits"
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert names[-1] == "last.ckpt" and len(names) == 2 and names[0].startswith("best-epoch=")
    (metrics,) = (run_dir / "logs").glob("fit-*/metrics.csv")
    header = next(csv.reader(metrics.open()))
    assert {"val/loss", "val/acc", "train/loss_epoch", "train/acc"} <= set(header)


def test_links_size_the_model_from_the_data(tmp_path):
    fit("configs/diabetes.yaml", tmp_path, *QUICK)
    (ckpt,) = (runs_of(tmp_path, "diabetes")[0] / "checkpoints").glob("best-*.ckpt")
    hparams = torch.load(ckpt, weights_only=True)["hyper_parameters"]
    assert hparams["input_shape"] == [10] and hparams["num_targets"] == 1


def test_two_runs_never_share_a_folder(tmp_path):
    fit("configs/breast_cancer.yaml", tmp_path, *QUICK)
    fit("configs/breast_cancer.yaml", tmp_path, *QUICK)
    first, second = runs_of(tmp_path, "breast_cancer")
    assert first != second
    assert (first / "checkpoints" / "last.ckpt").exists() and (second / "checkpoints" / "last.ckpt").exists()


def test_a_taken_run_name_is_refused_and_left_intact(tmp_path, capsys):
    fit("configs/breast_cancer.yaml", tmp_path, *QUICK, "--run.name", "baseline")
    before = (tmp_path / "breast_cancer" / "baseline" / "checkpoints" / "last.ckpt").read_bytes()
    with pytest.raises(SystemExit) as info:
        fit("configs/breast_cancer.yaml", tmp_path, *QUICK, "--run.name", "baseline")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "baseline already exists; choose another --run.name, or resume it with --ckpt_path last" in err
    assert (tmp_path / "breast_cancer" / "baseline" / "checkpoints" / "last.ckpt").read_bytes() == before


def test_resume_with_last_continues_the_same_run(tmp_path):
    fit("configs/breast_cancer.yaml", tmp_path, *QUICK)
    fit("configs/breast_cancer.yaml", tmp_path, *QUICK[2:], "--trainer.max_epochs", "3", "--ckpt_path", "last")
    (run_dir,) = runs_of(tmp_path, "breast_cancer")
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 2
    assert len(list((run_dir / "logs").glob("fit-*"))) == 2 and list(run_dir.glob("fit-*.yaml"))


def test_best_without_any_run_says_what_to_do(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["test", "-c", "configs/digits.yaml", "--ckpt_path", "best", "--run.root", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "has a best checkpoint; train one first with `lit-nn fit`" in err and "Traceback" not in err


def test_registry_names_on_the_command_line(tmp_path):
    main(["fit", "--model", "BinaryClassificationTask", "--data", "binary", "--data.num_samples", "200",
          "--model.backbone", "mlp", "--model.activation", "leaky_relu",
          "--model.activation_kwargs", "{negative_slope: 0.2}",
          "--trainer.fast_dev_run", "1", "--run.root", str(tmp_path)])  # fmt: skip
    assert runs_of(tmp_path, "binary")


def test_full_import_paths_work_without_a_plugin(tmp_path):
    main(["fit", "--model", "lit_nn.tasks.RegressionTask", "--data", "lit_nn.data.synthetic.SyntheticRegression",
          "--trainer.fast_dev_run", "1", "--run.root", str(tmp_path)])  # fmt: skip
    assert runs_of(tmp_path, "regression")


def test_lightning_optimizer_and_scheduler_arguments(tmp_path):
    fit("configs/breast_cancer.yaml", tmp_path, *QUICK, "--optimizer", "SGD", "--optimizer.lr", "0.05",
        "--lr_scheduler", "StepLR", "--lr_scheduler.step_size", "1")  # fmt: skip
    (run_dir,) = runs_of(tmp_path, "breast_cancer")
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    group = state["optimizer_states"][0]["param_groups"][0]
    assert "momentum" in group and "betas" not in group  # SGD, not the config's AdamW
    assert group["lr"] == pytest.approx(0.05 * 0.1**2)  # StepLR stepped after each of two epochs


def test_learning_rate_finder_and_early_stopping_from_the_config(tmp_path):
    fit("configs/breast_cancer.yaml", tmp_path, "--trainer.max_epochs", "2",
        "--trainer.callbacks+=LearningRateFinder", "--trainer.callbacks.num_training_steps", "20")  # fmt: skip
    (run_dir,) = runs_of(tmp_path, "breast_cancer")
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["hyper_parameters"]["lr"] != 0.003  # the finder replaced the configured rate
    assert any(key.startswith("EarlyStopping") for key in state["callbacks"])


def test_print_config_resolves_names(capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", "-c", "configs/digits.yaml", "--print_config"])
    assert info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["data"]["class_path"] == "lit_nn.data.bundled.Digits"
    assert printed["checkpoint"]["monitor"] == "val/loss"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trainer.max_epocs", "3"], "unrecognised option --trainer.max_epocs. Did you mean '--trainer.max_epochs'"),
        (["--trainer.max_epochs", "many"], "trainer.max_epochs: Expected a int (got many)"),
        (["--model.lrr", "3"], "MulticlassClassificationTask has no argument 'lrr'. Did you mean 'lr'?"),
        (["--data.batch_size", "0"], "data: batch_size must be positive, got 0"),
        (["--model.lr", "-1"], "model: lr must be positive, got -1.0"),
        (["--data", "digitz"], "Unknown datamodule 'digitz'. Did you mean 'digits'?"),
        (["--model", "Multiclass"], "Unknown model 'Multiclass'. Did you mean 'MulticlassClassificationTask'?"),
        (["--model.backbone", "resnet"], "model: Unknown backbone 'resnet'"),
        (["-c", "configs/nothere.yaml"], "config file configs/nothere.yaml does not exist"),
    ],
)
def test_bad_input_is_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LIT_NN_DISABLE_PLUGIN_AUTOLOAD", "1")  # suggestions name the built-ins, whatever is installed
    with pytest.raises(SystemExit) as info:
        main(["fit", "-c", "configs/digits.yaml", "--run.root", str(tmp_path), *args])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("lit-nn: error: "), err
    assert message in err
    assert not list(tmp_path.glob("*/*/checkpoints/*"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("trainer:\n  max_epochs: [3\n", "is not valid YAML at line 3"),
        ("trainer:\n  max_epoch: 3\n", "has 1 unknown key: trainer.max_epoch (did you mean 'max_epochs'"),
        ("- just\n- a list\n", "must hold a mapping of settings"),
    ],
)
def test_bad_config_files_are_one_line(content, message, capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    with pytest.raises(SystemExit):
        main(["fit", "-c", "configs/digits.yaml", "-c", str(bad), "--run.root", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_debugging_lets_the_exception_through(tmp_path, monkeypatch):
    monkeypatch.setenv("LIT_NN_DEBUG", "1")
    with pytest.raises(ConfigError, match="batch_size must be positive"):
        main(["fit", "-c", "configs/digits.yaml", "--data.batch_size", "-5", "--run.root", str(tmp_path)])


def test_commands_in_the_same_second_keep_separate_outputs(tmp_path):
    from lit_nn.runs import reserve_session

    names = {reserve_session(tmp_path, "fit") for _ in range(3)}
    assert len(names) == 3 and all((tmp_path / "logs" / n).is_dir() for n in names)


def test_a_run_that_fails_before_training_leaves_no_empty_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "-c", "configs/digits.yaml", "--data.batch_size", "0", "--run.root", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "batch_size must be positive, got 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # digits/ and the run folder were made for the run: both removed
