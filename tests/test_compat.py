"""lit_nn.compat against the real libraries: each function's test says what an upgrade must keep true."""

from __future__ import annotations

import argparse
import time

import optuna
import pytest
import torch
from jsonargparse import ArgumentParser
from lightning.fabric.plugins.environments import ClusterEnvironment
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.loggers import WandbLogger
from optuna.trial import TrialState
from torch.optim.lr_scheduler import OneCycleLR

from lit_nn import compat
from tests.helpers.wandb_files import read_offline_run


def _trainer(tmp_path, **kwargs) -> Trainer:
    settings = dict(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False, default_root_dir=tmp_path, max_epochs=1, limit_train_batches=2,
                    limit_val_batches=0, num_sanity_val_steps=0)  # fmt: skip
    return Trainer(**{**settings, **kwargs})


class Saved(BoringModel):
    """A model that saves its hyperparameters, as lit_nn's tasks do."""

    def __init__(self, width: int = 2) -> None:
        super().__init__()
        self.save_hyperparameters()


class Hooks(BoringModel):
    """Records every attribute set on it while it trains."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, object]] = []

    def __setattr__(self, name: str, value: object) -> None:
        if "seen" in self.__dict__:
            self.seen.append((name, value))
        super().__setattr__(name, value)


# Lightning: the trainer and the module --------------------------------------------------------


def test_cluster_environment_is_the_one_the_trainer_chose(tmp_path, monkeypatch):
    for key in ("SLURM_NTASKS", "SLURM_JOB_NAME", "SLURM_JOB_ID"):
        monkeypatch.delenv(key, raising=False)
    environment = compat.cluster_environment(_trainer(tmp_path))
    assert isinstance(environment, ClusterEnvironment) and type(environment).__name__ == "LightningEnvironment"
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_JOB_NAME", "train")
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    assert type(compat.cluster_environment(_trainer(tmp_path))).__name__ == "SLURMEnvironment"
    assert compat.cluster_environment(object()) is None


@pytest.mark.parametrize("every", [1, 3])
def test_logs_this_step_follows_log_every_n_steps(tmp_path, every):
    answers = []

    class Asking(BoringModel):
        def training_step(self, batch, batch_idx):
            answers.append(compat.logs_this_step(self.trainer))
            return super().training_step(batch, batch_idx)

    _trainer(tmp_path, limit_train_batches=6, log_every_n_steps=every).fit(Asking())
    assert answers == [(step + 1) % every == 0 for step in range(6)]
    assert compat.logs_this_step(_trainer(tmp_path, log_every_n_steps=0)) is False
    assert compat.logs_this_step(object()) is True


def test_is_hook_bookkeeping_names_what_lightning_sets_around_each_hook(tmp_path):
    model = Hooks()
    _trainer(tmp_path).fit(model)
    names = {name for name, _ in model.seen}
    bookkeeping = {name for name in names if compat.is_hook_bookkeeping(name)}
    assert len(bookkeeping) == 1
    values = {value for name, value in model.seen if name in bookkeeping}
    assert "training_step" in values and values <= {None} | {v for v in values if isinstance(v, str)}
    assert not compat.is_hook_bookkeeping("trainer") and not compat.is_hook_bookkeeping("seen")


def test_update_initial_hparams_reaches_what_loggers_write():
    model = Saved(width=3)
    compat.update_initial_hparams(model, {"optimizer": "torch.optim.SGD"})
    assert model.hparams_initial == {"width": 3, "optimizer": "torch.optim.SGD"}
    plain = BoringModel()  # never saved any: left alone
    compat.update_initial_hparams(plain, {"optimizer": "x"})
    assert plain.hparams_initial == {}


def test_jit_scripting_keeps_the_trainer_properties_quiet():
    model = BoringModel()
    with pytest.raises(RuntimeError, match="not attached to a `Trainer`"):
        _ = model.trainer
    with compat.jit_scripting(model):
        assert model.trainer is None  # Lightning's answer while scripting
        traced = torch.jit.trace(model, torch.zeros(1, 32), check_trace=False)
    with pytest.raises(RuntimeError, match="not attached"):
        _ = model.trainer
    assert traced(torch.zeros(1, 32)).shape == (1, 2)
    with compat.jit_scripting(torch.nn.Linear(2, 2)):  # not a LightningModule: nothing to switch
        pass


# Lightning: the CLI -------------------------------------------------------------------------


class Recording(compat.HookedLightningCLI):
    """Each public step recorded, then Lightning's own."""

    def __init__(self, *args, **kwargs) -> None:
        self.steps: list[str] = []
        super().__init__(*args, **kwargs)

    def parse_ckpt_path(self) -> None:
        self.steps.append("parse_ckpt_path")
        super().parse_ckpt_path()

    def set_seed(self) -> None:
        self.steps.append("set_seed")
        super().set_seed()

    def add_configure_optimizers_method_to_model(self, subcommand):
        self.steps.append(f"add_configure_optimizers_method_to_model {subcommand}")
        super().add_configure_optimizers_method_to_model(subcommand)

    def run_subcommand(self, subcommand: str) -> None:
        self.steps.append(f"run_subcommand {subcommand}")
        super().run_subcommand(subcommand)


class Skipping(compat.HookedLightningCLI):
    """The sweep's use: parse, neither seed nor run."""

    def set_seed(self) -> None:
        pass

    def run_subcommand(self, subcommand: str) -> None:
        pass


@pytest.fixture(autouse=True)
def _no_pytest_argv(monkeypatch):
    monkeypatch.setattr("sys.argv", ["lit-nn"])  # LightningCLI(args=...) warns about pytest's own arguments


def _cli_args(tmp_path) -> list[str]:
    return ["fit", f"--model={__name__}.Saved", "--model.width=4", "--seed_everything=7", "--optimizer=SGD",
            "--optimizer.lr=0.25", "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=0", "--trainer.logger=false",
            "--trainer.enable_checkpointing=false", "--trainer.enable_progress_bar=false",
            f"--trainer.default_root_dir={tmp_path}"]  # fmt: skip


def test_hooked_lightning_cli_runs_lightnings_steps_through_public_methods(tmp_path):
    cli = Recording(args=_cli_args(tmp_path), save_config_kwargs={"overwrite": True})
    assert cli.steps == ["parse_ckpt_path", "set_seed", "add_configure_optimizers_method_to_model fit",
                         "run_subcommand fit"]  # fmt: skip
    assert cli.config.fit.seed_everything == 7 and torch.initial_seed() == 7
    assert cli.trainer.state.finished and cli.trainer.global_step == 2
    (optimizer,) = cli.trainer.optimizers
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.param_groups[0]["lr"] == 0.25


def test_hooked_lightning_cli_steps_can_be_skipped(tmp_path):
    torch.manual_seed(123)
    cli = Skipping(args=_cli_args(tmp_path), save_config_kwargs={"overwrite": True})
    assert torch.initial_seed() == 123 and cli.trainer.global_step == 0


def test_the_cli_parsers_and_their_options(tmp_path):
    cli = Skipping(args=_cli_args(tmp_path), save_config_kwargs={"overwrite": True})
    parsers = compat.subcommand_parsers(cli)
    assert set(parsers) == {"fit", "validate", "test", "predict"}
    assert compat.subcommand_parser(cli, "fit") is parsers["fit"] and compat.subcommand_parser(cli, None) is cli.parser
    assert compat.subcommand_choices(cli.parser) == parsers
    assert compat.subcommand_choices(parsers["fit"]) == {}
    actions = compat.option_actions(parsers["fit"])
    assert actions["--trainer.max_epochs"].dest == "trainer.max_epochs" and "--model" in actions
    actions["--model"].help = "The task"  # the help is the parser's own
    assert "The task" in parsers["fit"].format_help()
    plain = argparse.ArgumentParser()
    plain.add_argument("-n", "--number")
    assert compat.option_actions(plain)["-n"] is compat.option_actions(plain)["--number"]
    assert compat.subcommand_parsers(object.__new__(Skipping)) == {}  # before its parsers are made


def test_the_class_path_the_cli_recorded(tmp_path):
    cli = Skipping(args=_cli_args(tmp_path), save_config_kwargs={"overwrite": True})
    hparams = dict(cli.model.hparams)
    assert compat.recorded_class_path(hparams) == f"{__name__}.Saved"
    class_path, rest = compat.split_recorded_class_path(hparams)
    assert class_path == f"{__name__}.Saved" and rest == {"width": 4}
    assert compat.recorded_class_path({"width": 4}) is None
    assert compat.split_recorded_class_path({"width": 4}) == (None, {"width": 4})


# Lightning: callbacks and loggers -----------------------------------------------------------


class LastAfterEachEpoch(Callback):
    """Asks the checkpoint callback at every epoch's end, then writes its last checkpoint."""

    def __init__(self, checkpoint) -> None:
        self.checkpoint, self.asked = checkpoint, []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        before = compat.checkpoint_written_or_not_due(self.checkpoint, trainer)
        compat.save_last_checkpoint(self.checkpoint, trainer)
        self.asked.append((before, compat.checkpoint_written_or_not_due(self.checkpoint, trainer)))


def test_a_model_checkpoint_can_be_asked_to_write_its_last_checkpoint(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_top_k=0, save_last=True)
    asking = LastAfterEachEpoch(checkpoint)
    trainer = _trainer(tmp_path, enable_checkpointing=True, max_epochs=2, callbacks=[asking, checkpoint])
    trainer.fit(BoringModel())
    assert asking.asked == [(False, True), (False, True)]  # due; written at this step, so no longer due
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["epoch"] == 1
    assert checkpoint.last_model_path == str(tmp_path / "last.ckpt")


def test_the_progress_bar_asks_should_update_for_every_bar(tmp_path):
    asked = []

    class Counting(compat.TQDMProgressBarWithUpdateHook):
        def should_update(self, current: int, total: int) -> bool:
            asked.append((current, total))
            return super().should_update(current, total)

    bar = Counting()
    _trainer(tmp_path, enable_progress_bar=True, callbacks=[bar], limit_val_batches=3).fit(BoringModel())
    assert asked == [(1, 2), (2, 2), (1, 3), (2, 3), (3, 3)]  # the training bar's batches, then validation's
    assert bar.should_update(1, 3) is True  # Lightning's rule: refresh_rate 1


def test_wandb_logger_internals(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    logger = WandbLogger(save_dir=str(tmp_path), offline=True, project="p", prefix="pre")
    init = compat.wandb_init_arguments(logger)
    assert init["project"] == "p" and init["dir"] == str(tmp_path)
    init["name"] = "renamed"  # taken by wandb.init
    compat.set_wandb_log_model(logger, "all")  # Lightning's constructor refuses it offline
    assert compat.wandb_logger_prefix(logger) == "pre"
    assert compat.started_wandb_run(logger) is None
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "checkpoints")
    _trainer(tmp_path, logger=logger, enable_checkpointing=True, callbacks=[checkpoint]).fit(BoringModel())
    run = compat.started_wandb_run(logger)
    assert run is logger.experiment and run.name == "renamed"
    logger.log_metrics({"a": 1.0}, step=5)
    run.finish()
    (path,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    deadline = time.monotonic() + 30  # W&B's service may still be writing the file when finish() returns
    saved = read_offline_run(path)
    while not any("pre-a" in row for row in saved.history) and time.monotonic() < deadline:
        time.sleep(0.2)
        saved = read_offline_run(path)
    assert any("pre-a" in row for row in saved.history)
    assert [(kind, "latest" in aliases) for _, kind, aliases in saved.artifacts] == [("model", True)]


# torch --------------------------------------------------------------------------------------


@pytest.mark.parametrize("three_phase", [False, True])
def test_onecycle_phases_are_the_schedulers_own(three_phase):
    def scheduler() -> OneCycleLR:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        return OneCycleLR(optimizer, max_lr=1.0, total_steps=100, pct_start=0.3, three_phase=three_phase)

    plain, changed = scheduler(), scheduler()
    phases = compat.onecycle_phases(changed)
    assert len(phases) == (3 if three_phase else 2) and phases[0]["end_step"] == 29.0
    assert phases is compat.onecycle_phases(changed)
    phases[0]["end_step"] = 1.0  # a shorter warm-up, taken by the next step
    for s in (plain, changed):
        s.optimizer.step()
        s.step()
        s.optimizer.step()
        s.step()
    assert changed.get_last_lr()[0] > 0.99 and plain.get_last_lr()[0] < 0.2  # at the peak already, or still warming


def test_new_shared_storage_is_in_shared_memory():
    storage = compat.new_shared_storage(24)
    assert storage.nbytes() == 24 and storage.is_shared() and storage.device.type == "cpu"
    batch = torch.empty(0, dtype=torch.uint8).set_(storage, 0, (2, 3, 4), (12, 4, 1))
    batch.fill_(7)
    assert batch.is_shared() and int(batch.sum()) == 7 * 24


# jsonargparse -------------------------------------------------------------------------------


class Shape:
    """A base class for the resolver test."""


class Circle(Shape):
    """Found by its name."""


def test_class_path_resolution_can_be_hooked_and_given_back():
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--shape", type=Shape)
    assert compat.resolve_class_path_by_name(Shape, "Circle") == f"{__name__}.Circle"
    assert compat.resolve_class_path_by_name(Shape, "Nothing") == "Nothing"

    def round_is_circle(cls, name: str) -> str:
        return compat.resolve_class_path_by_name(cls, "Circle" if name == "round" else name)

    previous = compat.hook_class_path_resolution(round_is_circle)
    try:
        assert parser.parse_args(["--shape", "round"]).shape.class_path == f"{__name__}.Circle"
        assert parser.parse_args(["--shape", "Circle"]).shape.class_path == f"{__name__}.Circle"
    finally:
        assert compat.hook_class_path_resolution(previous) is round_is_circle
    with pytest.raises(Exception, match="round"):
        parser.parse_args(["--shape", "round"])


# Optuna -------------------------------------------------------------------------------------


def test_trial_by_id_takes_over_a_running_trial():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    study.ask()
    (frozen,) = study.get_trials(deepcopy=False)
    trial = compat.trial_by_id(study, frozen)
    assert trial.number == frozen.number
    x = trial.suggest_float("x", 0.0, 1.0)
    study.tell(trial, x)
    (done,) = study.get_trials()
    assert done.state == TrialState.COMPLETE and done.params == {"x": x} and done.value == x


def test_the_module_names_the_versions_it_was_read_from():
    import jsonargparse
    import lightning

    doc = compat.__doc__ or ""
    for name, module in (("lightning", lightning), ("jsonargparse", jsonargparse), ("torch", torch),
                         ("optuna", optuna)):  # fmt: skip
        major_minor = ".".join(module.__version__.split("+")[0].split(".")[:2])
        assert f"{name} {major_minor}." in doc, f"{name} {module.__version__} is installed; re-read lit_nn/compat.py"
