"""The trials of ``lit-nn sweep``: each an ordinary ``lit-nn fit`` run in this process, its result told to Optuna."""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState
from optuna_integration import PyTorchLightningPruningCallback

from lit_nn import runs
from lit_nn.callbacks.fold import UseFold
from lit_nn.cli.cv_folds import fit_fold, score_fold
from lit_nn.cli.messages import one_line
from lit_nn.console import output_to
from lit_nn.data.folds import training_part
from lit_nn.errors import LitNNError
from lit_nn.runs import resume_checkpoint
from lit_nn.sweeps.space import as_options, shown
from lit_nn.sweeps.study import REASON_ATTR, Claimed, delete_if_empty, next_trial
from lit_nn.sweeps.trial import MetricCheck, SweepMetricError, recorded_score
from lit_nn.wandb_runs import finish_stray_run

if TYPE_CHECKING:
    from lit_nn.cli.sweep import Plan


def trial_arguments(plan: Plan, claimed: Claimed, run_dir: Path | None = None) -> list[str]:
    """The ``lit-nn fit`` command of one trial.

    Args:
        plan: The sweep.
        claimed: The trial.
        run_dir: Its run folder when not the trial's own (a fold's, with ``sweep.cv``).

    Returns:
        ``fit -c base.yaml`` with the trial's values, its run folder in the sweep's, its best
        checkpoint chosen by the sweep's metric, and ``--ckpt_path`` to carry on an interrupted one
        (from its ``last.ckpt``, or the ``hpc_ckpt_N.ckpt`` SLURM's preemption saved).
    """
    spec, run_dir = plan.spec, run_dir or claimed.run_dir
    args = [
        "fit",
        "-c",
        str(plan.folder.base_config),
        *as_options(claimed.values),
        f"--run.root={run_dir.parent.parent}",
        f"--run.experiment={run_dir.parent.name}",
        f"--run.name={run_dir.name}",
        f"--checkpoint.monitor={spec.metric}",
        f"--checkpoint.mode={spec.mode}",
        "--checkpoint.save_last=true",
        "--checkpoint.dirpath=null",
        "--test=false",
    ]  # fmt: skip (a trial is judged on validation; the test split is for the one chosen)
    resume = resume_checkpoint(run_dir)
    return [*args, f"--ckpt_path={resume}"] if resume else args


@dataclass
class Outcome:
    """How a trial ended.

    Attributes:
        state: ``COMPLETE``, ``PRUNED`` or ``FAIL``.
        value: The metric's best value (complete trials).
        epochs: Epochs trained.
        reason: Why it failed or where it was pruned.
    """

    state: TrialState
    value: float | None = None
    epochs: int = 0
    reason: str = ""


def run_trial(plan: Plan, claimed: Claimed) -> Outcome:
    """Train one trial in this process, its output in its log file.

    Args:
        plan: The sweep.
        claimed: The trial.

    Returns:
        How it ended: a failure (a value lit-nn refuses, NaN losses, an error of the model) is an
        outcome, not an exception.

    Raises:
        SweepMetricError: When the model does not log the sweep's metric.
        SystemExit: When a signal or Ctrl-C stopped training (the trial stays to be carried on).
        KeyboardInterrupt: Likewise.
    """
    spec = plan.spec
    pruner = PyTorchLightningPruningCallback(claimed.trial, monitor=spec.metric)
    try:
        with output_to(plan.folder.log_file(claimed.trial.number)), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"The reported value is ignored")  # a carried-on trial's epochs
            if spec.cv:
                return Outcome(TrialState.COMPLETE, cv_score(plan, claimed))
            fit_fold(trial_arguments(plan, claimed), [MetricCheck(spec.metric), pruner])
    except optuna.TrialPruned:
        epochs = reported_epochs(claimed)
        return Outcome(TrialState.PRUNED, epochs=epochs, reason=f"behind the median after {epochs} epoch(s)")
    except SweepMetricError:
        raise
    except LitNNError as exc:
        return Outcome(TrialState.FAIL, reason=one_line(str(exc), 400))
    except Exception as exc:  # the model's own error for these values; the sweep goes on
        return Outcome(TrialState.FAIL, reason=one_line(f"{type(exc).__name__}: {exc}", 400))
    finally:
        finish_stray_run()
    value = recorded_score(claimed.run_dir, spec.metric)
    if value is None:
        return Outcome(TrialState.FAIL, epochs=reported_epochs(claimed), reason=f"{spec.metric} was never finite")
    return Outcome(TrialState.COMPLETE, value, reported_epochs(claimed))


def cv_score(plan: Plan, claimed: Claimed) -> float:
    """A trial judged by K-fold cross-validation: each fold trained in ``<trial>/fold-K/``, scored on what it held out.

    Args:
        plan: The sweep (its folds: ``plan.samples``, ``plan.held``).
        claimed: The trial.

    Returns:
        The mean over the folds of the sweep's metric on the held-out fold (``val/acc`` read as ``test/acc``).

    Raises:
        SweepMetricError: When the model does not log the metric.
    """
    assert plan.samples is not None  # a cross-validated sweep's plan has its folds
    spec, options = plan.spec, as_options(claimed.values)
    values = []
    for number, held in enumerate(plan.held):
        run_dir = claimed.run_dir / runs.fold_name(number, spec.cv)
        fold = UseFold(training_part(len(plan.samples), held), held)
        fit_fold(trial_arguments(plan, claimed, run_dir), [MetricCheck(spec.metric), fold])
        metrics = score_fold(plan.folder.base_config, run_dir, [fold], "held-out", options)
        values.append(metrics[spec.metric.split("/", 1)[-1]])
    return sum(values) / len(values)


def reported_epochs(claimed: Claimed) -> int:
    """How many validation epochs a trial reported to Optuna (through the pruning callback).

    Args:
        claimed: The trial.

    Returns:
        The count, the epochs of a carried-on trial's first part included.
    """
    stored = next(t for t in claimed.trial.study.get_trials(deepcopy=False) if t.number == claimed.trial.number)
    return len(stored.intermediate_values)


def values_text(values: dict[str, Any]) -> str:
    """Values for the console: ``model.lr=0.01 data.batch_size=64``.

    Args:
        values: Option to value.

    Returns:
        The line's part.
    """
    return " ".join(f"{key}={shown(value)}" for key, value in values.items())


def work(plan: Plan, study: optuna.Study) -> None:
    """Run trials until the study holds ``n_trials`` finished or taken ones.

    Args:
        plan: The sweep.
        study: Its study.

    Raises:
        SweepMetricError: When the model does not log the metric (the study is removed when no
            trial had finished, so the corrected command starts afresh).
    """
    spec = plan.spec
    while (claimed := next_trial(study, plan.folder, spec)) is not None:
        number = claimed.trial.number
        resume = resume_checkpoint(claimed.run_dir) if claimed.carried_on else None
        how = f"carried on from its {resume.name}" if resume else "started"
        print(f"trial {number} of {spec.n_trials} {how}: {values_text(claimed.values)}", flush=True)
        started = time.monotonic()
        try:
            outcome = run_trial(plan, claimed)
        except SweepMetricError as exc:
            if not delete_if_empty(study, plan.folder, spec):
                claimed.trial.set_user_attr(REASON_ATTR, str(exc))
                study.tell(claimed.trial, state=TrialState.FAIL)
            claimed.release()
            raise
        except BaseException:
            claimed.release()
            print(
                f"trial {number} interrupted; run the same command again to carry it on "
                f"({claimed.run_dir}, output in {plan.folder.log_file(number)})",
                file=sys.stderr,
                flush=True,
            )
            raise
        if outcome.state == TrialState.FAIL:
            claimed.trial.set_user_attr(REASON_ATTR, outcome.reason)
        study.tell(claimed.trial, outcome.value if outcome.state == TrialState.COMPLETE else None, state=outcome.state)
        claimed.release()
        took = f"{time.monotonic() - started:.1f} s"
        if outcome.state == TrialState.COMPLETE:
            best = study.best_trial
            after = f"mean over {spec.cv} held-out folds" if spec.cv else f"after {outcome.epochs} epochs"
            print(f"trial {number} done: {spec.metric} {outcome.value:.4f} {after} in {took} "
                  f"(best so far: trial {best.number}, {best.value:.4f})", flush=True)  # fmt: skip
        else:
            said = "failed" if outcome.state == TrialState.FAIL else "pruned"
            print(f"trial {number} {said}: {outcome.reason} ({took})", flush=True)
