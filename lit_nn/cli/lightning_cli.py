"""The Lightning CLI behind ``lit-nn fit|validate|test|predict``."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from jsonargparse import ArgumentError, Namespace, set_parsing_settings
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities.exceptions import MisconfigurationException

import lit_nn.tasks  # noqa: F401  (task classes resolve by their short names)
from lit_nn import runs
from lit_nn.callbacks.activation_stats import ActivationStatistics
from lit_nn.callbacks.calibrate import CalibrateAfterFit
from lit_nn.callbacks.last_checkpoint import LastEpochCheckpoint
from lit_nn.callbacks.plots import PredictionPlots
from lit_nn.checkpoint_choice import identity, size_keys
from lit_nn.checkpoint_route import CheckpointRoute, datamodule_names
from lit_nn.cli import class_names, yaml_loader
from lit_nn.cli.config_keys import describe, unknown_keys
from lit_nn.cli.deploy import DeployTrainer, is_deploy
from lit_nn.cli.deploy import commands as deploy_commands
from lit_nn.cli.fit_defaults import nothing_to_train, settle_budget
from lit_nn.cli.fit_test import PlannedTest, plan_test
from lit_nn.cli.loggers import point_loggers
from lit_nn.cli.messages import class_parameters, condense, lightning_message, root_cause
from lit_nn.cli.reports import fit_summary, predictions_written, save_metrics
from lit_nn.cli.run_config import (
    RunConfigSaver,
    absolute_paths,
    check_output,
    check_sections,
    optimizer_record,
    plain_config,
)
from lit_nn.cli.shipped_configs import ConfigFileOrName
from lit_nn.cli.trainer_callbacks import arrange_callbacks
from lit_nn.compat import (
    HookedLightningCLI,
    option_actions,
    subcommand_choices,
    subcommand_parser,
    subcommand_parsers,
    update_initial_hparams,
)
from lit_nn.console import notice, process_rank
from lit_nn.data.fitted import applying
from lit_nn.env import flag
from lit_nn.errors import ConfigError
from lit_nn.registry import default_registry
from lit_nn.runs import (
    RunError,
    RunOptions,
    discard_unused,
    drop_empty_session,
    make_run_dir,
    missing_folders,
    plan_run_dir,
    timestamp,
)
from lit_nn.wandb_runs import finish as finish_wandb

EVALUATION_COMMANDS = ("validate", "test", "predict")
DEFAULT_ENV = "LIT_NN_DEFAULT_ENV"
"""Set to 1 to read options from environment variables (``PL_FIT__TRAINER__MAX_EPOCHS=3``)."""


def _is_unknown_key(message: str) -> bool:
    """Whether jsonargparse stopped on a key nothing accepts (then every such key is looked for)."""
    return any(
        sign in message for sign in ("is not accepted", "is not expected", "does not accept option", "unrecognized")
    )


def _section_parameters(section: str, name: str) -> list[str] | None:
    """The arguments of the class a ``model`` or ``data`` section names, or ``None`` when it does not resolve."""
    base = LightningModule if section == "model" else LightningDataModule
    try:
        found = class_parameters(class_names.resolve_class_path(base, name))
    except Exception:  # noqa: BLE001 (an unknown name has its own message, from the parser)
        return None
    return found or None


class LitNNCLI(HookedLightningCLI):
    """LightningCLI with lit_nn's names, links, checkpoint choice, defaults and run folders.

    Args:
        args: Arguments after ``lit-nn``, starting with the command.
        callbacks: More callbacks for the trainer (:func:`~lit_nn.cli.trainer_callbacks.arrange_callbacks`
            places them).
    """

    def __init__(self, args: list[str], callbacks: Sequence[Callback] = ()) -> None:
        self.command = args[0] if args else None
        self.extra_callbacks = list(callbacks)
        self.route = CheckpointRoute.from_args(args)
        self.test_after_fit: PlannedTest | None = None  # with --test true, what run_lightning tests next
        class_names.install()
        yaml_loader.register()
        # a value of an untyped argument that looks like {class_path: …} stays a dict; jsonargparse would
        # otherwise import and build any class it names (its own advice, and its default from v5)
        set_parsing_settings(instantiate_subclass_spec_in_any=False)
        super().__init__(
            args=args,
            save_config_callback=RunConfigSaver,
            trainer_class=DeployTrainer if is_deploy(self.command) else Trainer,
            parser_kwargs={"exit_on_error": False},
            seed_everything_default=0,
        )

    def subcommands(self) -> dict[str, set[str]]:
        """Lightning's commands, narrowed to the one being run.

        The ``lit-nn`` front end has already chosen the command, so only its parser is built:
        building all four costs start-up time (docs/performance.md).

        Returns:
            Command to the ``Trainer`` method arguments the parser skips.
        """
        every = {**LightningCLI.subcommands(), **deploy_commands()}
        command = self.command
        return {command: every[command]} if command is not None and command in every else every

    def init_parser(self, **kwargs: Any) -> LightningArgumentParser:  # noqa: ANN401
        """A parser whose ``-c`` also takes the name of a shipped config (``-c digits``).

        Returns:
            The parser.
        """
        kwargs.setdefault("dump_header", [f"lit_nn {lit_nn.__version__}"])
        kwargs.update(exit_on_error=False, default_env=flag(DEFAULT_ENV), print_config=None)  # lit_nn prints it
        kwargs.update(parser_mode=yaml_loader.MODE)
        parser = self.parser_class(**kwargs)
        parser.add_argument(
            "-c",
            "--config",
            action=ConfigFileOrName,
            help="A config file, or the name of a shipped one (digits, trainer/debug …; `lit-nn configs` lists them). "
            "Repeat to compose.",
        )
        return parser

    def add_core_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Trainer, model and data; model and data may come from a checkpoint, so neither is required."""
        parser.add_lightning_class_args(self.trainer_class, "trainer")
        model_class, data_class = self.model_class or LightningModule, self.datamodule_class or LightningDataModule
        parser.add_lightning_class_args(model_class, "model", subclass_mode=True, required=False)
        parser.add_lightning_class_args(data_class, "data", subclass_mode=True, required=False)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Link data sizes into the model; add checkpointing, run-folder and output options."""
        # a list, as YAML and weights-only checkpoint loads give it back (datamodules may hold a tuple)
        parser.link_arguments(
            "data.input_shape", "model.init_args.input_shape", compute_fn=list, apply_on="instantiate"
        )
        for name in size_keys()[:-1]:  # every registered task's size argument
            parser.link_arguments(f"data.{name}", f"model.init_args.{name}", apply_on="instantiate")
        parser.add_lightning_class_args(LastEpochCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/loss",
                "checkpoint.mode": "min",
                "checkpoint.save_top_k": 1,
                "checkpoint.save_last": True,
                "checkpoint.filename": runs.BEST_FILENAME,
                "trainer.log_every_n_steps": 10,
            }
        )
        parser.add_lightning_class_args(PredictionPlots, "plots")
        parser.add_lightning_class_args(ActivationStatistics, "activation_stats")
        parser.add_class_arguments(RunOptions, "run")
        parser.add_argument(
            "--print_config",
            type=bool,
            nargs="?",
            const=True,
            default=False,
            help="Print the configuration this command would run (run folder, loggers and W&B mode included) and exit",
        )
        parser.add_argument(
            "--test",
            type=bool,
            default=False,
            help="fit: then test the best checkpoint in the same process, as `lit-nn test --ckpt_path FILE` would "
            "(other commands accept and ignore it, so one config serves them all)",
        )
        parser.add_argument(
            "--calibrate",
            type=Literal["none", "temperature"],
            default="none",
            help="fit: then fit a temperature to the classifier's logits on the validation split, into the best and "
            "last checkpoints (test, predict, export and serve apply it; no label changes); docs/calibration.md",
        )
        parser.add_argument(
            "--conformal",
            type=float | None,
            default=None,
            help="fit: then calibrate split-conformal answers at this level on the validation split (0.1: prediction "
            "sets or intervals that hold the truth 9 times in 10); docs/calibration.md",
        )
        if self.command == "predict":
            parser.add_argument("--output", type=str | None, default=None, help="CSV file for the predictions")
            parser.add_argument("--overwrite", type=bool, default=False, help="Replace --output if it exists")
        if self.command in EVALUATION_COMMANDS:
            parser.add_argument(
                "--untrained",
                type=bool,
                default=False,
                help="Evaluate the model as built, without a checkpoint (otherwise --ckpt_path is required)",
            )
        registry = default_registry()
        actions = option_actions(parser)
        actions[
            "--model"
        ].help = (
            f"The task: {', '.join(class_names.model_names())}, or the import path of a LightningModule of your own"
        )
        actions["--data"].help = (
            f"The datamodule, by registered name: {', '.join(registry.names('datamodules'))} "
            "(`lit-nn plugins --kind datamodules`), or an import path. `--data.help NAME` lists its options"
        )

    # parsing ----------------------------------------------------------------------------------

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:  # noqa: ANN401
        """Parse; then let the command's :class:`~lit_nn.checkpoint_route.CheckpointRoute` choose, read and check.

        A checkpoint file on the command line is read (safely, once) before parsing: its recorded
        model and data are the parser's defaults, which a config or options then override, so
        ``lit-nn test --ckpt_path FILE --data.path NEW.csv`` needs nothing else.

        Raises:
            ConfigError: If the arguments do not parse, no model is given, or the checkpoint does
                not fit, in one line.
        """
        subparser = subcommand_parsers(self).get(self.command or "")
        if subparser is not None and (sections := self.route.defaults()):
            subparser.set_defaults(sections)
        try:
            self.config = parser.parse_args(args)
        except ArgumentError as exc:
            commands = subcommand_choices(parser)
            chosen = commands.get(args[0], parser) if args else parser
            options = list(option_actions(chosen))
            found = unknown_keys(args, options, _section_parameters) if _is_unknown_key(str(exc)) else {}
            raise ConfigError(describe(found) if found else condense(str(exc), options)) from None
        command = self.config.get("subcommand")
        if command is None:
            return
        config = self.config[command]
        check_sections(config)
        self.choose_checkpoint(command, config)
        if self.route.checkpoint is not None and (config.get("model") is None or config.get("data") is None):
            # what the checkpoint alone rebuilds; a section it records but lit_nn cannot import is refused here
            sections = self.route.sections()
            missing = {key: value for key, value in sections.items() if config.get(key) is None}
            if missing:
                self.config = parser.parse_object({command: missing}, self.config)
                config = self.config[command]
        if config.get("model") is None:
            raise ConfigError(
                f"{command} needs a model: give a config (-c digits; `lit-nn configs` lists the shipped ones), "
                "or --model TASK --data NAME (`lit-nn fit --help` lists them)"
                + (", or --ckpt_path FILE to rebuild both from a checkpoint" if command != "fit" else "")
            )
        if is_deploy(command) and not config.get("ckpt_path"):
            raise ConfigError(f"{command} needs a trained model: give --ckpt_path best, last, or a checkpoint FILE")
        if command in EVALUATION_COMMANDS and not config.get("ckpt_path") and not config.get("untrained"):
            raise ConfigError(
                f"{command} evaluates a trained model: give --ckpt_path best (the best checkpoint of the latest run "
                "of this configuration), last, or a checkpoint FILE; or --untrained true to evaluate the model as "
                "built, on purpose"
            )
        if command == "predict":
            check_output(config.get("output"), config.get("overwrite"))

    def choose_checkpoint(self, command: str, config: Namespace) -> None:
        """Let the route settle ``--ckpt_path`` (``best``/``last`` among this configuration's runs), read and check it.

        Args:
            command: ``fit``, ``test`` …
            config: The command's parsed configuration.
        """
        self.route.choose(command, config, lambda: self.experiment_dir(config))

    def parse_ckpt_path(self) -> None:
        """Build the model with the checkpoint's hyperparameters, as Lightning does, from the route's one read."""
        if not self.config.get("subcommand"):
            return
        named = self.config[self.config.subcommand].get("model") or Namespace()
        model = self.route.model_section(named.get("class_path"))
        if model is not None:
            self.config = self.parser.parse_object({self.config.subcommand: {"model": model}}, self.config)

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
            experiment = datamodule_names().get(class_path, class_path.rsplit(".", 1)[-1].lower())
        return runs.experiment_dir(config.run.root, experiment)

    # before instantiating ---------------------------------------------------------------------

    def before_instantiate_classes(self) -> None:
        """Settle what runs: the epoch budget, the run folder, where checkpoints and logs go.

        With ``--print_config`` the configuration is printed and the command stops here, before
        any folder is made.

        Raises:
            ConfigError: When ``fit`` would train for no epoch or no step.
        """
        config = self.config[self.subcommand]
        if self.subcommand == "fit" and (said := settle_budget(config)):
            notice(said)
        if self.subcommand == "fit" and self.route.checkpoint is not None:
            idle = nothing_to_train(self.route.checkpoint, config.trainer)
            if idle:  # a fit that trains nothing changes nothing: no session, no plots redrawn
                notice(f"{config.ckpt_path}: {idle}")
                raise SystemExit(0)
        if self.subcommand == "fit" and (
            config.get("calibrate") not in (None, "none") or config.get("conformal") is not None
        ):
            self.extra_callbacks.append(CalibrateAfterFit(config.calibrate == "temperature", config.get("conformal")))
        absolute_paths((config.get("data") or Namespace()).get("init_args"))
        self.trains = identity(config.get("model"), config.get("data"))
        user_dirpath = config.checkpoint.dirpath
        planned, how = plan_run_dir(self.experiment_dir(config), config.run.name, config.get("ckpt_path"))
        self.session = f"{self.subcommand}-{timestamp()}"
        self._point_at(config, planned, user_dirpath)
        if config.get("print_config"):
            shown = plain_config(subcommand_parser(self, self.subcommand), config)
            note = " (made when the command runs)" if how == "new" else ""
            sys.stdout.write(yaml.safe_dump(shown, sort_keys=False) + f"# run folder: {planned}{note}\n")
            raise SystemExit(0)
        self.created_run = how == "new"  # the command makes the folder, and removes it again on failure
        self.created_parents = missing_folders(planned.parent) if self.created_run else []
        self.started = time.time()
        run_dir, self.session = make_run_dir(planned, how, config.run.name, self.subcommand, self.trains)
        self.save_config_kwargs = {"run_dir": run_dir, "session": self.session}
        self._point_at(config, run_dir, user_dirpath)
        parser = subcommand_parser(self, self.subcommand)
        self.record = {"data": plain_config(parser, config).get("data"), "trains": self.trains}

    def _point_at(self, config: Namespace, run_dir: Path, user_dirpath: str | None) -> None:
        """Send the trainer's files, the checkpoints (unless the user chose a folder), plots and logs to ``run_dir``."""
        self.run_dir = run_dir
        config.trainer.default_root_dir = str(run_dir)
        config.checkpoint.dirpath = user_dirpath or str(runs.checkpoint_dir(run_dir))
        config.plots.subfolder = config.activation_stats.subfolder = runs.session_folder(
            runs.PLOTS_FOLDER, self.session
        )
        config.trainer.logger = point_loggers(
            config.trainer.logger, run_dir, self.session, self._tags(), config.run.log_checkpoints
        )

    def _tags(self) -> list[str]:
        """W&B tags: the task, backbone and datamodule the run trains, and the third-party plugins loaded."""
        trains = getattr(self, "trains", None) or {}
        names = datamodule_names()
        tags = [str(trains[k]).rsplit(".", 1)[-1] for k in ("task", "backbone") if trains.get(k)]
        if trains.get("data"):
            tags.append(names.get(trains["data"], str(trains["data"]).rsplit(".", 1)[-1]))
        tags += [p.name for p in default_registry().plugins if p.status == "loaded" and p.distribution != "lit_nn"]
        return [tag[:64] for tag in dict.fromkeys(tags)]

    # instantiating ----------------------------------------------------------------------------

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
                self.config_init = self.parser.instantiate(self.config, instantiators=self._instantiators())
                this = self.config_init.get(str(self.subcommand), self.config_init)
                self.datamodule, self.model = this.get("data"), this.get("model")
                self.route.check_weights(self.model)
                self.add_configure_optimizers_method_to_model(self.subcommand)
                self.trainer = self.instantiate_trainer()
            except MisconfigurationException as exc:
                raise ConfigError(lightning_message(str(exc))) from None
            except ValueError as exc:
                if "Does not validate against any of the Union subtypes" not in str(exc):
                    raise
                cause = root_cause(exc)
                raised = None if cause is exc or isinstance(cause, (ValueError, ArgumentError)) else cause
                config = self.config[self.subcommand]
                classes = {k: config[k].class_path for k in ("model", "data") if isinstance(config.get(k), Namespace)}
                raise ConfigError(condense(str(exc), raised=raised, classes=classes)) from None
        except BaseException:
            self.discard_failed()
            raise

    def discard_failed(self) -> None:
        """Remove what this failed command created in its run folder (unless it saved a checkpoint)."""
        if process_rank(os.environ) != 0:  # rank 0 owns the run folder
            return
        config = self.config[self.subcommand]
        discard_unused(
            self.run_dir,
            self.session,
            whole_run=self.created_run,
            parents=self.created_parents,
            checkpoints=Path(config.checkpoint.dirpath),
            since=self.started,
        )

    def run_subcommand(self, subcommand: str) -> None:
        """Run the command; when it fails, leave no trace of it in the run folder (:meth:`discard_failed`).

        Args:
            subcommand: ``fit``, ``test`` …
        """
        try:
            super().run_subcommand(subcommand)
            drop_empty_session(self.run_dir, self.session)  # the reservation, when only W&B logged
        except SystemExit as exc:
            if exc.code not in (0, None):
                self.discard_failed()
            raise
        except BaseException as exc:
            optuna = sys.modules.get("optuna")  # loaded by a sweep only: a pruned trial stopped, it did not fail
            if optuna is None or not isinstance(exc, optuna.TrialPruned):
                self.discard_failed()
            raise

    def _instantiators(self) -> list[tuple[Any, type, bool]]:
        """Build an evaluated checkpoint's datamodule with the preprocessing it was trained with.

        Lightning keeps a datamodule's ``state_dict()`` in every checkpoint; lit_nn's datamodules
        read it while they are constructed (:mod:`lit_nn.data.fitted`), so new data is encoded,
        scaled and labelled exactly as the training data was.

        Returns:
            jsonargparse instantiators for this command (none when training).
        """
        data = self.config[self.subcommand].get("data")
        if self.subcommand == "fit" or not isinstance(data, Namespace):
            return []
        state = self.route.datamodule_state(data.class_path)
        if state is None:
            return []

        def with_fitted_state(class_type: type, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            with applying(state):
                return class_type(*args, **kwargs)

        return [(with_fitted_state, LightningDataModule, True)]

    def add_configure_optimizers_method_to_model(self, subcommand: str | None) -> None:
        """Lightning's ``--optimizer`` / ``--lr_scheduler``: for a lit_nn task, an alias of its own options.

        A task sets up its optimiser and schedule one way, from its hyperparameters; Lightning's
        options are translated into them here (``optimizer: torch.optim.SGD``, its arguments, its
        rate) and the task builds what they name, so the checkpoint says what ran and a task
        rebuilt from it builds the same. A ``--lr_scheduler`` without ``--optimizer`` (which
        Lightning would drop without a word) schedules the task's own optimiser. A model of your
        own gets Lightning's ``configure_optimizers``.

        Raises:
            ConfigError: For ``--lr_scheduler`` alone with a model that is not a lit_nn task.
        """
        config = self.config[subcommand] if subcommand else self.config
        hparams = getattr(self.model, "hparams", None)
        optimizer, schedule = config.get("optimizer"), config.get("lr_scheduler")
        if hparams is None or "optimizer" not in hparams:
            if isinstance(schedule, Namespace) and not isinstance(optimizer, Namespace):
                raise ConfigError("--lr_scheduler needs --optimizer as well for a model of your own")
            super().add_configure_optimizers_method_to_model(subcommand)
            return
        ran = optimizer_record(optimizer, schedule, hparams.get("lr"))
        hparams.update(ran)
        update_initial_hparams(self.model, ran)  # what loggers write (hparams.yaml)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:  # noqa: ANN401
        """Build the trainer, with lit_nn's checkpoint gate and callbacks (:func:`arrange_callbacks`)."""
        # the configuration's own callbacks, before Lightning extends that same list with its defaults
        configured = self.config_init[self.subcommand]["trainer"].get("callbacks") or []
        configured = list(configured) if isinstance(configured, list) else [configured]
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # Lightning's default: lit_nn's gate instead
            trainer.strategy.checkpoint_io = self.route.checkpoint_io()
        predictions = None
        if self.subcommand == "predict":
            predictions = self.config["predict"].get("output") or runs.predictions_file(self.run_dir, self.session)
        arrange_callbacks(
            trainer,
            self.subcommand,
            configured,
            record=getattr(self, "record", None),
            extra=self.extra_callbacks,
            predictions=predictions,
        )
        return trainer

    def before_export(self) -> None:
        """Load the checkpoint's weights (read and checked once, while parsing) into the model to export or serve."""
        self.model.load_state_dict(self.route.weights())

    before_serve = before_export

    # after running ----------------------------------------------------------------------------

    def after_fit(self) -> None:
        """Say where the run went, why it stopped early if so, what its loss curves say, how to test it; close W&B.

        With ``--test true``, plan the test of the best checkpoint that :func:`lit_nn.cli.run_lightning`
        runs next (:mod:`lit_nn.cli.fit_test`).
        """
        lines = finish_wandb(self.trainer)
        testing = bool(self.config["fit"].get("test"))
        if self.trainer.is_global_zero:
            print("\n".join([*fit_summary(self.trainer, self.run_dir, testing), *lines]))
        if testing:
            self.test_after_fit = plan_test(self.trainer, self.run_dir)

    def _after_evaluation(self) -> None:
        save_metrics(self.trainer, runs.metrics_file(self.run_dir, self.session), self.route.path)
        for line in finish_wandb(self.trainer):
            print(line)

    def after_validate(self) -> None:
        """Save the validation metrics beside the run (``<command>-<time>-metrics.json``)."""
        self._after_evaluation()

    def after_test(self) -> None:
        """Save the test metrics beside the run (``<command>-<time>-metrics.json``)."""
        self._after_evaluation()

    def after_predict(self) -> None:
        """Say where the predictions went."""
        written = predictions_written(self.trainer)
        if written:
            print(f"Predictions: {written}")
        for line in finish_wandb(self.trainer):
            print(line)


class PlanningCLI(LitNNCLI):
    """The command's parser and checks alone: it parses, resolves names and builds nothing.

    For a command that plans runs before making them (``lit-nn sweep``, ``lit-nn compare``): the
    configuration and :meth:`~LitNNCLI.experiment_dir` are known, no folder is made, nothing is
    seeded or trained.
    """

    def set_seed(self) -> None:
        """Nothing: each run seeds itself."""

    def before_instantiate_classes(self) -> None:
        """Nothing: each run settles its own folder."""

    def instantiate_classes(self) -> None:
        """Nothing: each run builds its own model, data and trainer."""

    def run_subcommand(self, subcommand: str) -> None:
        """Nothing: the planning command runs what it planned.

        Args:
            subcommand: ``fit``.
        """
