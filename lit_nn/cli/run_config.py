"""The configuration a run records: ``config.yaml`` in the run folder, and the loggers' copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning
import torch
import yaml
from jsonargparse import Namespace
from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningArgumentParser, SaveConfigCallback

from lit_nn import __version__
from lit_nn.registry import default_registry

NOT_RECORDED = ("print_config", "untrained")
"""Options that say what a command does with the config, not what the run is."""


def versions() -> dict[str, Any]:
    """Versions of lit_nn, torch, lightning and every loaded plugin, for the logs.

    Returns:
        ``{"lit_nn": …, "torch": …, "lightning": …, "plugins": {name: "dist version"}}``.
    """
    plugins = {p.name: f"{p.distribution} {p.version}" for p in default_registry().plugins if p.status == "loaded"}
    return {
        "lit_nn": __version__,
        "torch": str(torch.__version__),
        "lightning": lightning.__version__,
        "plugins": plugins,
    }


def plain_config(parser: LightningArgumentParser, config: Namespace) -> dict[str, Any]:
    """The configuration as plain YAML values, in the shape ``lit-nn fit -c`` reads back.

    Args:
        parser: The subcommand's parser.
        config: Its parsed configuration.

    Returns:
        Nested dicts, lists and scalars.
    """
    plain = yaml.safe_load(parser.dump(config, skip_link_targets=False))
    for key in NOT_RECORDED:
        plain.pop(key, None)
    return plain


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
        resolved = plain_config(self.parser, self.config)
        path.write_text(yaml.safe_dump(resolved, sort_keys=False))
        for logger in trainer.loggers:
            logger.log_hyperparams({"lit_nn_config": resolved, "versions": versions(), "run_folder": str(self.run_dir)})
