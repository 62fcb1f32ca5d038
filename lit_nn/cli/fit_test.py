"""``lit-nn fit --test true``: the fit, then the ``test`` command on its best checkpoint, in the same process.

The test is the ``test`` command itself, run by :func:`lit_nn.cli.run_lightning` with the fit's own
arguments and the best checkpoint's file (as ``lit-nn cv`` scores its folds), so nothing of it is
written twice: the checkpoint is read through lit_nn's gate and checked, the datamodule is built
with the checkpoint's fitted state, and the metrics file, plots and W&B run are the ``test``
command's. What it saves over ``lit-nn test`` in a second process is that process's start-up
(importing torch and Lightning): docs/performance.md, "Time to accuracy".

The file, rather than ``--ckpt_path best``, because ``best`` means the latest run of the
configuration, which a fit started beside this one may be. The decision is made once, on rank
zero, and shared with every rank (:func:`plan_test`), as a DDP job's rank zero shares its run folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lightning.pytorch import Trainer

from lit_nn.cli.reports import best_checkpoint, missing_test_split
from lit_nn.runs import RUN_DIR_ENV, SESSION_ENV, reserve_session


@dataclass(frozen=True)
class PlannedTest:
    """The test a fit runs next (``--test true``).

    Attributes:
        checkpoint: The fit's best checkpoint file.
        run_dir: The fit's run folder, where the test writes.
        session: The test's ``test-<time>`` name, reserved in that folder.
    """

    checkpoint: str
    run_dir: Path
    session: str

    def arguments(self, fit_argv: list[str]) -> list[str]:
        """The ``test`` command: the fit's arguments, and the best checkpoint.

        Args:
            fit_argv: The fit's arguments, ``fit`` first.

        Returns:
            ``test …`` with ``--ckpt_path FILE`` last, so it wins over a resumed fit's own.
        """
        return ["test", *fit_argv[1:], f"--ckpt_path={self.checkpoint}"]

    def environment(self) -> dict[str, str]:
        """The run folder and session every rank's test uses, as a DDP child inherits its parent's.

        Returns:
            Environment variables to set while the test runs.
        """
        return {RUN_DIR_ENV: str(self.run_dir), SESSION_ENV: self.session}


def plan_test(trainer: Trainer, run_dir: Path) -> PlannedTest | None:
    """After a fit with ``--test true``: what to test, decided on rank zero and shared with every rank.

    Every rank calls it (under DDP it broadcasts). Nothing is planned when the fit saved no
    checkpoint or the data has no test split; the fit's closing line says so
    (:func:`~lit_nn.cli.reports.fit_summary`).

    Args:
        trainer: The trainer after ``fit``.
        run_dir: The fit's run folder.

    Returns:
        The test, or ``None``.
    """
    planned = None
    if trainer.is_global_zero:
        best = best_checkpoint(trainer)
        if best and missing_test_split(trainer) is None:
            planned = PlannedTest(best, run_dir, reserve_session(run_dir, "test"))
    return trainer.strategy.broadcast(planned)
