"""The one door to library internals: every use of a private name of Lightning, jsonargparse, torch and Optuna.

A library's private name (``_name``) may change in any release. Each use lit_nn makes of one is a
small named function here, with the version it was read from and a test of its own against the
real library (tests/test_compat.py), so an upgrade is a one-file job: run that test, fix what it
finds here. Where a library method must be overridden, a class here does it once and hands the
step to a public method a lit_nn subclass overrides instead. tests/test_import_direction.py fails
on a private name used anywhere else in lit_nn. pyproject.toml bounds these libraries to the
versions read here.

Versions read: lightning 2.6.6, jsonargparse 4.53.0, torch 2.14.1, optuna 5.1.0 (LitServe 0.2.19 and
wandb 0.31.0: nothing private used).

Only torch and Lightning are imported with this module (its classes extend Lightning's);
jsonargparse and Optuna are imported by the functions that need them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.cli import LightningCLI

if TYPE_CHECKING:
    from argparse import Action, ArgumentParser

    import optuna
    from lightning.pytorch import LightningModule, Trainer
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import WandbLogger
    from optuna.trial import FrozenTrial
    from torch.optim.lr_scheduler import OneCycleLR

ClassPathResolver = Callable[[Any, str], str]
"""jsonargparse's class-name resolver: ``(base class or classes, name) -> import path``."""

# Keys Lightning's CLI adds to a module's saved hyperparameters (lightning 2.6.6,
# lightning/pytorch/cli.py: _InstantiatorFn and instantiate_module).
_CLASS_PATH_KEY = "_class_path"
_INSTANTIATOR_KEY = "_instantiator"

# jsonargparse's own class-name resolver, kept when hook_class_path_resolution replaces it.
_RESOLVER: dict[str, ClassPathResolver] = {}


# Lightning: the trainer ---------------------------------------------------------------------


def cluster_environment(trainer: Trainer) -> Any:  # noqa: ANN401 (a ClusterEnvironment or None)
    """The cluster environment the trainer chose (SLURM, torchelastic …), whatever its strategy.

    A single-device strategy has no ``cluster_environment`` of its own; the trainer's accelerator
    connector always chooses one (Lightning's own signal handling reads it there too).

    Args:
        trainer: The trainer (or anything without a connector: ``None`` then).

    Returns:
        The environment, or ``None``.
    """
    # lightning 2.6.6: Trainer._accelerator_connector.cluster_environment
    return getattr(getattr(trainer, "_accelerator_connector", None), "cluster_environment", None)


def logs_this_step(trainer: Trainer) -> bool:
    """Whether the trainer's loggers write this training step's metrics (every ``log_every_n_steps``).

    Lightning's ``LearningRateMonitor`` asks the same question the same way.

    Args:
        trainer: The trainer.

    Returns:
        Lightning's answer; ``True`` for a trainer without a logger connector.
    """
    # lightning 2.6.6: Trainer._logger_connector.should_update_logs
    connector = getattr(trainer, "_logger_connector", None)
    return connector is None or bool(connector.should_update_logs)


# Lightning: the module ----------------------------------------------------------------------


def is_hook_bookkeeping(name: str) -> bool:
    """Whether Lightning sets this module attribute around every hook call (twice per call).

    A module may set such an attribute with ``object.__setattr__``, skipping ``nn.Module``'s
    checks, since its value is always a string or ``None``.

    Args:
        name: An attribute name being set on a LightningModule.

    Returns:
        True for the hook-name attribute.
    """
    # lightning 2.6.6: LightningModule._current_fx_name, set by Trainer._call_lightning_module_hook
    return name == "_current_fx_name"


def update_initial_hparams(module: LightningModule, values: dict[str, Any]) -> None:
    """Add to the hyperparameters a module was built with, which loggers write (``hparams.yaml``).

    ``module.hparams`` takes updates; ``module.hparams_initial`` is a copy, so the loggers'
    view is updated here.

    Args:
        module: The module (one that never saved hyperparameters is left alone).
        values: Names and values to add.
    """
    # lightning 2.6.6: HyperparametersMixin._hparams_initial
    initial = getattr(module, "_hparams_initial", None)
    if initial is not None:
        initial.update(values)


@contextlib.contextmanager
def jit_scripting(module: Any) -> Iterator[None]:  # noqa: ANN401 (a LightningModule or a plain module)
    """Tell a LightningModule it is being scripted or traced, as ``LightningModule.to_torchscript`` does.

    Its trainer properties then stay out of the graph. A module that is no LightningModule is left alone.

    Args:
        module: The module being traced.

    Yields:
        Nothing; the switch is off again afterwards.
    """
    # lightning 2.6.6: LightningModule._jit_is_scripting
    switch = hasattr(module, "_jit_is_scripting")
    if switch:
        module._jit_is_scripting = True
    try:
        yield
    finally:
        if switch:
            module._jit_is_scripting = False


def recorded_class_path(hparams: dict[str, Any]) -> str | None:
    """The class path Lightning's CLI recorded in a module's or datamodule's saved hyperparameters.

    Args:
        hparams: A checkpoint's ``hyper_parameters`` or ``datamodule_hyper_parameters``.

    Returns:
        The import path, or ``None`` when the object was not built by the CLI.
    """
    # lightning 2.6.6: the "_class_path" key, written by lightning.pytorch.cli._InstantiatorFn
    return hparams.get(_CLASS_PATH_KEY)


def split_recorded_class_path(hparams: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Separate the class path Lightning's CLI recorded from the init arguments it saved beside it.

    Args:
        hparams: A checkpoint's saved hyperparameters (not changed).

    Returns:
        ``(class path or None, the other hyperparameters)``, without the CLI's bookkeeping keys.
    """
    # lightning 2.6.6: the "_class_path" and "_instantiator" keys (lightning.pytorch.cli._InstantiatorFn)
    rest = {k: v for k, v in hparams.items() if k not in (_CLASS_PATH_KEY, _INSTANTIATOR_KEY)}
    return hparams.get(_CLASS_PATH_KEY), rest


# Lightning: the CLI -------------------------------------------------------------------------


def subcommand_parsers(cli: LightningCLI) -> dict[str, Any]:
    """The parser of each subcommand of a LightningCLI (``fit``, ``test`` …), once they are set up.

    Args:
        cli: The CLI (possibly still inside its ``__init__``).

    Returns:
        Subcommand name to its parser; empty before the parsers are made, or without subcommands.
    """
    # lightning 2.6.6: LightningCLI._subcommand_parsers, set by _add_subcommands
    return getattr(cli, "_subcommand_parsers", {})


def subcommand_parser(cli: LightningCLI, subcommand: str | None) -> Any:  # noqa: ANN401 (a LightningArgumentParser)
    """The parser a LightningCLI parses one subcommand's options with.

    Args:
        cli: The CLI.
        subcommand: The subcommand, or ``None`` for a CLI run without subcommands.

    Returns:
        That subcommand's parser (the main parser for ``None``).
    """
    # lightning 2.6.6: LightningCLI._parser(subcommand)
    return cli._parser(subcommand)


class HookedLightningCLI(LightningCLI):
    """``LightningCLI`` whose private steps are public methods, for a subclass to override.

    ``LightningCLI.__init__`` runs its steps as private methods; overriding one of those in
    lit_nn would tie lit_nn to a private name wherever it is done. This class overrides each
    once and calls a public method of the same name without the underscore, whose default is
    Lightning's own step:

    - ``_parse_ckpt_path`` → :meth:`parse_ckpt_path`
    - ``_set_seed`` → :meth:`set_seed`
    - ``_add_configure_optimizers_method_to_model`` → :meth:`add_configure_optimizers_method_to_model`
    - ``_run_subcommand`` → :meth:`run_subcommand`
    """

    # lightning 2.6.6: LightningCLI.__init__ calls _parse_ckpt_path, _set_seed and _run_subcommand;
    # LightningCLI.instantiate_classes calls _add_configure_optimizers_method_to_model.

    def _parse_ckpt_path(self) -> None:
        self.parse_ckpt_path()

    def _set_seed(self) -> None:
        self.set_seed()

    def _add_configure_optimizers_method_to_model(self, subcommand: str | None) -> None:
        self.add_configure_optimizers_method_to_model(subcommand)

    def _run_subcommand(self, subcommand: str) -> None:
        self.run_subcommand(subcommand)

    def parse_ckpt_path(self) -> None:
        """After parsing: take the model's hyperparameters from ``--ckpt_path`` (Lightning's step)."""
        super()._parse_ckpt_path()

    def set_seed(self) -> None:
        """After parsing: seed everything with ``seed_everything`` (Lightning's step)."""
        super()._set_seed()

    def add_configure_optimizers_method_to_model(self, subcommand: str | None) -> None:
        """When instantiating: give the model ``--optimizer`` and ``--lr_scheduler`` (Lightning's step).

        Args:
            subcommand: The subcommand run, or ``None``.
        """
        super()._add_configure_optimizers_method_to_model(subcommand)

    def run_subcommand(self, subcommand: str) -> None:
        """Last: run the subcommand's ``before_*``, trainer method and ``after_*`` (Lightning's step).

        Args:
            subcommand: The subcommand (``fit``, ``test`` …).
        """
        super()._run_subcommand(subcommand)


# Lightning: callbacks and loggers -----------------------------------------------------------


def checkpoint_written_or_not_due(callback: ModelCheckpoint, trainer: Trainer) -> bool:
    """Whether a ``ModelCheckpoint`` must write nothing now.

    True in the sanity check, under ``fast_dev_run``, outside ``fit``, and when the callback already
    wrote a checkpoint at this global step.

    Args:
        callback: The checkpoint callback.
        trainer: Its trainer.

    Returns:
        Whether to write nothing.
    """
    # lightning 2.6.6: ModelCheckpoint._should_skip_saving_checkpoint(trainer)
    return bool(callback._should_skip_saving_checkpoint(trainer))


def save_last_checkpoint(callback: ModelCheckpoint, trainer: Trainer) -> None:
    """Write a ``ModelCheckpoint``'s ``last`` checkpoint now, as it does after a top-k checkpoint.

    Args:
        callback: The checkpoint callback (its ``save_last`` decides whether anything is written).
        trainer: Its trainer.
    """
    # lightning 2.6.6: ModelCheckpoint._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
    callback._save_last_checkpoint(trainer, callback._monitor_candidates(trainer))


class TQDMProgressBarWithUpdateHook(TQDMProgressBar):
    """``TQDMProgressBar`` whose decision to redraw a bar after a batch is the public :meth:`should_update`."""

    # lightning 2.6.6: TQDMProgressBar.on_{train,validation,test,predict}_batch_end ask _should_update(current, total)
    def _should_update(self, current: int, total: int) -> bool:
        return self.should_update(current, total)

    def should_update(self, current: int, total: int) -> bool:
        """Whether to redraw a bar after this batch (Lightning's rule: every ``refresh_rate`` batches, and the last).

        Args:
            current: Batches done.
            total: Batches in all.

        Returns:
            True to redraw.
        """
        return super()._should_update(current, total)


def wandb_init_arguments(logger: WandbLogger) -> dict[str, Any]:
    """The arguments a ``WandbLogger`` will give ``wandb.init``; changes to the dict take effect.

    Args:
        logger: The logger, before its run starts.

    Returns:
        The logger's own dict.
    """
    # lightning 2.6.6: WandbLogger._wandb_init
    return logger._wandb_init


def set_wandb_log_model(logger: WandbLogger, log_model: bool | str) -> None:
    """Set a ``WandbLogger``'s ``log_model`` after construction, where Lightning refuses it offline.

    Args:
        logger: The logger.
        log_model: ``True``, ``False`` or ``"all"``, as the constructor takes it.
    """
    # lightning 2.6.6: WandbLogger._log_model, read by after_save_checkpoint and finalize
    logger._log_model = log_model


def wandb_logger_prefix(logger: WandbLogger) -> str:
    """The ``prefix`` a ``WandbLogger`` puts before every metric name.

    Args:
        logger: The logger.

    Returns:
        The prefix (empty for none).
    """
    # lightning 2.6.6: WandbLogger._prefix
    return logger._prefix


def started_wandb_run(logger: WandbLogger) -> Any:  # noqa: ANN401 (a wandb Run)
    """A ``WandbLogger``'s W&B run if it started one, without starting one (``logger.experiment`` would).

    Args:
        logger: The logger.

    Returns:
        The run, or ``None``.
    """
    # lightning 2.6.6: WandbLogger._experiment
    return getattr(logger, "_experiment", None)


# torch --------------------------------------------------------------------------------------


def onecycle_phases(scheduler: OneCycleLR) -> list[dict[str, Any]]:
    """The phases of a one-cycle schedule: each a dict with its ``end_step`` (editable in place).

    Args:
        scheduler: The scheduler.

    Returns:
        Its own list: two phases, or three with ``three_phase``.
    """
    # torch 2.14.1: OneCycleLR._schedule_phases
    return cast("list[dict[str, Any]]", scheduler._schedule_phases)


def new_shared_storage(nbytes: int) -> torch.UntypedStorage:
    """A new storage in shared memory, for a batch that leaves a DataLoader worker without a copy.

    ``default_collate`` makes its batches in workers this way; ``share_memory_()`` on an
    ordinary storage would copy it once more.

    Args:
        nbytes: Its size in bytes.

    Returns:
        The storage (uninitialised).
    """
    # torch 2.14.1: UntypedStorage._new_shared (torch/storage.py), as torch.utils.data's default_collate uses it
    return torch.UntypedStorage._new_shared(nbytes)


# jsonargparse -------------------------------------------------------------------------------


def resolve_class_path_by_name(cls: Any, name: str) -> str:  # noqa: ANN401 (a class or a tuple of them)
    """Resolve a class name without dots as jsonargparse itself does, even after it was hooked.

    Args:
        cls: The base class (or classes) the value must be a subclass of.
        name: The name given.

    Returns:
        The import path of the one imported subclass of that name, or ``name`` unchanged.

    Raises:
        ValueError: When several imported subclasses have that name.
    """
    return _jsonargparse_resolver()(cls, name)


def hook_class_path_resolution(resolver: ClassPathResolver) -> ClassPathResolver:
    """Make jsonargparse resolve every class name without dots through ``resolver``.

    jsonargparse has no public hook for this, but one function every route calls (command line,
    config files at any depth, environment variables, ``--*.help``, ``--print_config``);
    ``resolver`` replaces it, and reaches the original through :func:`resolve_class_path_by_name`.

    Args:
        resolver: ``(base class or classes, name) -> import path``.

    Returns:
        The resolver it replaces (give it back to undo).
    """
    # jsonargparse 4.53.0: _typehints.resolve_class_path_by_name, looked up in that module at call time
    # by its callers (_typehints, _actions); _from_config binds it at import and keeps the original.
    from jsonargparse import _typehints

    _jsonargparse_resolver()
    previous = _typehints.resolve_class_path_by_name
    _typehints.resolve_class_path_by_name = resolver
    return previous


def _jsonargparse_resolver() -> ClassPathResolver:
    from jsonargparse import _typehints

    return _RESOLVER.setdefault("original", _typehints.resolve_class_path_by_name)


def option_actions(parser: ArgumentParser) -> dict[str, Action]:
    """A parser's options by option string (``--model``, ``-c`` …), to read or change their help.

    Args:
        parser: An argparse or jsonargparse parser.

    Returns:
        The parser's own dict.
    """
    # argparse (Python 3.10-3.13) and jsonargparse 4.53.0: ArgumentParser._option_string_actions
    return parser._option_string_actions


def subcommand_choices(parser: ArgumentParser) -> dict[str, Any]:
    """A jsonargparse parser's subcommands, each with its own parser.

    Args:
        parser: The main parser.

    Returns:
        Subcommand name to parser; empty for a parser without subcommands.
    """
    # jsonargparse 4.53.0: ArgumentParser._subcommands_action (None without subcommands)
    action = getattr(parser, "_subcommands_action", None)
    return dict(action.choices) if action is not None else {}


# Optuna -------------------------------------------------------------------------------------


def trial_by_id(study: optuna.Study, frozen: FrozenTrial) -> optuna.Trial:
    """A live trial for a trial of the study that is still running (taken over from a stopped worker).

    Optuna hands out live trials only through ``study.ask()``, which makes a new one.

    Args:
        study: The study.
        frozen: The trial, as ``study.get_trials`` gives it.

    Returns:
        A trial that reports to, and is finished in, the study's storage.
    """
    import optuna

    # optuna 5.1.0: FrozenTrial._trial_id (the storage's id; Trial(study, trial_id) is how ask() builds one)
    return optuna.Trial(study, frozen._trial_id)
