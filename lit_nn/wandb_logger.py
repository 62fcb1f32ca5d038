"""Lightning's ``WandbLogger`` for run folders: one W&B run per run folder, continued by every command.

What it changes, and why:

- **Steps continue.** Lightning logs ``trainer/global_step`` beside each metric and leaves W&B's
  own step to count calls, so a resumed run (another offline piece, or the same online run) starts
  again at 0, and W&B drops every row below the step it already holds. Here W&B's step is the
  trainer's, never below ``first_step``: the step after the last one any earlier command of this
  run folder logged (``run.json``), or the step an online run resumes at.
- **Checkpoints as artifacts, offline too.** Lightning's ``log_model`` (best and last checkpoints
  as versions of ``model-<run id>`` with the aliases ``best`` and ``latest``) refuses offline runs,
  whose artifacts ``wandb sync`` uploads like everything else; here it works in both, and is on
  by default (``log_model: false`` switches it off).
- **The configuration once.** Lightning logs the model's hyperparameters flat; lit_nn's run
  configuration (``lit_nn.cli.run_config``) is logged instead, once, nested, as ``lit-nn fit -c``
  reads it back, by the command that starts the W&B run.
- **Quiet.** W&B's own console lines (and its notice that Lightning's ``anonymous`` argument has no
  effect) give way to the one line lit-nn prints at the end (``lit_nn.wandb_runs.finish``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from lit_nn.atomic import write_text
from lit_nn.compat import set_wandb_log_model, wandb_init_arguments, wandb_logger_prefix
from lit_nn.errors import LitNNError

CONFIG_KEY = "lit_nn_config"
"""The key under which :class:`~lit_nn.cli.run_config.RunConfigSaver` hands loggers the run configuration."""


class WandbStartError(LitNNError):
    """W&B could not start (or resume) the run: no network, a rejected key, a folder it cannot write."""


def start_failure(exc: BaseException, save_dir: str | None, offline: bool) -> str:
    """The one line that says why W&B did not start and what to do.

    Args:
        exc: What ``wandb.init`` raised.
        save_dir: The folder W&B writes into (``<run>/wandb``'s parent).
        offline: The run was to be offline.

    Returns:
        The message.
    """
    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    if isinstance(exc, PermissionError) or "ermission denied" in reason or "ead-only" in reason:
        return (
            f"W&B cannot write its files under {save_dir} ({reason}): make that folder writable, or give "
            "--run.root a folder you can write"
        )
    if offline:
        return f"W&B could not start its offline run in {save_dir} ({reason}); or log without it: -c logger/csv"
    return (
        f"W&B could not start the online run ({type(exc).__name__}: {reason}): check the network and your key "
        "(wandb login), or train without the network: WANDB_MODE=offline (upload later with wandb sync) or "
        "-c logger/csv"
    )


class RunWandbLogger(WandbLogger):
    """``WandbLogger`` whose W&B run belongs to a run folder (see the module's notes).

    Args:
        *args: ``WandbLogger`` arguments.
        log_model: Log the best and last checkpoints as a model artifact at the end of ``fit``
            (``"all"``: every checkpoint when it is saved); online and offline.
        first_step: The lowest W&B step this command may log at.
        resumed: The W&B run already has a piece from an earlier command of this run folder.
        git: The user's working folder's ``commit``, ``dirty`` flag, ``root`` and ``remote``, if a checkout.
        **kwargs: ``WandbLogger`` and ``wandb.init`` arguments (``tags``, ``group``, ``job_type`` …).
    """

    def __init__(
        self,
        *args: Any,  # noqa: ANN401
        log_model: bool | Literal["all"] = True,
        first_step: int = 0,
        resumed: bool = False,
        git: Mapping[str, Any] | None = None,
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        kwargs.pop("anonymous", None)  # wandb: "The anonymous setting has no effect"
        self.first_step, self.resumed, self.git = int(first_step), bool(resumed), dict(git or {})
        if "settings" not in kwargs:  # Lightning hands wandb.init the arguments it does not know
            import wandb

            settings: dict[str, Any] = {"resumed": self.resumed} if self.resumed else {}
            if "WANDB_SILENT" not in os.environ:
                settings["silent"] = True
            if self.git.get("commit"):
                settings.update(git_commit=self.git["commit"], git_root=self.git.get("root"))
                if self.git.get("remote"):
                    settings["git_remote_url"] = self.git["remote"]
            kwargs["settings"] = wandb.Settings(**settings)
        super().__init__(*args, log_model=False, **kwargs)  # Lightning refuses log_model offline
        set_wandb_log_model(self, log_model)
        wandb_init_arguments(self).pop("anonymous", None)  # Lightning passes anonymous=None on
        self.last_step: int | None = None
        self._floor: int | None = None
        self._offset: int | None = None

    @property
    def experiment(self) -> Any:  # noqa: ANN401 (a wandb Run)
        """The W&B run, started on first use (Lightning's); a failure to start is one line.

        Raises:
            WandbStartError: Saying why W&B did not start (network, key, folder) and what to do.
        """
        try:
            return WandbLogger.experiment.fget(self)
        except LitNNError:
            raise
        except Exception as exc:  # wandb's CommError, UsageError, OSError …: whatever wandb.init raised
            offline = os.environ.get("WANDB_MODE") in ("offline", "dryrun")  # Lightning sets it for an offline run
            raise WandbStartError(start_failure(exc, self.save_dir, offline)) from exc

    def _step_floor(self) -> int:
        if self._floor is None:
            online = getattr(self.experiment, "starting_step", 0) or 0
            self._floor = max(self.first_step, int(online))
        return self._floor

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log metrics at the trainer's step, shifted up once if it would fall below ``first_step``.

        The shift is fixed at the first call (a test's step 0, a fit resumed from an earlier
        checkpoint than the last one logged), so rows keep their spacing; ``trainer/global_step``
        beside them keeps the trainer's own.

        Args:
            metrics: Name to value.
            step: The trainer's global step, or ``None`` (W&B's current step).
        """
        prefix = wandb_logger_prefix(self)
        if prefix:
            metrics = {f"{prefix}{self.LOGGER_JOIN_CHAR}{k}": v for k, v in metrics.items()}
        if step is None:
            self.experiment.log(dict(metrics), step=max(self._step_floor(), self.last_step or 0))
            return
        if self._offset is None:
            self._offset = max(0, self._step_floor() - int(step))
        logged = max(int(step) + self._offset, self.last_step or 0)
        self.experiment.log({**metrics, "trainer/global_step": step}, step=logged)
        self.last_step = logged

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:  # noqa: ANN401 (a dict or Namespace)
        """Log lit_nn's run configuration once; Lightning's flat hyperparameters are not logged.

        Args:
            params: ``{CONFIG_KEY: config, "versions": …, "run_folder": …}`` from the run's
                config saver, or Lightning's hyperparameters (ignored: the configuration holds them).
        """
        if not isinstance(params, Mapping) or CONFIG_KEY not in params or self.resumed:
            return
        extra = {k: v for k, v in params.items() if k != CONFIG_KEY}
        if self.git:
            extra["git"] = self.git
        self.experiment.config.update({**params[CONFIG_KEY], "lit_nn": extra}, allow_val_change=True)

    def save_step(self) -> None:
        """Record the step the next command of this run folder starts at (``wandb/lit_nn_step.json``)."""
        if self.last_step is None or self.save_dir is None or not rank_zero_only.rank == 0:
            return
        write_text(step_file(self.save_dir), json.dumps({"next_step": self.last_step + 1}) + "\n")

    def finalize(self, status: str) -> None:
        """Lightning's end of a stage: log the checkpoints (``log_model``), then record the next step.

        Args:
            status: ``success``, ``failed`` or ``finished``.
        """
        super().finalize(status)
        self.save_step()


def step_file(save_dir: str | Path) -> Path:
    """Where a run folder's next W&B step is kept.

    Args:
        save_dir: The run folder (the logger's ``save_dir``).

    Returns:
        ``<save_dir>/wandb/lit_nn_step.json``.
    """
    return Path(save_dir) / "wandb" / "lit_nn_step.json"


def continuation(save_dir: str | Path) -> tuple[int, bool]:
    """Where a run folder's W&B run stands: the step to continue at, and whether it has a piece already.

    Args:
        save_dir: The run folder.

    Returns:
        ``(first_step, resumed)``.
    """
    try:
        step = int(json.loads(step_file(save_dir).read_text())["next_step"])
    except (OSError, ValueError, KeyError, TypeError):
        step = 0
    folder = Path(save_dir) / "wandb"
    return step, step > 0 or any(folder.glob("offline-run-*")) or any(folder.glob("run-*"))
