"""The ``lit-nn`` command line: Lightning's fit/validate/test/predict, and ``plugins``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from lit_nn import __version__
from lit_nn.cli import configs, plugins
from lit_nn.cli.errors import user_errors

if TYPE_CHECKING:
    from lightning.pytorch import Callback

    from lit_nn.cli.lightning import LitNNCLI

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict", "export", "serve")
COMMAND_HELP = {
    "fit": "train a model (lit-nn fit -c digits)",
    "compare": "train over several values of one setting, drawn in one figure (--model.activation relu,tanh)",
    "sweep": "search hyperparameters with Optuna: every trial a run, resumable, parallel (-c digits -c sweeps/digits)",
    "validate": "evaluate on the validation split",
    "test": "evaluate on the test split (--ckpt_path best|last|FILE)",
    "predict": "write predictions to CSV (--output FILE)",
    "export": "export a checkpoint's model to ONNX, TorchScript or torch.export, checked on the test split",
    "serve": "serve a checkpoint's model over HTTP (POST /predict, GET /health) on LitServe",
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser.

    Returns:
        The parser with one sub-command per ``lit-nn`` command.
    """
    parser = argparse.ArgumentParser(
        prog="lit-nn",
        description="Train, test and extend lit_nn models. Set LIT_NN_DEBUG=1 for tracebacks.",
        epilog="Run `lit-nn COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"lit_nn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, text in COMMAND_HELP.items():
        subparsers.add_parser(name, help=text, add_help=False)
    plugins.add_parser(subparsers).set_defaults(handler=plugins.run)
    configs.add_parser(subparsers).set_defaults(handler=configs.run)
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


def run_lightning(
    argv: list[str],
    own_process: bool = False,
    callbacks: Sequence[Callback] = (),
    cli_class: type[LitNNCLI] | None = None,
) -> LitNNCLI:
    """Run a Lightning command through :class:`~lit_nn.cli.lightning.LitNNCLI`.

    Args:
        argv: Arguments after ``lit-nn``, starting with the command.
        own_process: The command is the whole process (the ``lit-nn`` script), so what the
            imports made may be frozen for good (:mod:`lit_nn.cli.heap`).
        callbacks: More callbacks for the trainer (a sweep's trial reporter and pruner).
        cli_class: A subclass of ``LitNNCLI`` to run instead (the sweep's parse-only one).

    Returns:
        The CLI object, after its command ran (its ``trainer``, ``model``, ``run_dir``).

    Raises:
        ConfigError: If the arguments or config files do not parse, as one line.
    """
    from lit_nn.cli.heap import collector_off

    with collector_off(freeze=own_process):
        from jsonargparse import ArgumentError

        from lit_nn.cli.lightning import LitNNCLI
        from lit_nn.cli.messages import condense
        from lit_nn.errors import ConfigError
        from lit_nn.runs import RUN_DIR_ENV, SESSION_ENV

    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings("ignore", message=r".*configure_optimizers` will be overridden")  # asked for
    # Lightning's hint on any machine with SLURM installed, even when no job runs lit-nn
    warnings.filterwarnings("ignore", message=r"The `srun` command is available on your system but is not used")
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_drop_advert)
    # A log handler that cannot write (W&B's debug log on a full disk) prints a traceback per record,
    # thousands of lines; logging's own switch keeps it quiet, and lit-nn says what failed, once.
    logging.raiseExceptions = False
    with _environment_restored(RUN_DIR_ENV, SESSION_ENV):
        try:
            return (cli_class or LitNNCLI)(args=argv, callbacks=callbacks)
        except ArgumentError as exc:  # raised outside parse_arguments (config files, links)
            raise ConfigError(condense(str(exc))) from None


def main(args: Sequence[str] | None = None) -> None:
    """Run ``lit-nn``.

    Args:
        args: Command-line arguments without the program name (default: ``sys.argv[1:]``).

    Raises:
        SystemExit: With a non-zero status on any error, after one clear message.
    """
    argv = list(sys.argv[1:] if args is None else args)
    with user_errors(last_word=args is None):
        if argv and argv[0] in LIGHTNING_COMMANDS:
            run_lightning(argv, own_process=args is None)
            return
        if argv and argv[0] == "compare":
            from lit_nn.cli import compare

            status = compare.run(argv[1:])
        elif argv and argv[0] == "sweep":
            from lit_nn.cli import sweep

            status = sweep.run(argv[1:])
        else:
            namespace = build_parser().parse_args(argv)
            status = namespace.handler(namespace)
    if status:
        raise SystemExit(status)
