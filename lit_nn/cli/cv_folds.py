"""The folds of ``lit-nn cv``: each trained by ``lit-nn fit`` in this process, then scored on what it held out."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from jsonargparse import Namespace
from lightning.pytorch import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException
from optuna.trial import TrialState

from lit_nn import runs
from lit_nn.callbacks.fold import UseFold
from lit_nn.cli import run_lightning
from lit_nn.cli.messages import one_line
from lit_nn.console import notice, output_to
from lit_nn.cv.numbers import significant
from lit_nn.cv.options import CVOptions
from lit_nn.cv.report import METRICS_ATTR, TEST_METRICS_ATTR
from lit_nn.cv.study import FOLD_KEY, CVFolder
from lit_nn.data.folds import FoldSamples, check_foldable, make_folds, training_part
from lit_nn.errors import ConfigError, LitNNError
from lit_nn.sweeps.space import SweepSpec
from lit_nn.sweeps.study import REASON_ATTR, Claimed, delete_if_empty, next_trial
from lit_nn.wandb_runs import finish_stray_run


@dataclass
class Plan:
    """A parsed ``lit-nn cv`` command.

    Attributes:
        options: The ``cv`` section.
        spec: The study's spec.
        folder: Its folder.
        base: The configuration every fold starts from.
        workers: ``--workers``.
        samples: The samples folded.
        held: Every fold's held-out positions.
        kind: The task's kind.
        metric: The metric the study is judged by (``acc``).
    """

    options: CVOptions
    spec: SweepSpec
    folder: CVFolder
    base: dict[str, Any]
    workers: int
    samples: FoldSamples
    held: list[np.ndarray]
    kind: str
    metric: str


def load_class(class_path: str) -> Any:  # noqa: ANN401 (a class)
    """The class a parsed ``class_path`` names.

    Args:
        class_path: ``package.module.Class``.

    Returns:
        The class.
    """
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def folds_of(
    config: Namespace,
    folds: int,
    repeats: int = 1,
    groups: str | None = None,
    seed: int | None = None,
    quiet: bool = False,
) -> tuple[FoldSamples, list[np.ndarray], int]:
    """Build a parsed fit configuration's datamodule and make its folds.

    A groups column that is also one of the datamodule's features (a CSV's every column but the
    target, unless ``--data.features`` lists them) is said in one line: the model learns from it.

    Args:
        config: The fit command's parsed configuration.
        folds: K.
        repeats: Repeats of the partition.
        groups: A column keeping rows together, or ``None``.
        seed: The folds' seed; ``None``: the datamodule's.
        quiet: Say nothing (a worker process, whose parent says it).

    Returns:
        The samples folded, every fold's held-out positions, and the seed used.

    Raises:
        ConfigError: Without a datamodule.
        DataError: For a datamodule that cannot make folds, or folds its data cannot give.
    """
    data = config.get("data")
    if not isinstance(data, Namespace):
        raise ConfigError("cross-validation needs a datamodule: give --data NAME or a config with a data section")
    datamodule = load_class(data.class_path)(**(data.get("init_args") or Namespace()).as_dict())
    check_foldable(datamodule)
    samples = datamodule.fold_samples(groups)
    features = list((getattr(datamodule, "encoding", None) or {}).get("features") or [])
    if groups in features and not quiet:
        kept = ", ".join(f for f in features if f != groups)
        notice(
            f"--cv.groups {groups}: the column {groups!r} is also a feature the model learns from (every column "
            f"but the target is, unless --data.features lists them); to leave it out: --data.features '[{kept}]'"
        )
    seed = int(seed if seed is not None else getattr(datamodule, "seed", 0))
    return samples, make_folds(samples, folds, repeats, seed), seed


def fold_arguments(
    base_config: Path, run_dir: Path, command: str, checkpoint: Path | None = None, options: Sequence[str] = ()
) -> list[str]:
    """A ``lit-nn`` command on one fold's run folder.

    Args:
        base_config: The configuration every fold starts from.
        run_dir: The fold's run folder.
        command: ``fit``, ``test`` or ``predict``.
        checkpoint: ``--ckpt_path``: the checkpoint to evaluate, or to carry an interrupted fit on from.
        options: More options (a sweep trial's values).

    Returns:
        ``COMMAND -c base.yaml`` with the options and the run folder's place (and ``fit``'s ``last.ckpt``).
    """
    args = [command, "-c", str(base_config), *options, f"--run.root={run_dir.parent.parent}",
            f"--run.experiment={run_dir.parent.name}", f"--run.name={run_dir.name}"]  # fmt: skip
    if command == "fit":  # a fold is scored by score_fold (and on the test split with --cv.test), not by --test
        args += ["--checkpoint.save_last=true", "--checkpoint.dirpath=null", "--test=false"]
    return [*args, f"--ckpt_path={checkpoint}"] if checkpoint else args


def fit_fold(args: list[str], callbacks: Sequence[Callback]) -> None:
    """Train a fold (``fit`` with its :class:`UseFold`); a fold whose ``last.ckpt`` finished training is left as it is.

    Args:
        args: The ``fit`` command (:func:`fold_arguments`).
        callbacks: Its callbacks, the fold's among them.

    Raises:
        SystemExit: When a signal or Ctrl-C stopped training, or the fit failed.
    """
    try:
        run_lightning(args, callbacks=callbacks)
    except SystemExit as exc:
        if isinstance(exc, SIGTERMException) or exc.code not in (0, None):
            raise
        # 0: its last.ckpt had finished training (stopped before it was scored)


def score_fold(
    base_config: Path, run_dir: Path, callbacks: Sequence[Callback], split: str, options: Sequence[str] = ()
) -> dict[str, float]:
    """Test a fold's best checkpoint (its last when nothing chose a best) and write its predictions.

    Args:
        base_config: The configuration every fold starts from.
        run_dir: The fold's run folder.
        callbacks: ``[UseFold]`` to score the fold it held out; none for the datamodule's test split.
        split: ``held-out`` or ``test``: the predictions file's name (:func:`runs.fold_predictions`).
        options: More options (a sweep trial's values).

    Returns:
        The test metrics, without their ``test/`` prefix.
    """
    best = runs.run_checkpoints(run_dir, "best")
    checkpoint = best[-1] if best else runs.last_checkpoint(runs.checkpoint_dir(run_dir))
    tested = run_lightning(fold_arguments(base_config, run_dir, "test", checkpoint, options), callbacks=callbacks)
    output = f"--output={runs.fold_predictions(run_dir, split)}"
    run_lightning([*fold_arguments(base_config, run_dir, "predict", checkpoint, options), output], callbacks=callbacks)
    metrics = tested.trainer.callback_metrics
    return {k.removeprefix("test/"): float(v) for k, v in metrics.items() if k.startswith("test/")}


def run_fold(plan: Plan, claimed: Claimed) -> tuple[dict[str, float], dict[str, float]]:
    """Train one fold, then score its best checkpoint on the fold it held out (and the test split, with ``--cv.test``).

    Args:
        plan: The study.
        claimed: The fold's trial.

    Returns:
        The held-out metrics and the test split's (empty without ``--cv.test``), without their ``test/`` prefix.

    Raises:
        SystemExit: When a signal or Ctrl-C stopped training (the fold stays to be carried on).
    """
    number, run_dir, base = int(claimed.values[FOLD_KEY]), claimed.run_dir, plan.folder.base_config
    held = plan.held[number]
    fold = UseFold(training_part(len(plan.samples), held), held)
    fit_fold(fold_arguments(base, run_dir, "fit", runs.resume_checkpoint(run_dir)), [fold])
    held_out = score_fold(base, run_dir, [fold], "held-out")
    return held_out, score_fold(base, run_dir, [], "test") if plan.options.test else {}


def work(plan: Plan, study: optuna.Study) -> None:
    """Run folds until every fold is finished or taken.

    Args:
        plan: The study.
        study: Its Optuna study.
    """
    spec = plan.spec
    while (claimed := next_trial(study, plan.folder, spec)) is not None:
        number = int(claimed.values[FOLD_KEY])
        name = plan.folder.fold_name(number)
        how = "carried on" if runs.resume_checkpoint(claimed.run_dir) else "started"
        print(f"{name} of {spec.n_trials} {how}", flush=True)
        started = time.monotonic()
        reason = ""
        try:
            with output_to(plan.folder.log_file(number)):
                try:
                    held_out, test = run_fold(plan, claimed)
                finally:
                    finish_stray_run()
        except (SystemExit, KeyboardInterrupt):
            claimed.release()
            print(f"{name} interrupted; run the same command again to carry it on ({claimed.run_dir}, output in "
                  f"{plan.folder.log_file(number)})", file=sys.stderr, flush=True)  # fmt: skip
            raise
        except LitNNError as exc:
            reason = one_line(str(exc), 400)
        except Exception as exc:  # the model's own error on this fold; the other folds go on
            reason = one_line(f"{type(exc).__name__}: {exc}", 400)
        took = f"{time.monotonic() - started:.1f} s"
        value = None if reason else held_out.get(plan.metric)
        if value is None and not reason:  # every fold would fail alike: stop, and leave no study to refuse the fix
            if not delete_if_empty(study, plan.folder, spec):
                study.tell(claimed.trial, state=TrialState.FAIL)
            claimed.release()
            raise ConfigError(
                f"--cv.metric {plan.metric}: the model does not log test/{plan.metric} (its test metrics: "
                f"{', '.join(sorted(held_out))}); give one of them"
            )
        if value is None:
            claimed.trial.set_user_attr(REASON_ATTR, reason)
            study.tell(claimed.trial, state=TrialState.FAIL)
            claimed.release()
            print(f"{name} failed: {reason} ({took})", flush=True)
            continue
        claimed.trial.set_user_attr(METRICS_ATTR, held_out)
        if test:
            claimed.trial.set_user_attr(TEST_METRICS_ATTR, test)
        study.tell(claimed.trial, value)
        claimed.release()
        print(f"{name} done: held-out {plan.metric} {significant(value)} in {took}", flush=True)
