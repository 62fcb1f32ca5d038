"""``lit-nn configs``: the shipped configs, by the name ``-c`` takes, with what each is for."""

from __future__ import annotations

import argparse
from typing import Any

from lit_nn.cli.shipped_configs import description, shipped_configs
from lit_nn.cli.table import format_table


def add_parser(subparsers: Any) -> argparse.ArgumentParser:  # noqa: ANN401 (argparse's subparsers action)
    """Add the ``configs`` sub-command.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        The sub-command's parser.
    """
    parser = subparsers.add_parser(
        "configs",
        help="list the shipped configs (lit-nn fit -c NAME)",
        description="List the configs shipped with lit_nn: dataset configs and presets to compose with more -c. "
        "Each works by name from any folder (lit-nn fit -c digits -c trainer/debug).",
    )
    parser.add_argument("--paths", action="store_true", help="also print where each file is")
    return parser


def run(args: argparse.Namespace) -> int:
    """Print the table of shipped configs.

    Args:
        args: Parsed arguments (``paths``).

    Returns:
        The exit status (0).
    """
    rows = [(name, description(path), *([str(path)] if args.paths else [])) for name, path in shipped_configs().items()]
    header = ("NAME", "WHAT", *(["FILE"] if args.paths else []))
    print(format_table(header, rows))
    print("\nUse one by name: lit-nn fit -c digits -c trainer/debug (a file path works too).")
    return 0
