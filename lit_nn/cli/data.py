"""``lit-nn data optimize``: a fit configuration's datamodule written as LitData chunks, for ``--data streaming``.

    lit-nn data optimize -c CONFIG --output DIR [--chunk_bytes 64MB] [--workers N] [lit-nn fit options]

The configuration is parsed by the fit command's own parser (nothing is trained); its datamodule
is built as ``lit-nn fit`` would build it, and its splits and fitted state written by
:func:`lit_nn.data.chunks.write_chunks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jsonargparse import Namespace

from lit_nn.checkpoint_choice import size_keys
from lit_nn.cli import run_lightning
from lit_nn.cli.cv_folds import load_class
from lit_nn.cli.lightning_cli import PlanningCLI
from lit_nn.cli.run_config import absolute_paths
from lit_nn.errors import ConfigError

USAGE = """usage: lit-nn data optimize -c CONFIG --output DIR [--chunk_bytes 64MB] [--workers N] [lit-nn fit options]

Write the configured datamodule's train, val and test splits to LitData chunks in DIR, with
manifest.json (the source datamodule, its fitted preprocessing, classes, sample counts, a content
hash). Then train from them, locally or from a bucket the folder was copied to:

  lit-nn data optimize -c digits --output chunks/digits
  lit-nn fit -c digits --data streaming --data.path chunks/digits
  lit-nn fit -c digits --data streaming --data.path s3://bucket/digits

`lit-nn data optimize --help` lists every option."""


class DataCLI(PlanningCLI):
    """The fit command's parser with the chunk writer's options; it parses and builds nothing."""

    def add_arguments_to_parser(self, parser: Any) -> None:  # noqa: ANN401 (a LightningArgumentParser)
        """Fit's options, then the writer's."""
        super().add_arguments_to_parser(parser)
        parser.add_argument("--output", type=str, required=True, help="A new folder to write the chunks to")
        parser.add_argument("--chunk_bytes", type=str, default="64MB", help="The largest chunk (LitData's chunk_bytes)")
        parser.add_argument("--workers", type=int, default=1, help="Processes writing chunks")


def optimize(argv: Sequence[str]) -> int:
    """``lit-nn data optimize ARGS``.

    Args:
        argv: The arguments after ``optimize``.

    Returns:
        0.

    Raises:
        ConfigError: Without a datamodule, or with fewer than one worker.
    """
    cli = run_lightning(["fit", *argv], cli_class=DataCLI)
    config = cli.config["fit"]
    data = config.get("data")
    if not isinstance(data, Namespace):
        raise ConfigError("lit-nn data optimize needs a datamodule: give --data NAME or a config with a data section")
    if config.workers < 1:
        raise ConfigError(f"--workers: expected 1 or more processes, got {config.workers}")
    absolute_paths(data.get("init_args"))
    init_args = (data.get("init_args") or Namespace()).as_dict()
    datamodule = load_class(data.class_path)(**init_args)
    from lit_nn.data.chunks import write_chunks

    manifest = write_chunks(datamodule, config.output, {"class_path": data.class_path, "init_args": init_args},
                            size_keys()[:-1], config.chunk_bytes, config.workers)  # fmt: skip
    counts = ", ".join(f"{name} {split['samples']}" for name, split in manifest["splits"].items())
    size = sum(c["bytes"] for split in manifest["splits"].values() for c in split["chunks"])
    print(f"Wrote {counts} samples of {type(datamodule).__name__} ({size / 2**20:.1f} MiB of chunks) to "
          f"{config.output}\nTrain from them: --data streaming --data.path {config.output}")  # fmt: skip
    return 0


def run(argv: Sequence[str]) -> int:
    """``lit-nn data SUBCOMMAND``.

    Args:
        argv: The arguments after ``data``.

    Returns:
        The exit status.

    Raises:
        ConfigError: For a subcommand other than ``optimize``.
    """
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0] != "optimize":
        raise ConfigError(f"lit-nn data {argv[0]}: the data command has one subcommand, optimize")
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(USAGE + "\n")
        run_lightning(["fit", "--help"], cli_class=DataCLI)
        return 0
    return optimize(argv[1:])
