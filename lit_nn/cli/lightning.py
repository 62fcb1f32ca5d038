"""The Lightning CLI behind ``lit-nn fit|validate|test|predict``."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import lightning
import torch
import yaml
from jsonargparse import ArgumentError, Namespace
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.utilities.exceptions import MisconfigurationException

import lit_nn.tasks  # noqa: F401  (task classes resolve by their short names)
from lit_nn import __version__
from lit_nn.callbacks.activation_stats import ActivationStatistics
from lit_nn.callbacks.dispatch import skip_unused_batch_hooks
from lit_nn.callbacks.finite_loss import StopOnNonFiniteLoss
from lit_nn.callbacks.interrupt import INTERRUPTED_KEY, SaveOnInterrupt, SlurmRequeue
from lit_nn.callbacks.plots import PredictionPlots
from lit_nn.callbacks.predictions import CSVPredictionWriter
from lit_nn.callbacks.progress import ThrottledProgressBar
from lit_nn.callbacks.random_state import RandomState
from lit_nn.checkpoints import load_checkpoint
from lit_nn.cli.messages import condense
from lit_nn.cli.names import ConfigError
from lit_nn.cli.runs import (
    RUN_DIR_ENV,
    SESSION_ENV,
    RunError,
    RunOptions,
    create_run_dir,
    discard_unused,
    find_checkpoint,
    join_run_dir,
    launched_run_name,
    process_rank,
    reserve_session,
    run_dir_of,
    run_info,
    timestamp,
)
from lit_nn.cli.wandb_runs import finish as finish_wandb
from lit_nn.cli.wandb_runs import wandb_environment, wandb_mode
from lit_nn.errors import LitNNWarning
from lit_nn.registry import default_registry

KNOWN_LOGGERS = ("CSVLogger", "WandbLogger", "TensorBoardLogger")


def versions() -> dict[str, Any]:
    """Versions of lit_nn, torch, lightning and every loaded plugin, for the logs.

    Returns:
        ``{"lit_nn": …, "torch": …, "lightning": …, "plugins": {name: "dist version"}}``.
    """
    plugins = {p.name: f"{p.distribution} {p.version}" for p in default_registry().plugins if p.status == "loaded"}
    return {"lit_nn": __version__, "torch": torch.__version__, "lightning": lightning.__version__, "plugins": plugins}


class MidEpochResumeWarning(LitNNWarning):
    """Training resumes from a checkpoint written in the middle of an epoch."""


def warn_if_mid_epoch(path: str, checkpoint: dict[str, Any]) -> None:
    """Say plainly when a resume will not repeat the uninterrupted run exactly.

    Args:
        path: The checkpoint file.
        checkpoint: Its contents.
    """
    stop = checkpoint.get(INTERRUPTED_KEY)
    if not isinstance(stop, dict) or stop.get("batches_done", 0) in (0, stop.get("batches_per_epoch")):
        return
    warnings.filterwarnings("ignore", message=r"You're resuming from a checkpoint that ended before the epoch ended")
    warnings.warn(
        f"{path} was saved on {stop['signal']} in the middle of epoch {stop['epoch']} "
        f"(after {stop['batches_done']} of {stop['batches_per_epoch']} batches). Training carries on from there, but "
        "the rest of that epoch does not see exactly the batches an uninterrupted run would, so results are close, "
        "not bit-identical; resume from an end-of-epoch checkpoint when exact repeats matter",
        MidEpochResumeWarning,
        stacklevel=2,
    )


class RunConfigSaver(SaveConfigCallback):
    """Save the resolved config into the run folder.

    ``config.yaml`` for the run's first fit, ``<command>-<time>.yaml`` for every later command on
    the same run, so no command overwrites another's record.

    Args:
        parser: The subcommand's parser.
        config: The parsed configuration.
        run_dir: The run folder.
        session: ``<command>-<time>``.
        **kwargs: :class:`~lightning.pytorch.cli.SaveConfigCallback` arguments.
    """

    def __init__(
        self, parser: LightningArgumentParser, config: Namespace, run_dir: Path, session: str, **kwargs: Any
    ) -> None:
        super().__init__(parser, config, save_to_log_dir=False, **kwargs)
        self.run_dir, self.session = Path(run_dir), session

    def save_config(self, trainer: Trainer, pl_module: Any, stage: str) -> None:  # noqa: ANN401
        """Write the YAML file and give every logger the config and the versions (rank zero only)."""
        first = self.run_dir / "config.yaml"
        path = first if stage == "fit" and not first.exists() else self.run_dir / f"{self.session}.yaml"
        self.parser.save(self.config, str(path), skip_none=False, overwrite=True, multifile=False)
        resolved = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        for logger in trainer.loggers:
            logger.log_hyperparams({"lit_nn_config": resolved, "versions": versions(), "run_folder": str(self.run_dir)})


class LitNNCLI(LightningCLI):
    """LightningCLI with lit_nn's links, checkpointing defaults and run folders.

    Args:
        args: Arguments after ``lit-nn`` (already name-resolved).
    """

    def __init__(self, args: list[str]) -> None:
        self.command = args[0] if args else None
        super().__init__(
            args=args,
            save_config_callback=RunConfigSaver,
            parser_kwargs={"exit_on_error": False},
            seed_everything_default=0,
        )

    def subcommands(self) -> dict[str, set[str]]:  # type: ignore[override]
        """Lightning's commands, narrowed to the one being run.

        The ``lit-nn`` front end has already chosen the command, so only its parser is built:
        building all four costs about 0.4 s of start-up (docs/performance.md).

        Returns:
            Command to the ``Trainer`` method arguments the parser skips.
        """
        every = LightningCLI.subcommands()
        return {self.command: every[self.command]} if self.command in every else every

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Link data sizes into the model; add checkpointing, run-folder and output options."""
        for name in ("input_shape", "num_classes", "num_targets"):
            parser.link_arguments(f"data.{name}", f"model.init_args.{name}", apply_on="instantiate")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/loss",
                "checkpoint.mode": "min",
                "checkpoint.save_top_k": 1,
                "checkpoint.save_last": True,
                "checkpoint.filename": "best-{epoch:03d}",
                "trainer.log_every_n_steps": 10,
            }
        )
        parser.add_lightning_class_args(PredictionPlots, "plots")
        parser.add_lightning_class_args(ActivationStatistics, "activation_stats")
        parser.add_class_arguments(RunOptions, "run")
        parser.add_argument("--output", type=str | None, default=None, help="predict: CSV file for the predictions")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:  # noqa: ANN401
        """Parse, then turn ``--ckpt_path best|last`` into the file of the latest run.

        Raises:
            ConfigError: If the arguments do not parse, in one line.
        """
        try:
            self.config = parser.parse_args(args)
        except ArgumentError as exc:
            command = args[0] if args and args[0] in parser._subcommands_action.choices else None
            chosen = parser._subcommands_action.choices.get(command, parser)
            raise ConfigError(condense(str(exc), list(chosen._option_string_actions))) from None
        command = self.config.get("subcommand")
        if command is None:
            return
        config = self.config[command]
        if config.get("ckpt_path") in ("best", "last"):
            config.ckpt_path = str(find_checkpoint(self.experiment_dir(config), config.ckpt_path))
        if config.get("ckpt_path"):
            checkpoint = load_checkpoint(config.ckpt_path)  # refuses pickled code and names corrupt files, up front
            if command == "fit":
                warn_if_mid_epoch(config.ckpt_path, checkpoint)

    def experiment_dir(self, config: Namespace) -> Path:
        """The experiment's folder: ``--run.experiment``, else the datamodule's registry name.

        Args:
            config: The subcommand's configuration.

        Returns:
            ``<run.root>/<experiment>``.

        Raises:
            RunError: When neither is known.
        """
        experiment = config.run.experiment
        if experiment is None:
            data = config.get("data")
            class_path = data.get("class_path") if isinstance(data, Namespace) else None
            if class_path is None:
                raise RunError("cannot tell which experiment this is: give --data (or -c CONFIG) or --run.experiment")
            names = {e.target: e.name for e in default_registry().entries("datamodules")}
            experiment = names.get(class_path, class_path.rsplit(".", 1)[-1].lower())
        return Path(config.run.root) / experiment

    def instantiate_classes(self) -> None:
        """Instantiate model, data and trainer; a rejected value becomes one line.

        A new run folder that this failure leaves empty is removed again, so a typo does not
        leave a run behind for ``--ckpt_path last`` to stumble on.

        Raises:
            ConfigError: When jsonargparse reports a class's own error inside its type report, or
                Lightning rejects a trainer setting.
        """
        try:
            try:
                super().instantiate_classes()
            except MisconfigurationException as exc:
                raise ConfigError(str(exc)) from None
            except ValueError as exc:
                if "Does not validate against any of the Union subtypes" not in str(exc):
                    raise
                raise ConfigError(condense(str(exc))) from None
        except BaseException:
            discard_unused(self.run_dir, self.session, whole_run=self.created_run)
            raise

    def before_instantiate_classes(self) -> None:
        """Check the epoch budget; choose the run folder and point checkpoints, logs and config there.

        Raises:
            ConfigError: When ``fit`` would train for no epoch or no step.
        """
        config = self.config[self.subcommand]
        if self.subcommand == "fit":
            for key in ("max_epochs", "max_steps"):
                if config.trainer.get(key) == 0:
                    raise ConfigError(f"trainer.{key} is 0, so fit would train nothing; give 1 or more (-1: no limit)")
        ckpt = config.get("ckpt_path")
        inherited = os.environ.get(RUN_DIR_ENV)
        launched = launched_run_name(os.environ)
        self.created_run = False  # whether this command made the folder (and may remove it again on failure)
        if inherited:
            run_dir = Path(inherited)
        elif ckpt and run_dir_of(Path(ckpt)) is not None:
            run_dir = run_dir_of(Path(ckpt))
        elif launched is not None:
            run_dir = join_run_dir(self.experiment_dir(config), config.run.name or launched, process_rank(os.environ))
        else:
            run_dir = create_run_dir(self.experiment_dir(config), config.run.name)
            self.created_run = True
        session = os.environ.get(SESSION_ENV) if inherited else None
        if session is None:
            rank = process_rank(os.environ) if launched else 0
            session = reserve_session(run_dir, self.subcommand) if rank == 0 else f"{self.subcommand}-{timestamp()}"
        os.environ[RUN_DIR_ENV], os.environ[SESSION_ENV] = str(run_dir), session  # DDP children reuse both
        self.run_dir, self.session = run_dir, session
        self.save_config_kwargs = {"run_dir": run_dir, "session": self.session}
        config.trainer.default_root_dir = str(run_dir)
        if config.checkpoint.dirpath is None:
            config.checkpoint.dirpath = str(run_dir / "checkpoints")
        config.trainer.logger = self._loggers(config.trainer.logger)

    def _loggers(self, logger: Any) -> Any:  # noqa: ANN401 (a logger config, list, or bool)
        """Point every logger at the run folder; W&B goes online, offline, or gives way to CSV."""
        if logger is False:
            return False
        csv_logger = Namespace(class_path="lightning.pytorch.loggers.CSVLogger", init_args=Namespace())
        items = logger if isinstance(logger, list) else [csv_logger if logger in (None, True) else logger]
        for index, item in enumerate(items):
            if not isinstance(item, Namespace) or item.class_path.rsplit(".", 1)[-1] not in KNOWN_LOGGERS:
                continue
            item.init_args = item.get("init_args") or Namespace()
            if item.class_path.endswith("WandbLogger"):
                mode = wandb_mode(os.environ)
                if mode == "disabled":  # WANDB_MODE=disabled: metrics still land somewhere readable
                    item = items[index] = Namespace(class_path=csv_logger.class_path, init_args=Namespace())
                else:
                    rank = process_rank(os.environ)
                    item.init_args.offline = mode == "offline"
                    item.init_args.name = f"{self.run_dir.parent.name}/{self.run_dir.name}"
                    item.init_args.id = run_info(self.run_dir).get("wandb_id") if rank == 0 else None
                    os.environ.update(wandb_environment(os.environ))
            item.init_args.save_dir = str(self.run_dir)
            if item.class_path.endswith(("CSVLogger", "TensorBoardLogger")):
                item.init_args.name, item.init_args.version = "logs", self.session
        return items if isinstance(logger, list) else items[0]

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:  # noqa: ANN401
        """Build the trainer; ``fit`` also gets the safety callbacks, ``predict`` the CSV writer.

        Lightning calls every hook of every callback at every step, so callbacks with nothing to
        do (activation statistics off, plots off, SLURM requeue outside SLURM) are left out, the
        empty batch hooks of the others are skipped, and Lightning's default progress bar gives way
        to lit_nn's, which redraws a few times a second.
        """
        trainer = super().instantiate_trainer(**kwargs)
        configured = self.config_init[self.subcommand]["trainer"].get("callbacks") or []
        configured = configured if isinstance(configured, list) else [configured]
        bar = trainer.progress_bar_callback
        if type(bar) is TQDMProgressBar and not any(c is bar for c in configured):  # Lightning's default one
            trainer.callbacks[trainer.callbacks.index(bar)] = ThrottledProgressBar()
        trainer.callbacks = [
            c
            for c in trainer.callbacks
            if not (isinstance(c, ActivationStatistics) and not c.every_n_steps)
            and not (isinstance(c, PredictionPlots) and not c.enabled)
        ]
        if self.subcommand == "fit":
            safety = [RandomState(), SaveOnInterrupt(), *([SlurmRequeue()] if SlurmRequeue.applies_to(trainer) else [])]
            trainer.callbacks.extend([*safety, StopOnNonFiniteLoss()])
        if self.subcommand == "predict":
            output = self.config["predict"].get("output") or self.run_dir / f"{self.session}.csv"
            trainer.callbacks.append(CSVPredictionWriter(output))
        skip_unused_batch_hooks(trainer.callbacks)
        return trainer

    def after_fit(self) -> None:
        """Say where the run went and how to test it; close the W&B run."""
        lines = finish_wandb(self.trainer)
        if self.trainer.is_global_zero:
            best = self.trainer.checkpoint_callback.best_model_path if self.trainer.checkpoint_callback else ""
            print(f"\nRun folder: {self.run_dir}")
            if best:
                print(f"Best checkpoint (val/loss): {best}\nTest it: lit-nn test --ckpt_path {best}")
            print("\n".join(lines))

    def _save_metrics(self) -> None:
        """Write ``<command>-<time>-metrics.json``: the metrics, and every rank's own view of them."""
        metrics = {k: float(v) for k, v in self.trainer.callback_metrics.items() if k.startswith(("val/", "test/"))}
        per_rank = [metrics]
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            per_rank = [{} for _ in range(torch.distributed.get_world_size())]
            torch.distributed.all_gather_object(per_rank, metrics)
        if self.trainer.is_global_zero:
            path = self.run_dir / f"{self.session}-metrics.json"
            path.write_text(json.dumps({"metrics": metrics, "per_rank": per_rank}, indent=2) + "\n")
        for line in finish_wandb(self.trainer):
            print(line)

    def after_validate(self) -> None:
        """Save the validation metrics beside the run."""
        self._save_metrics()

    def after_test(self) -> None:
        """Save the test metrics beside the run."""
        self._save_metrics()

    def after_predict(self) -> None:
        """Say where the predictions went."""
        writers = [c for c in self.trainer.callbacks if isinstance(c, CSVPredictionWriter)]
        if self.trainer.is_global_zero and writers and hasattr(writers[0], "written"):
            print(f"Predictions: {writers[0].written}")
        for line in finish_wandb(self.trainer):
            print(line)
