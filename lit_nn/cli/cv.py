"""``lit-nn cv``: K-fold cross-validation; every fold an ordinary ``lit-nn fit`` run, scored on what it held out.

    lit-nn cv -c breast_cancer --cv.folds 5 [--cv.repeats R] [--cv.groups COLUMN] [--cv.test true] [--workers N]
    lit-nn cv --report runs/breast_cancer/cv/cv

The configuration is parsed by the fit command's own parser with the ``cv:`` section
(:class:`~lit_nn.cv.options.CVOptions`) beside it. The folds come from the datamodule
(:mod:`lit_nn.data.folds`); the study is a sweep whose trials are the folds
(:mod:`lit_nn.cv.study`), so it is carried on, shared between workers and SLURM array tasks, and
runs each fold once as a sweep does. The folds themselves: :mod:`lit_nn.cli.cv_folds`; the
report: :mod:`lit_nn.cv.report`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from jsonargparse import Namespace

from lit_nn import runs
from lit_nn.cli import run_lightning
from lit_nn.cli.cv_folds import Plan, folds_of, load_class, work
from lit_nn.cli.lightning_cli import PlanningCLI
from lit_nn.cli.run_config import absolute_paths, plain_config
from lit_nn.cli.sweep import WORKER_ENV, one_device, worker_processes
from lit_nn.cli.table import format_table
from lit_nn.compat import subcommand_parser
from lit_nn.cv.baseline import baseline_scores
from lit_nn.cv.options import CVOptions, check_options, metric_of
from lit_nn.cv.report import Study, write
from lit_nn.cv.study import CVFolder, folds_record, held_out, open_cv, spec_of, stored_folds
from lit_nn.data.folds import FoldSamples, training_part
from lit_nn.data.redundancy import copies
from lit_nn.errors import ConfigError
from lit_nn.sweeps.study import FINISHED, SweepFolder, load_study

NOT_IN_BASE = ("cv", "workers", "ckpt_path")

USAGE = """usage: lit-nn cv -c CONFIG [--cv.folds K] [--cv.repeats R] [--cv.groups COLUMN] [--cv.test true]
                 [--workers N] [lit-nn fit options]
       lit-nn cv --report STUDY_FOLDER

K-fold cross-validation: the samples outside the datamodule's test split are cut into K folds
(stratified by class; a --cv.groups column's rows, and exact copies, kept in one fold); a model
is trained on the others and scored on each, and a classical baseline (logistic regression or
least squares, and the majority class or training mean) is fitted on the same folds beside it.
Every fold is an ordinary lit-nn fit run in <run.root>/<experiment>/cv/<name>/fold-K/. Run the
same command again to carry on after an interruption; several processes (--workers, a SLURM
array) share it.

  lit-nn cv -c breast_cancer --cv.folds 5
  lit-nn cv -c diabetes --cv.folds 5 --cv.repeats 2 --workers 2
  lit-nn cv --report runs/breast_cancer/cv/cv

`lit-nn cv --help` lists every option (the study's are --cv.*)."""


class CVCLI(PlanningCLI):
    """The fit command's parser with the ``cv`` section and ``--workers``; it parses and builds nothing."""

    def add_arguments_to_parser(self, parser: Any) -> None:  # noqa: ANN401 (a LightningArgumentParser)
        """Fit's options, then the study's."""
        super().add_arguments_to_parser(parser)
        parser.add_class_arguments(CVOptions, "cv")
        parser.add_argument("--workers", type=int, default=1, help="Processes training folds on this machine")

    def choose_checkpoint(self, command: str, config: Any) -> None:  # noqa: ANN401 (a Namespace)
        """Refuse ``--ckpt_path``: every fold trains from the start."""
        if config.get("ckpt_path"):
            raise ConfigError(
                "cross-validation trains every fold from the start: --ckpt_path is not a cv option (an interrupted "
                "study carries on when the same command runs again)"
            )


def _kind(model: Any, samples: FoldSamples) -> str:  # noqa: ANN401 (a Namespace)
    """The task's kind: its class's own, else read from the targets."""
    kind = getattr(load_class(model.class_path), "kind", None) if isinstance(model, Namespace) else None
    if isinstance(kind, str):
        return kind
    if samples.labels is None:
        return "regression"
    return "binary" if len(np.unique(samples.labels)) == 2 else "multiclass"


def parse(argv: Sequence[str], folder: Path | None = None) -> Plan:
    """Parse a cv command, make the folds, and check them against a study already in the folder.

    Nothing is written: every check that can refuse the command runs first.

    Args:
        argv: The arguments after ``cv``.
        folder: The study's folder when it is known (``--report``), else from the configuration.

    Returns:
        The plan.

    Raises:
        ConfigError: On a bad section, ``--ckpt_path``, fewer than one worker, or a datamodule
            that cannot make folds (``DataError`` for folds its data cannot give).
    """
    cli = run_lightning(["fit", *argv], cli_class=CVCLI)
    config = cli.config["fit"]
    options = CVOptions(**config.cv.as_dict())
    check_options(options)
    if not isinstance(config.get("workers"), int) or config.workers < 1:
        raise ConfigError(f"--workers: expected 1 or more processes, got {config.get('workers')!r}")
    one_device(config.trainer)
    absolute_paths((config.get("data") or Namespace()).get("init_args"))
    base = plain_config(subcommand_parser(cli, "fit"), config)
    for key in NOT_IN_BASE:
        base.pop(key, None)
    worker = os.environ.get(WORKER_ENV) == "1"
    samples, held, options.seed = folds_of(config, options.folds, options.repeats, options.groups, options.seed, worker)
    kind = _kind(config.get("model"), samples)
    metric, direction = metric_of(options, kind)
    path = folder or runs.cv_dir(cli.experiment_dir(config), options.name)
    spec = spec_of(options, f"test/{metric}", direction)
    return Plan(options, spec, CVFolder(path, options.folds, options.repeats), base, config.workers, samples, held,
                kind, metric)  # fmt: skip


def report_lines(plan: Plan, study: optuna.Study) -> list[str]:
    """Write the report of a study and say what it shows.

    Args:
        plan: The study's plan.
        study: Its Optuna study.

    Returns:
        The lines to print: the per-fold table, then the findings.
    """
    held = held_out(plan.folder)
    test_share = float(np.mean([len(h) / (len(plan.samples) - len(h)) for h in held]))
    keys = plan.samples.keys
    duplicates = [None if keys is None else copies(keys[training_part(len(keys), h)], keys[h]) for h in held]
    report = write(Study(plan.folder, study.get_trials(deepcopy=False), plan.metric,
                         plan.spec.direction == "maximize", baseline_scores(plan.samples, held, plan.kind),
                         test_share, plan.options.test, duplicates))  # fmt: skip
    headers = report.headers if any(row[-1] for row in report.rows) else report.headers[:-1]
    rows = [row[: len(headers)] for row in report.rows]
    return [format_table(headers, rows), "", *report.lines]


def report_only(argv: Sequence[str]) -> int:
    """``lit-nn cv --report FOLDER``: the tables, baseline and figure of a study, at any time.

    Args:
        argv: The arguments after ``--report``.

    Returns:
        0.

    Raises:
        ConfigError: Without exactly one folder, or for a folder that holds no study.
    """
    if len(argv) != 1:
        raise ConfigError("--report takes one study folder: lit-nn cv --report runs/<experiment>/cv/<name>")
    path = Path(argv[0])
    record = stored_folds(path)
    study, spec = load_study(SweepFolder(path))  # the metric the study was judged by, as it was asked for
    options = [f"--cv.folds={record['folds']}", f"--cv.repeats={record['repeats']}", f"--cv.seed={record['seed']}",
               f"--cv.name={spec.name}", f"--cv.metric={spec.metric.removeprefix('test/')}",
               *([f"--cv.groups={record['groups']}"] if record.get("groups") else [])]  # fmt: skip
    plan = parse(["-c", str(path / "base.yaml"), *options], folder=path)
    plan.options.test = any(path.glob(f"{runs.FOLDS}/{runs.fold_predictions(Path(), 'test')}"))
    plan.spec = spec
    print("\n".join(report_lines(plan, study)))
    return 0


def run(argv: Sequence[str]) -> int:
    """``lit-nn cv ARGS``.

    Args:
        argv: The arguments after ``cv``.

    Returns:
        0 when every fold completed; 1 when one failed or a worker did; 130 on Ctrl-C between folds.
    """
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        if argv:
            print()
            run_lightning(["fit", "--help"], cli_class=CVCLI)
        return 0
    if argv[0] == "--report":
        return report_only(argv[1:])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    plan = parse(argv)
    record = folds_record(plan.samples.ids, plan.held, plan.options, int(plan.options.seed or 0))
    study = open_cv(plan.folder, plan.spec, plan.base, record)
    child = os.environ.get(WORKER_ENV) == "1"
    if not child:
        finished = sum(t.state in FINISHED for t in study.get_trials(deepcopy=False))
        options = plan.options
        print(f"Cross-validation {options.name}: {options.folds} folds x {options.repeats} repeat(s) of "
              f"{len(plan.samples)} samples ({finished} folds finished before), judged by held-out {plan.metric}, "
              f"{plan.workers} worker(s)\nFolder: {plan.folder.path} (each fold's output: logs/fold-K.log)",
              flush=True)  # fmt: skip
    try:
        with worker_processes(["cv", *argv], plan.workers) as children:
            work(plan, study)
    except KeyboardInterrupt:
        return 130
    if child:
        return 0
    lines = report_lines(plan, study)
    print("\n" + "\n".join(lines))
    complete = all(t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
    return 1 if any(c.returncode for c in children) or not complete else 0
