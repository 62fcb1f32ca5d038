"""``lit-nn compare``: one config trained over several values of one setting, in one figure and table.

    lit-nn compare -c deep_mlp --model.activation sigmoid,tanh,relu,leaky_relu

Every value is an ordinary ``lit-nn fit`` run (its own run folder, checkpoints and logs) inside the
comparison's folder ``<runs>/<experiment>/compare-<time>/<value>/``, apart from the experiment's own
runs (so ``--ckpt_path best`` of the configuration never picks one); a value whose run fails is
reported with its one-line reason and the others go on. The figure and a CSV of the final metrics
go to the comparison's folder.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lit_nn import runs
from lit_nn.atomic import write_text
from lit_nn.cli.messages import one_line
from lit_nn.cli.table import format_table
from lit_nn.console import output_to
from lit_nn.errors import ConfigError, LitNNError

USAGE = """usage: lit-nn compare [-c CONFIG ...] --KEY V1,V2[,...] [other lit-nn fit options]

Train one configuration once per value of one setting and draw the runs in one figure: learning
curves overlaid and final metrics side by side, with a table in the console. The setting is the one
option given several comma-separated values, for example:

  lit-nn compare -c deep_mlp --model.activation sigmoid,tanh,relu,leaky_relu
  lit-nn compare -c digits --model.lr 0.001,0.01,0.1 --trainer.max_epochs 5

Every other option is passed to each `lit-nn fit` unchanged."""


@dataclass
class Outcome:
    """One value's run.

    Attributes:
        value: The setting's value.
        run_dir: Its run folder (``None`` when it failed before having one).
        history: Per-epoch losses and validation metrics.
        final: The last epoch's values.
        metric: The validation metric the task shows beside the loss (its ``progress_metric``).
        error: The one-line reason it failed, if it did.
    """

    value: str
    run_dir: Path | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    metric: str = "val/loss"
    error: str | None = None


def split_varied(argv: Sequence[str]) -> tuple[str, list[str], list[str]]:
    """Find the one option given several comma-separated values.

    Args:
        argv: The arguments after ``compare``.

    Returns:
        The option's key (``model.activation``), its values, and the other arguments.

    Raises:
        ConfigError: Unless exactly one option has several values.
    """
    found: list[tuple[int, int, str, list[str]]] = []
    i = 0
    while i < len(argv):
        arg, width = argv[i], 1
        if arg.startswith("--") and len(arg) > 2:
            key, eq, value = arg[2:].partition("=")
            if not eq and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                value, width = argv[i + 1], 2
            plain = value and not value.lstrip().startswith(("[", "{", "("))
            if plain and "," in value:
                found.append((i, width, key, [v.strip() for v in value.split(",") if v.strip()]))
        i += width
    if len(found) != 1:
        given = ", ".join(f"--{key}" for _, _, key, _ in found) or "none"
        raise ConfigError(
            f"compare needs exactly one option with several comma-separated values (given: {given}); for example "
            "lit-nn compare -c deep_mlp --model.activation sigmoid,tanh,relu,leaky_relu"
        )
    start, width, key, values = found[0]
    if len(values) < 2:
        raise ConfigError(f"--{key} needs at least two values to compare, got {values}")
    return key, values, [*argv[:start], *argv[start + width :]]


def plan_folder(key: str, values: Sequence[str], rest: Sequence[str]) -> Path | None:
    """The comparison's folder, from the configuration as ``fit`` parses it (nothing is made).

    Args:
        key: The setting.
        values: Its values (the first that parses settles the experiment).
        rest: The other ``fit`` arguments.

    Returns:
        ``<runs>/<experiment>/compare-<time>``, or ``None`` when no value parses (each then fails alone).
    """
    from lit_nn.cli import run_lightning
    from lit_nn.cli.lightning_cli import PlanningCLI

    for value in values:
        try:
            cli = run_lightning(["fit", *rest, f"--{key}={value}"], cli_class=PlanningCLI)
            return runs.compare_dir(cli.experiment_dir(cli.config["fit"]))
        except LitNNError:
            continue
    return None


def fit_one(value: str, key: str, rest: Sequence[str]) -> Outcome:
    """Train for one value, in this process.

    Args:
        value: The setting's value.
        key: The setting.
        rest: The other ``fit`` arguments.

    Returns:
        What happened, failures included.
    """
    from lit_nn.callbacks.plots import PredictionPlots
    from lit_nn.cli import run_lightning

    outcome = Outcome(value)
    try:
        cli = run_lightning(["fit", *rest, f"--{key}={value}"])
    except LitNNError as exc:
        outcome.error = one_line(str(exc))
        return outcome
    outcome.run_dir = getattr(cli, "run_dir", None)
    plots = [c for c in cli.trainer.callbacks if isinstance(c, PredictionPlots)]
    outcome.history = list(plots[0].history) if plots else []
    metrics = cli.trainer.callback_metrics
    outcome.final = {k: float(v) for k, v in metrics.items() if k.startswith("val/") or k == "train/loss_epoch"}
    shown = getattr(cli.model, "progress_metric", None)  # a model of the user's own may name none
    if shown is not None and f"val/{shown}" in outcome.final:
        outcome.metric = f"val/{shown}"
    return outcome


def fit_quietly(value: str, key: str, rest: Sequence[str], folder: Path | None, name: str, count: str) -> Outcome:
    """Train one value with its output in the comparison's log, saying on the console which and how it went.

    lit_nn's own notes (``lit-nn: …`` lines: a vanishing gradient, a stalled loss) are repeated
    on the console after the run; the progress bar and Lightning's lines stay in the log.

    Args:
        value: The setting's value.
        key: The setting.
        rest: The other ``fit`` arguments.
        folder: The comparison's folder (``None`` when no value parses: the value then fails alone).
        name: The value's run-folder name.
        count: ``[2/4]``.

    Returns:
        What happened.
    """
    print(f"{count} --{key}={value} …", flush=True)
    if folder is None:
        return fit_one(value, key, [*rest, f"--run.name={name}"])
    log = runs.compare_log(folder, name)
    started = time.monotonic()
    with output_to(log):
        outcome = fit_one(value, key, [*rest, f"--run.root={folder.parent}", f"--run.experiment={folder.name}",
                                       f"--run.name={name}"])  # fmt: skip
    notes = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("lit-nn: ")]
    for note in notes:
        print(note, file=sys.stderr, flush=True)
    result = outcome.error or ", ".join(f"{k} {v:.4g}" for k, v in outcome.final.items() if k.startswith("val/"))
    print(f"{count} --{key}={value}: {'failed: ' if outcome.error else ''}{result} "
          f"({time.monotonic() - started:.0f} s; output: {log})", flush=True)  # fmt: skip
    return outcome


def report(key: str, outcomes: Sequence[Outcome], folder: Path, metric: str) -> list[str]:
    """Write the figure and the CSV, and say what each run reached.

    Args:
        key: The setting compared.
        outcomes: One per value.
        folder: Where the figure and the table go.
        metric: The validation metric to draw beside the loss (``val/acc`` …).

    Returns:
        The lines to print: the table, then where the files are.
    """
    from lit_nn import plotting

    columns = sorted({k for o in outcomes for k in o.final})
    rows = [[o.value, str(len(o.history)), *(f"{o.final[c]:.4f}" if c in o.final else "-" for c in columns),
             o.error or str(o.run_dir)] for o in outcomes]  # fmt: skip
    header = [key, "epochs", *columns, "run (or why it failed)"]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    write_text(folder / "compare.csv", buffer.getvalue())
    drawn = [(o.value, o.history) for o in outcomes if o.history]
    lines = [format_table(header, rows)]
    if drawn:
        path = plotting.comparison(key, drawn, metric, folder / "compare.png")
        lines.append(f"\nFigure: {path}")
    lines.append(f"Table: {folder / 'compare.csv'}")
    return lines


def run(argv: Sequence[str]) -> int:
    """``lit-nn compare ARGS``.

    Args:
        argv: The arguments after ``compare``.

    Returns:
        0 when every value trained, 1 when some failed (they are in the table).

    Raises:
        ConfigError: On a malformed command, or when every value failed.
    """
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    key, values, rest = split_varied(argv)
    folder = plan_folder(key, values, rest)
    names = runs.compare_run_names(values)
    made = runs.missing_folders(folder) if folder is not None else []
    outcomes = []
    for number, (value, name) in enumerate(zip(values, names, strict=True), 1):
        outcomes.append(fit_quietly(value, key, rest, folder, name, f"[{number}/{len(values)}]"))
    done = [o for o in outcomes if o.run_dir is not None]
    if not done or folder is None:
        for created in made:  # deepest first: the logs of values that all failed (each failure was said)
            if created == folder:
                shutil.rmtree(created, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    created.rmdir()  # empty parents only
        raise ConfigError(f"every value of --{key} failed; the first: {outcomes[0].error}")
    metric = done[0].metric
    print("\n".join(report(key, outcomes, folder, metric)))
    return 1 if len(done) < len(outcomes) else 0
