"""The ``lit-nn`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lit_nn import __version__
from lit_nn.cli import plugins
from lit_nn.cli.errors import user_errors


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser.

    Returns:
        The parser with one sub-command per ``lit-nn`` command.
    """
    parser = argparse.ArgumentParser(
        prog="lit-nn",
        description="Train, test and extend lit_nn models. Set LIT_NN_DEBUG=1 for tracebacks.",
    )
    parser.add_argument("--version", action="version", version=f"lit_nn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    plugins.add_parser(subparsers).set_defaults(handler=plugins.run)
    return parser


def main(args: Sequence[str] | None = None) -> None:
    """Run ``lit-nn``.

    Args:
        args: Command-line arguments without the program name (default: ``sys.argv[1:]``).

    Raises:
        SystemExit: With a non-zero status on any error, after one clear message.
    """
    argv = list(sys.argv[1:] if args is None else args)
    with user_errors():
        namespace = build_parser().parse_args(argv)
        status = namespace.handler(namespace)
    if status:
        raise SystemExit(status)
