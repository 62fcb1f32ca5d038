"""``lit-nn sweep``: a hyperparameter search on Optuna; every trial an ordinary ``lit-nn fit`` run.

    lit-nn sweep -c configs/digits.yaml -c configs/sweeps/digits.yaml [--workers 2] [fit options]
    lit-nn sweep --report runs/digits/sweeps/digits

The configuration is parsed by the fit command's own parser, with the ``sweep:`` section
(:class:`~lit_nn.sweeps.space.SweepOptions`) beside it; what every trial starts from is that
parse's dump (``base.yaml`` in the sweep folder), and a trial's values are given to
``lit-nn fit`` as options, checked by jsonargparse like any command line. Trials run in this
process one after another; ``--workers N`` starts N-1 more processes running the same command,
as a SLURM array does, all sharing the study (:mod:`lit_nn.sweeps.study`). The trials themselves:
:mod:`lit_nn.cli.sweep_trials`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import yaml
from jsonargparse import ArgumentError, Namespace
from lightning.pytorch.utilities.exceptions import SIGTERMException
from optuna.trial import TrialState

from lit_nn import runs
from lit_nn.atomic import write_text
from lit_nn.callbacks.threads import THREADS_ENV, usable_cpus
from lit_nn.cli import run_lightning
from lit_nn.cli.cv_folds import folds_of
from lit_nn.cli.lightning_cli import PlanningCLI
from lit_nn.cli.messages import condense
from lit_nn.cli.run_config import absolute_paths, plain_config
from lit_nn.cli.sweep_trials import values_text, work
from lit_nn.cli.table import format_table
from lit_nn.compat import option_actions, subcommand_choices, subcommand_parser
from lit_nn.data.folds import FoldSamples
from lit_nn.errors import ConfigError
from lit_nn.lifetime import die_with_parent
from lit_nn.sweeps import report
from lit_nn.sweeps.space import SweepOptions, SweepSpec, as_options, decoded, spec_of
from lit_nn.sweeps.study import (
    FINISHED,
    SweepFolder,
    load_study,
    open_study,
)
from lit_nn.wandb_runs import upload_line

WORKER_ENV = "LIT_NN_SWEEP_WORKER"
"""Set in the extra processes ``--workers`` starts: they run trials and leave the report to the first."""
NOT_IN_BASE = ("sweep", "workers", "ckpt_path")

USAGE = """usage: lit-nn sweep -c CONFIG -c SWEEP_CONFIG [--workers N] [--sweep.KEY VALUE ...] [lit-nn fit options]
       lit-nn sweep --report SWEEP_FOLDER

Search hyperparameters with Optuna. The sweep's settings and search space are the `sweep:` section
of a config (configs/sweeps/ ships some), beside the run's own; every trial is an ordinary lit-nn
fit run in the sweep's folder, <run.root>/<experiment>/sweeps/<name>/. Run the same command again
to carry on after an interruption; run it on several machines (a SLURM array) to share the work.

  lit-nn sweep -c digits -c sweeps/digits
  lit-nn sweep -c digits -c sweeps/digits --workers 2 --sweep.n_trials 40
  lit-nn sweep --report runs/digits/sweeps/digits

`lit-nn sweep --help` lists every option (the sweep's are --sweep.*)."""


class SweepCLI(PlanningCLI):
    """The fit command's parser with the ``sweep`` section and ``--workers``; it parses and builds nothing."""

    def add_arguments_to_parser(self, parser: Any) -> None:  # noqa: ANN401 (a LightningArgumentParser)
        """Fit's options, then the sweep's."""
        super().add_arguments_to_parser(parser)
        parser.add_class_arguments(SweepOptions, "sweep")
        parser.add_argument("--workers", type=int, default=1, help="Processes running trials on this machine")

    def parse_arguments(self, parser: Any, args: Any) -> None:  # noqa: ANN401
        """Parse as ``fit`` does; a ``--sweep FILE`` holding a whole ``sweep:`` section is told to use ``-c``.

        Raises:
            ConfigError: As ``fit``'s parse, in one line.
        """
        try:
            super().parse_arguments(parser, args)
        except ConfigError as exc:
            if "'sweep.sweep." not in str(exc):
                raise
            raise ConfigError(
                "--sweep FILE takes the sweep section's own keys (name, parameters, n_trials …); this file starts "
                "with `sweep:`, so give it with -c FILE (as -c sweeps/digits)"
            ) from None

    def choose_checkpoint(self, command: str, config: Any) -> None:  # noqa: ANN401 (a Namespace)
        """Refuse ``--ckpt_path``: every trial trains from the start."""
        if config.get("ckpt_path"):
            raise ConfigError(
                "a sweep trains every trial from the start: --ckpt_path is not a sweep option (an interrupted sweep "
                "carries on when the same command runs again)"
            )


DISTRIBUTED = ("ddp", "fsdp", "deepspeed")


def _device_count(devices: Any) -> int | None:  # noqa: ANN401 (Lightning's int, list or text)
    """How many devices ``trainer.devices`` asks for: -1 for all, ``None`` for ``auto`` or what is not a count."""
    if isinstance(devices, bool) or devices is None:
        return None
    if isinstance(devices, int):
        return devices
    if isinstance(devices, (list, tuple)):
        return len(devices)
    text = str(devices).strip()
    if "," in text:  # "0,1" or "0,": device indices
        return len([index for index in text.split(",") if index.strip()])
    return int(text) if text.lstrip("-").isdigit() else None


def one_device(trainer: Namespace) -> None:
    """Train every trial on one device: ``devices: auto`` becomes 1, several devices are refused.

    A trial runs inside the sweep's process; Lightning's DDP would start the other ranks by
    running the sweep's command again. Several devices serve a sweep as several workers.

    Args:
        trainer: The ``trainer`` section (changed in place).

    Raises:
        ConfigError: For more than one device or a distributed strategy.
    """
    devices, strategy = trainer.get("devices"), trainer.get("strategy")
    name = strategy.get("class_path", "") if isinstance(strategy, Namespace) else str(strategy or "")
    count = _device_count(devices)
    if (count is not None and (count > 1 or count == -1)) or any(word in name.lower() for word in DISTRIBUTED):
        raise ConfigError(
            f"a sweep trains each trial on one device, in its own process (trainer.devices: {devices}, strategy: "
            f"{name or 'auto'}); use the devices for trials side by side instead: --workers N on one machine, or a "
            "SLURM array task per GPU (docs/sweeps.md)"
        )
    if devices in (None, "auto"):
        trainer.devices = 1  # auto takes every GPU of the machine (and DDP with them)


@dataclass
class Plan:
    """A parsed sweep command.

    Attributes:
        spec: The sweep.
        folder: Its folder.
        base: The configuration every trial starts from.
        workers: ``--workers``.
        cli: The parse (its parser checks the search space's keys and writes ``best.yaml``).
        samples: The samples folded (``sweep.cv``), or ``None``.
        held: Every fold's held-out positions (``sweep.cv``).
    """

    spec: SweepSpec
    folder: SweepFolder
    base: dict[str, Any]
    workers: int
    cli: SweepCLI
    samples: FoldSamples | None = None
    held: list[np.ndarray] = field(default_factory=list)


def parse(argv: Sequence[str]) -> Plan:
    """Parse a sweep command and check its search space against the fit command's options.

    Args:
        argv: The arguments after ``sweep``.

    Returns:
        The plan.

    Raises:
        ConfigError: On a bad section, an option that ``lit-nn fit`` does not have, a value it
            refuses, ``--ckpt_path`` or fewer than one worker.
    """
    cli = run_lightning(["fit", *argv], cli_class=SweepCLI)
    config = cli.config["fit"]
    if not isinstance(config.get("workers"), int) or config.workers < 1:
        raise ConfigError(f"--workers: expected 1 or more processes, got {config.get('workers')!r}")
    spec = spec_of(config.sweep, config.checkpoint.monitor, config.checkpoint.mode)
    one_device(config.trainer)
    absolute_paths((config.get("data") or Namespace()).get("init_args"))  # base.yaml works from any folder
    base = plain_config(subcommand_parser(cli, "fit"), config)
    for key in NOT_IN_BASE:
        base.pop(key, None)
    first = {p.key: p.choices[0] if p.kind == "categorical" else p.low for p in spec.parameters}
    try:
        cli.parser.parse_args(["fit", *argv, *as_options(first)])
    except ArgumentError as exc:
        fit = subcommand_choices(cli.parser)["fit"]
        raise ConfigError(f"sweep.parameters: {condense(str(exc), list(option_actions(fit)))}") from None
    folder = SweepFolder(runs.sweep_dir(cli.experiment_dir(config), spec.name))
    if not spec.cv:
        return Plan(spec, folder, base, config.workers, cli)
    samples, held, _ = folds_of(config, spec.cv)
    return Plan(spec, folder, base, config.workers, cli, samples, held)


def best_config(plan: Plan, values: dict[str, Any]) -> dict[str, Any]:
    """The configuration of a trial, as ``lit-nn fit -c`` reads it: the base with the trial's values.

    Parsed by the fit command's parser (the values as options, as the trial got them), with the
    best checkpoint chosen by the sweep's metric, and the run folder left to ``lit-nn fit``.

    Args:
        plan: The sweep.
        values: The trial's values.

    Returns:
        The configuration.
    """
    options = [*as_options(values), f"--checkpoint.monitor={plan.spec.metric}", f"--checkpoint.mode={plan.spec.mode}"]
    config = plan.cli.parser.parse_args(["fit", "-c", str(plan.folder.base_config), *options])["fit"]
    plain = plain_config(subcommand_parser(plan.cli, "fit"), config)
    for key in NOT_IN_BASE:
        plain.pop(key, None)
    return plain


def write_report(plan: Plan, study: optuna.Study) -> list[str]:
    """Write the table, the best configuration and the plots into the sweep folder.

    Args:
        plan: The sweep.
        study: Its study.

    Returns:
        The lines to print.
    """
    spec, folder = plan.spec, plan.folder.path
    judged = f"{spec.metric} ({spec.cv}-fold mean)" if spec.cv else spec.metric
    headers, rows = report.table(study, spec.parameters, judged)
    lines = [format_table(headers, rows), ""]
    report.write_csv(folder / "trials.csv", headers, rows)
    trials = study.get_trials(deepcopy=False)
    counts = {s: sum(t.state == s for t in trials) for s in (*FINISHED, TrialState.RUNNING)}
    lines.append(
        f"{len(trials)} of {spec.n_trials} trials: {counts[TrialState.COMPLETE]} complete, "
        f"{counts[TrialState.PRUNED]} pruned, {counts[TrialState.FAIL]} failed"
        + (f", {counts[TrialState.RUNNING]} running or interrupted" if counts[TrialState.RUNNING] else "")
    )
    best = report.best_trial(study)
    if best is not None:
        values = decoded(best.params, spec.parameters)
        judged = f"mean over {spec.cv} held-out folds" if spec.cv else "best on the validation split"
        header = (f"# lit_nn sweep {spec.name}: trial {best.number}, {spec.metric} {best.value:.6g} ({judged})\n"
                  f"# {values_text(values)}\n# lit-nn fit -c {folder / 'best.yaml'}\n")  # fmt: skip
        write_text(folder / "best.yaml", header + yaml.safe_dump(best_config(plan, values), sort_keys=False))
        lines.append(f"Best: trial {best.number}, {spec.metric} {best.value:.4f}: {values_text(values)}")
        lines.append(f"Its configuration: {folder / 'best.yaml'}  (train it: lit-nn fit -c {folder / 'best.yaml'})")
    written, skipped = report.plots(study, folder)
    if written:
        lines.append(f"Plots: {', '.join(str(p) for p in written)}")
        lines += [f"Not drawn: {why}" for why in skipped]
    else:
        lines.append("No plots: Optuna draws a study once a trial has completed")
    lines.append(f"Table: {folder / 'trials.csv'}")
    trial_runs = f"{runs.TRIALS}/{runs.FOLDS}" if spec.cv else runs.TRIALS  # sweep.cv: a run per fold of a trial
    upload = upload_line(folder, trial_runs, "fold" if spec.cv else "trial")
    return [*lines, upload] if upload else lines


def report_only(argv: Sequence[str]) -> int:
    """``lit-nn sweep --report FOLDER``: the table, best configuration and plots of a sweep, at any time.

    Args:
        argv: The arguments after ``--report``.

    Returns:
        0.

    Raises:
        ConfigError: Without exactly one folder, or for a folder that holds no sweep.
    """
    if len(argv) != 1:
        raise ConfigError("--report takes one sweep folder: lit-nn sweep --report runs/<experiment>/sweeps/<name>")
    folder = SweepFolder(Path(argv[0]))
    study, spec = load_study(folder)
    cli = run_lightning(["fit", "-c", str(folder.base_config)], cli_class=SweepCLI)
    print("\n".join(write_report(Plan(spec, folder, {}, 1, cli), study)))
    return 0


@contextlib.contextmanager
def worker_processes(argv: Sequence[str], count: int) -> Iterator[list[subprocess.Popen]]:
    """Start ``count - 1`` more processes running the same sweep (or cross-validation), and wait for them at the end.

    Each gets an equal share of the CPUs for torch's threads (unless ``LIT_NN_THREADS`` is set),
    and ends with this process: SIGTERM sent to this one, or an error that stops it, is passed on,
    and if this one is killed outright Linux sends them SIGTERM. Ctrl-C reaches them from the
    terminal.

    Args:
        argv: The command and its arguments (``sweep …`` or ``cv …``).
        count: ``--workers``.

    Yields:
        The processes.
    """
    threads = str(max(1, usable_cpus() // count))
    own_threads = os.environ.get(THREADS_ENV)
    env = {**os.environ, WORKER_ENV: "1", THREADS_ENV: own_threads or threads}
    command = [sys.executable, "-m", "lit_nn", *argv, "--workers=1"]
    children = [subprocess.Popen(command, env=env, preexec_fn=die_with_parent) for _ in range(count - 1)]  # noqa: PLW1509
    if count > 1 and own_threads is None:
        os.environ[THREADS_ENV] = threads
    try:
        yield children
    except BaseException as exc:
        # Ctrl-C (KeyboardInterrupt, or Lightning's exit(1) after one) reached them too; anything else
        # (SIGTERM, an error that ends this sweep) is passed on, so none goes on alone
        ctrl_c = isinstance(exc, KeyboardInterrupt) or (isinstance(exc, SystemExit) and exc.code == 1)
        if not ctrl_c or isinstance(exc, SIGTERMException):
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
        raise
    finally:
        for child in children:
            with contextlib.suppress(KeyboardInterrupt):
                child.wait()
        if count > 1 and own_threads is None:
            os.environ.pop(THREADS_ENV, None)


def run(argv: Sequence[str]) -> int:
    """``lit-nn sweep ARGS``.

    Args:
        argv: The arguments after ``sweep``.

    Returns:
        0 when the study holds every trial asked for; 1 when no trial completed or a worker failed;
        130 on Ctrl-C between trials (during one, Lightning's 1).

    Raises:
        ConfigError: On a malformed command or search space, or a folder holding another study.
    """
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        if argv:
            print()
            run_lightning(["fit", "--help"], cli_class=SweepCLI)
        return 0
    if argv[0] == "--report":
        return report_only(argv[1:])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    plan = parse(argv)
    if plan.cli.config["fit"].get("print_config"):  # what every trial starts from, and the sweep; nothing made
        shown_config = {**plan.base, "sweep": plan.spec.study_record() | {"n_trials": plan.spec.n_trials}}
        print(yaml.safe_dump(shown_config, sort_keys=False) + f"# sweep folder: {plan.folder.path}")
        return 0
    study = open_study(plan.folder, plan.spec, plan.base)
    child = os.environ.get(WORKER_ENV) == "1"
    if not child:
        finished = sum(t.state in FINISHED for t in study.get_trials(deepcopy=False))
        spec = plan.spec
        print(f"Sweep {spec.name}: {spec.n_trials} trials ({finished} finished before), {spec.sampler} sampler, "
              f"{spec.direction} {spec.metric}{', pruning' if spec.pruning else ''}, {plan.workers} worker(s)\n"
              f"Folder: {plan.folder.path} (each trial's output: logs/trial-NNNN.log)", flush=True)  # fmt: skip
    try:
        with worker_processes(["sweep", *argv], plan.workers) as children:
            work(plan, study)
    except KeyboardInterrupt:
        return 130
    if child:
        return 0
    print("\n" + "\n".join(write_report(plan, study)))
    return 1 if any(c.returncode for c in children) or report.best_trial(study) is None else 0
