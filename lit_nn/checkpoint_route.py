"""The one owner of a command's checkpoint, from ``--ckpt_path`` to the weights Lightning loads.

A :class:`CheckpointRoute` is made from the command line, before parsing; it turns ``best`` or
``last`` into a file of a matching run, reads that file once through the gate
(:func:`lit_nn.checkpoints.load_checkpoint`), checks it against the configuration and the model,
gives the model and data sections a checkpoint alone rebuilds, and hands Lightning the same copy
through :meth:`CheckpointRoute.checkpoint_io`. The route is passed explicitly; nothing is cached
between commands.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lit_nn.checkpoint_choice import (
    check_fits,
    check_resumable,
    check_weights,
    find_checkpoint,
    identity,
    nested_class_paths,
    option_value,
    rebuild_sections,
    size_keys,
    trusted_class_paths,
    warn_if_mid_epoch,
)
from lit_nn.checkpoint_io import GatedCheckpointIO
from lit_nn.checkpoints import load_checkpoint
from lit_nn.compat import split_recorded_class_path
from lit_nn.console import notice
from lit_nn.errors import ConfigError
from lit_nn.registry import default_registry

CHOICES = ("best", "last")
"""``--ckpt_path`` values that name a checkpoint of the latest matching run rather than a file."""


def datamodule_names() -> dict[str, str]:
    """Registered datamodules: import path to registry name (``lit_nn.data.bundled.Digits`` -> ``digits``).

    Returns:
        The mapping.
    """
    return {e.target: e.name for e in default_registry().entries("datamodules")}


def unloaded_provider(class_path: str) -> str | None:
    """The installed plugin that provides ``class_path`` but is not loaded, and why, for messages.

    A plugin's classes live in the package its entry point names, so the class path's top-level
    package is matched against the entry points of plugins that are disabled, failed or not loaded.

    Args:
        class_path: An import path a checkpoint records (``lit_nn_extras.data.Moons``).

    Returns:
        For example ``"plugin 'extras' (entry point 'extras = lit_nn_extras' in lit-nn-extras 0.2.0), which is
        not loaded: disabled by LIT_NN_DISABLE_PLUGINS"``, or ``None`` when no such plugin is installed.
    """
    package = class_path.split(".", 1)[0]
    for plugin in default_registry().plugins:
        if plugin.status == "loaded" or not plugin.entry_point:
            continue
        if plugin.entry_point.split(":", 1)[0].split(".", 1)[0] == package:
            return f"{plugin.describe()}, which is not loaded: {plugin.reason or plugin.status}"
    return None


class CheckpointRoute:
    """The checkpoint one command uses: chosen, read once, checked, handed to Lightning.

    Args:
        given: ``--ckpt_path`` as given on the command line (``best``, ``last``, a file or ``None``).
    """

    def __init__(self, given: str | None) -> None:
        self.given = given
        self.path: str | None = None
        self.checkpoint: dict[str, Any] | None = None

    @classmethod
    def from_args(cls, args: list[str]) -> CheckpointRoute:
        """The route of a command line.

        Args:
            args: The command's arguments.

        Returns:
            A route for the last ``--ckpt_path`` given (none when absent).
        """
        return cls(option_value(args, "--ckpt_path"))

    def _read(self, path: str) -> dict[str, Any]:
        """Read ``path`` through the gate, unless this route already holds it."""
        if self.checkpoint is None or not self.holds(path):
            self.checkpoint = load_checkpoint(path)  # refuses pickled code and names corrupt files
        self.path = path
        return self.checkpoint

    def holds(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` is the file this route has read.

        Args:
            path: A checkpoint file.

        Returns:
            ``True`` when it is the same file (whatever the spelling of its path).
        """
        return self.path is not None and Path(path).resolve() == Path(self.path).resolve()

    def defaults(self) -> dict[str, Any]:
        """The model and data a checkpoint file given on the command line records, as parser defaults.

        Read before parsing, so a config or options then override them (``lit-nn test --ckpt_path
        FILE --data.path NEW.csv`` needs nothing else). Sections naming a class lit_nn does not
        trust are left out here (and refused later, if they are needed).

        Returns:
            ``{"model": …, "data": …}`` where recorded; empty for ``best``/``last`` or no checkpoint.
        """
        if self.given in (None, *CHOICES):
            return {}
        return rebuild_sections(self.given, self._read(self.given), trusted_class_paths(datamodule_names()), False)

    def choose(self, command: str, config: Any, experiment_dir: Callable[[], Path]) -> None:  # noqa: ANN401
        """Settle the file (``best``/``last`` become a matching run's), read it, check it fits the configuration.

        Args:
            command: ``fit``, ``test`` …
            config: The command's parsed configuration (its ``ckpt_path`` is set to the file).
            experiment_dir: Gives the experiment's folder, where ``best``/``last`` are looked for.

        Raises:
            ConfigError: When ``best``/``last`` has no configuration to match, or the checkpoint does not fit.
        """
        ckpt = config.get("ckpt_path")
        if not ckpt:
            return
        model, data = config.get("model"), config.get("data")
        wanted = identity(model, data)
        if ckpt in CHOICES:
            if model is None:
                raise ConfigError(
                    f"--ckpt_path {ckpt} picks the {ckpt} checkpoint of the latest run of a configuration: give the "
                    "config (-c …) or --model and --data, or a checkpoint FILE"
                )
            path, run = find_checkpoint(experiment_dir(), ckpt, wanted, datamodule_names())
            config.ckpt_path = str(path)
            notice(f"using the {ckpt} checkpoint of run {run}: {path}")
        checkpoint = self._read(config.ckpt_path)
        if model is not None:
            init = model.get("init_args") or {}
            check_fits(config.ckpt_path, checkpoint, wanted, {key: init.get(key) for key in size_keys()})
        if command == "fit":
            # a resume writes into its own run's checkpoint folder: not full of someone else's files
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
            check_resumable(config.ckpt_path, checkpoint)
            warn_if_mid_epoch(config.ckpt_path, checkpoint)

    def sections(self) -> dict[str, Any]:
        """The model and data sections the checkpoint alone rebuilds, refusing any class lit_nn does not trust.

        Returns:
            ``{"model": …, "data": …}``, each present when recorded.
        """
        assert self.path is not None and self.checkpoint is not None
        return rebuild_sections(
            self.path, self.checkpoint, trusted_class_paths(datamodule_names()), provider=unloaded_provider
        )

    def model_section(self, named_class_path: str | None) -> dict[str, Any] | None:
        """The model as the checkpoint's hyperparameters build it (what Lightning's CLI does with them).

        Args:
            named_class_path: The command's own model class, trusted beside lit_nn's tasks and datamodules.

        Returns:
            ``{"class_path": …, "dict_kwargs": …}`` (or the bare hyperparameters), or ``None`` when the
            route holds no checkpoint or it records none.

        Raises:
            ConfigError: When a hyperparameter names a class lit_nn does not trust (jsonargparse would
                import it).
        """
        if self.checkpoint is None:
            return None
        class_path, hparams = split_recorded_class_path(self.checkpoint.get("hyper_parameters") or {})
        if class_path is None and not hparams:
            return None
        allowed = trusted_class_paths(datamodule_names()) | {named_class_path}
        for nested in nested_class_paths(hparams):
            if nested not in allowed:  # a value naming a class is imported by jsonargparse: not on a file's word
                raise ConfigError(
                    f"checkpoint {self.path} names the class {nested} in its hyperparameters; lit_nn imports no class "
                    "a file names, unless it is a lit_nn task, a registered datamodule or the command's own model"
                )
        return {"class_path": class_path, "dict_kwargs": hparams} if class_path else hparams

    def check_weights(self, model: Any) -> None:  # noqa: ANN401 (a LightningModule)
        """Refuse weights that do not fit the built model, before Lightning loads them.

        Args:
            model: The model built for the command.
        """
        if self.checkpoint is not None:
            check_weights(str(self.path), self.checkpoint, model)

    def datamodule_state(self, class_path: str) -> Mapping[str, Any] | None:
        """The fitted state a datamodule saved in the checkpoint (Lightning keys it by class name).

        Args:
            class_path: The datamodule's import path.

        Returns:
            Its ``state_dict()``, or ``None``.
        """
        state = (self.checkpoint or {}).get(class_path.rsplit(".", 1)[-1])
        return state if isinstance(state, dict) else None

    def weights(self) -> dict[str, Any]:
        """The model's weights.

        Returns:
            The checkpoint's ``state_dict``.
        """
        assert self.checkpoint is not None
        return self.checkpoint["state_dict"]

    def checkpoint_io(self) -> GatedCheckpointIO:
        """Lightning's checkpoint input and output for this command: the gate, holding this route's read.

        Returns:
            A :class:`~lit_nn.checkpoint_io.GatedCheckpointIO` that gives Lightning the copy read here
            when it restores this file, and reads any other file (SLURM's restore) through the gate.
        """
        return GatedCheckpointIO(self)
