"""``lit-nn configs``: the shipped configs, by the name ``-c`` takes, with what each is for."""

from __future__ import annotations

import argparse

from lit_nn.cli.shipped_configs import description, shipped_configs
from lit_nn.cli.table import format_table


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``lit-nn configs``.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="lit-nn configs",
        description="List the configs shipped with lit_nn: dataset configs and presets to compose with more -c. "
        "Each works by name from any folder (lit-nn fit -c digits -c trainer/debug).",
    )
    parser.add_argument("--paths", action="store_true", help="also print where each file is")
    return parser


def main(argv: list[str]) -> int:
    """``lit-nn configs ARGS``.

    Args:
        argv: The arguments after ``configs``.

    Returns:
        The exit status.
    """
    return run(build_parser().parse_args(argv))


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
