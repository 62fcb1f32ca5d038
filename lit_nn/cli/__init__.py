"""The ``lit-nn`` command line: one table of commands (:data:`COMMANDS`) and the Lightning commands' runner."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lit_nn import __version__
from lit_nn.cli.errors import user_errors

if TYPE_CHECKING:
    from lightning.pytorch import Callback

    from lit_nn.cli.lightning_cli import LitNNCLI


@dataclass(frozen=True)
class Command:
    """One ``lit-nn`` command.

    Attributes:
        help: The line ``lit-nn --help`` shows.
        target: ``module:function`` running it, imported only when the command runs: a Lightning
            command's function takes the whole argument list (the command's name first), any
            other's the arguments after the name and returns the exit status.
        lightning: The command is one of Lightning's trainer methods, run by :func:`run_lightning`.
    """

    help: str
    target: str = "lit_nn.cli:run_lightning"
    lightning: bool = True

    def run(self, argv: list[str], own_process: bool) -> int:
        """Run the command.

        Args:
            argv: The arguments after ``lit-nn``, the command's name first.
            own_process: The command is the whole process (see :func:`run_lightning`).

        Returns:
            The exit status.
        """
        module, name = self.target.split(":")
        function = getattr(importlib.import_module(module), name)
        if self.lightning:
            function(argv, own_process=own_process)
            return 0
        return int(function(argv[1:]) or 0)


COMMANDS: dict[str, Command] = {
    "fit": Command("train a model (lit-nn fit -c digits; --test true tests it next, in the same process)"),
    "compare": Command(
        "train over several values of one setting, drawn in one figure (--model.activation relu,tanh)",
        "lit_nn.cli.compare:run",
        lightning=False,
    ),
    "sweep": Command(
        "search hyperparameters with Optuna: every trial a run, resumable, parallel (-c digits -c sweeps/digits)",
        "lit_nn.cli.sweep:run",
        lightning=False,
    ),
    "cv": Command(
        "k-fold cross-validation against a classical baseline: every fold a run, resumable (-c breast_cancer)",
        "lit_nn.cli.cv:run",
        lightning=False,
    ),
    "data": Command(
        "write a datamodule's splits to LitData chunks for --data streaming (optimize -c digits --output DIR)",
        "lit_nn.cli.data:run",
        lightning=False,
    ),
    "validate": Command("evaluate on the validation split"),
    "test": Command("evaluate on the test split (--ckpt_path best|last|FILE)"),
    "predict": Command("write predictions to CSV (--output FILE)"),
    "export": Command("export a checkpoint's model to ONNX, TorchScript or torch.export, checked on the test split"),
    "serve": Command(
        "serve a checkpoint (--ckpt_path), an ONNX export without torch, or several models, on LitServe",
        "lit_nn.cli.serve:run",
        lightning=False,
    ),
    "plugins": Command("list plugins and what they register", "lit_nn.cli.plugins:main", lightning=False),
    "configs": Command("list the shipped configs (lit-nn fit -c NAME)", "lit_nn.cli.configs:main", lightning=False),
}
"""Every ``lit-nn`` command, in the order ``lit-nn --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser: ``--help``, ``--version`` and the command names.

    Returns:
        The parser (each command parses its own options).
    """
    parser = argparse.ArgumentParser(
        prog="lit-nn",
        description="Train, test and extend lit_nn models. Set LIT_NN_DEBUG=1 for tracebacks.",
        epilog="Run `lit-nn COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"lit_nn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        subparsers.add_parser(name, help=command.help, add_help=False)
    return parser


@contextlib.contextmanager
def _environment_restored(*keys: str) -> Iterator[None]:
    before = {key: os.environ.get(key) for key in keys}
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _drop_advert(record: logging.LogRecord) -> bool:
    return "litlogger" not in record.getMessage()  # Lightning's tip to install a cloud logger


@contextlib.contextmanager
def _library_noise_filtered() -> Iterator[None]:
    """While a command runs: the library warnings and log records lit-nn keeps off the console.

    The warning filters and the log filter are the command's own: a library caller's are as they
    were afterwards.

    Yields:
        Nothing.
    """
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    # A log handler that cannot write (W&B's debug log on a full disk) prints a traceback per record,
    # thousands of lines; logging's own switch keeps it quiet, and lit-nn says what failed, once. Left
    # off afterwards: W&B's threads go on logging after the command returns, until the process exits.
    logging.raiseExceptions = False
    logger.addFilter(_drop_advert)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
            warnings.filterwarnings("ignore", message=r".*configure_optimizers` will be overridden")  # asked for
            # Lightning's hint on any machine with SLURM installed, even when no job runs lit-nn
            warnings.filterwarnings("ignore", message=r"The `srun` command is available on your system but is not used")
            # test/predict from a checkpoint: the callbacks named are lit_nn's fit-only safety callbacks, whose
            # state only a resumed fit reads
            warnings.filterwarnings("ignore", message=LIT_NN_STATE_ONLY)
            # --data streaming: LitData's loaders are iterable, sized per rank and worker by LitData itself
            warnings.filterwarnings("ignore", message=r"Your `IterableDataset` has `__len__` defined")
            warnings.filterwarnings("ignore", message=r"Couldn't infer the batch indices fetched from your dataloader")
            yield
    finally:
        logger.removeFilter(_drop_advert)


LIT_NN_STATE_ONLY = (
    r"(?s)Be aware that when using `ckpt_path`.*Please add the following callbacks: "
    r"\[(?:'(?:RandomState|SaveOnInterrupt|SlurmRequeue)'(?:, )?)+\]"
)
"""Lightning's warning when a checkpoint holds the state of callbacks only ``fit`` uses (lit_nn's)."""


def run_lightning(
    argv: list[str],
    own_process: bool = False,
    callbacks: Sequence[Callback] = (),
    cli_class: type[LitNNCLI] | None = None,
) -> LitNNCLI:
    """Run a Lightning command through :class:`~lit_nn.cli.lightning_cli.LitNNCLI`.

    A ``fit`` with ``--test true`` then runs ``test`` on its best checkpoint here, in the same
    process, with the same callbacks (:mod:`lit_nn.cli.fit_test`).

    Args:
        argv: Arguments after ``lit-nn``, starting with the command.
        own_process: The command is the whole process (the ``lit-nn`` script), so what the
            imports made may be frozen for good (:mod:`lit_nn.cli.gc_freeze`).
        callbacks: More callbacks for the trainer (a sweep's trial reporter and pruner).
        cli_class: A subclass of ``LitNNCLI`` to run instead (the sweep's parse-only one).

    Returns:
        The CLI object, after its command ran (its ``trainer``, ``model``, ``run_dir``); the fit's
        after a fit and its test.

    Raises:
        ConfigError: If the arguments or config files do not parse, as one line.
    """
    from lit_nn.cli.gc_freeze import collector_off

    with collector_off(freeze=own_process):
        from jsonargparse import ArgumentError

        from lit_nn.cli.lightning_cli import LitNNCLI
        from lit_nn.cli.messages import condense
        from lit_nn.errors import ConfigError
        from lit_nn.runs import RUN_DIR_ENV, SESSION_ENV, drop_empty_session

    with _library_noise_filtered(), _environment_restored(RUN_DIR_ENV, SESSION_ENV):
        try:
            cli = (cli_class or LitNNCLI)(args=argv, callbacks=callbacks)
        except ArgumentError as exc:  # raised outside parse_arguments (config files, links)
            raise ConfigError(condense(str(exc))) from None
    planned = cli.test_after_fit
    if planned is not None:
        with _environment_restored(RUN_DIR_ENV, SESSION_ENV):
            os.environ.update(planned.environment())
            try:
                run_lightning(planned.arguments(argv), callbacks=callbacks)
            except BaseException:
                drop_empty_session(planned.run_dir, planned.session)  # reserved for a test that did not start
                raise
    return cli


def main(args: Sequence[str] | None = None) -> None:
    """Run ``lit-nn``.

    Args:
        args: Command-line arguments without the program name (default: ``sys.argv[1:]``).

    Raises:
        SystemExit: With a non-zero status on any error, after one clear message.
    """
    argv = list(sys.argv[1:] if args is None else args)
    with user_errors(last_word=args is None):
        command = COMMANDS.get(argv[0]) if argv else None
        if command is None:
            build_parser().parse_args(argv)  # --help, --version, or argparse's own line for an unknown command
            return
        status = command.run(argv, own_process=args is None)
    if status:
        raise SystemExit(status)
