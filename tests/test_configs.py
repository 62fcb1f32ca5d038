"""Every YAML under configs/ runs through the CLI's main() with fast_dev_run."""

from __future__ import annotations

import pytest
import torch
import yaml

from lit_nn.cli import main
from tests.conftest import ROOT
from tests.helpers.cli import dogs_vs_cats_overrides, fit
from tests.helpers.run_if import gpu

DATASETS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "configs").glob("*.yaml"))
SWEEPS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "configs").glob("sweeps/*.yaml"))
PRESETS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "configs").glob("*/*.yaml"))
PRESETS = [p for p in PRESETS if p not in SWEEPS]
NEEDS_GPU = {"configs/trainer/gpu.yaml", "configs/trainer/16-mixed.yaml", "configs/trainer/fsdp.yaml"}
LAUNCHED = {"configs/trainer/ddp.yaml", "configs/trainer/ddp-multinode.yaml"}  # run in test_distributed.py
OWN_TEST = {"configs/trainer/rich.yaml"}  # a progress bar of its own: not with fit()'s enable_progress_bar false


def test_the_shipped_configs_are_all_here():
    assert {
        "configs/digits.yaml",
        "configs/breast_cancer.yaml",
        "configs/diabetes.yaml",
        "configs/dogs_vs_cats.yaml",
    } <= set(DATASETS)
    expected = {f"configs/trainer/{n}.yaml" for n in ("cpu", "gpu", "ddp", "bf16-mixed", "16-mixed", "debug")}
    assert expected | {"configs/logger/wandb.yaml", "configs/logger/csv.yaml"} <= set(PRESETS)


@pytest.mark.parametrize("config", DATASETS)
def test_dataset_config_fast_dev_run(config, tmp_path):
    extra = dogs_vs_cats_overrides(tmp_path) if config.endswith("dogs_vs_cats.yaml") else []
    fit(config, tmp_path / "runs", "--trainer.fast_dev_run", "1", *extra)
    assert list((tmp_path / "runs").glob("*/*/run.json"))


@pytest.mark.parametrize(
    "preset", [pytest.param(p, marks=gpu) if p in NEEDS_GPU else p for p in PRESETS if p not in LAUNCHED | OWN_TEST]
)
def test_preset_composes_with_a_dataset_config(preset, tmp_path, monkeypatch):
    if preset == "configs/logger/wandb.yaml":  # W&B offline where it is the preset; the others log to CSV
        monkeypatch.setenv("WANDB_MODE", "offline")  # (WANDB_MODE=disabled), so the GPU presets run where
        monkeypatch.setenv("WANDB_DIR", str(tmp_path))  # wandb is not installed (make gpu-check)
    fit("configs/digits.yaml", tmp_path / "runs", "-c", preset, "--trainer.fast_dev_run", "1")
    assert list((tmp_path / "runs").glob("digits/*/run.json"))


@pytest.mark.parametrize("sweep", SWEEPS)
def test_shipped_sweep_runs_a_trial_with_its_dataset_config(sweep, tmp_path, capsys):
    dataset = f"configs/{sweep.rsplit('/', 1)[-1]}"  # sweeps/digits.yaml sweeps configs/digits.yaml
    main(["sweep", "-c", dataset, "-c", sweep, "--sweep.n_trials", "1", "--trainer.max_epochs", "1",
          "--trainer.limit_train_batches", "2", "--trainer.logger", "false", "--run.root", str(tmp_path)])  # fmt: skip
    assert "1 of 1 trials: 1 complete" in capsys.readouterr().out
    name = yaml.safe_load((ROOT / sweep).read_text())["sweep"]["name"]
    assert list(tmp_path.glob(f"*/sweeps/{name}/trial-0000/checkpoints/last.ckpt"))


@pytest.mark.parametrize("preset", sorted(LAUNCHED))
def test_distributed_presets_parse(preset, capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", "-c", "configs/digits.yaml", "-c", preset, "--print_config"])
    assert info.value.code == 0
    assert yaml.safe_load(capsys.readouterr().out)["trainer"]["strategy"] == "ddp"


def test_ddp_preset_on_the_cpu(tmp_path):
    fit(
        "configs/breast_cancer.yaml",
        tmp_path / "runs",
        "-c",
        "configs/trainer/ddp.yaml",
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "1",
        "--trainer.fast_dev_run",
        "1",
    )
    assert list((tmp_path / "runs").glob("breast_cancer/*/run.json"))
    if torch.distributed.is_initialized():  # DDP in this process: close its port for later tests
        torch.distributed.destroy_process_group()


def test_every_config_is_a_mapping_with_a_comment():
    for path in (ROOT / "configs").rglob("*.yaml"):
        text = path.read_text()
        assert text.startswith("#"), f"{path} should say what it is for in a first comment line"
        assert isinstance(yaml.safe_load(text), dict), path


def test_tensorboard_preset_writes_event_files_in_the_commands_log_folder(tmp_path):
    fit("configs/breast_cancer.yaml", tmp_path / "runs", "-c", "logger/tensorboard", "--trainer.max_epochs", "1")
    (events,) = (tmp_path / "runs").glob("breast_cancer/*/logs/fit-*/events.out.tfevents.*")
    assert events.stat().st_size > 0


def test_rich_preset_adds_its_bar_to_the_configured_callbacks(tmp_path):
    from lightning.pytorch.callbacks import EarlyStopping, RichProgressBar

    from lit_nn.cli import run_lightning

    cli = run_lightning(["fit", "-c", "breast_cancer", "-c", "trainer/rich", "--trainer.max_epochs", "1",
                         "--run.root", str(tmp_path), "--trainer.logger", "false"])  # fmt: skip
    assert isinstance(cli.trainer.progress_bar_callback, RichProgressBar)
    assert any(isinstance(c, EarlyStopping) for c in cli.trainer.callbacks)  # breast_cancer's own, kept


def test_a_config_with_callbacks_gets_the_same_bar_as_one_without(tmp_path):
    from lit_nn.callbacks.progress import ThrottledProgressBar
    from lit_nn.cli import run_lightning

    cli = run_lightning(
        [
            "fit",
            "-c",
            "breast_cancer",
            "--trainer.max_epochs",
            "1",
            "--run.root",
            str(tmp_path),
            "--trainer.logger",
            "false",
        ]
    )  # fmt: skip  (breast_cancer configures EarlyStopping)
    assert type(cli.trainer.progress_bar_callback) is ThrottledProgressBar
