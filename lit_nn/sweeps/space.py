"""A sweep's search space and settings, read from the ``sweep:`` section of a config, and drawn by Optuna.

::

    sweep:
      name: digits
      n_trials: 20
      sampler: tpe                  # tpe, random or grid
      metric: val/acc               # default: checkpoint.monitor, the metric the run already watches
      direction: maximize           # default: from checkpoint.mode
      parameters:
        model.lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
        model.dropout: {type: float, low: 0.0, high: 0.5}
        trainer.max_epochs: {type: int, low: 4, high: 12, step: 4}
        model.backbone_kwargs.channels: [[16, 32], [32, 64, 128]]    # a list: the choices

A key is any option of ``lit-nn fit`` (``--model.lr`` without the dashes); a value is passed as
that option, so jsonargparse checks it as it checks the command line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

import numpy as np
import optuna

from lit_nn.errors import ConfigError

DIRECTIONS = {"min": "minimize", "max": "maximize"}
SCALAR = (str, int, float, bool, type(None))
"""What Optuna stores as a categorical choice; other choices (lists, mappings) are stored as JSON text."""
KINDS = ("categorical", "int", "float")
SECTIONS = ("model", "data", "trainer", "checkpoint", "optimizer", "lr_scheduler", "seed_everything")
"""Where a swept option may sit: the parts of a fit's configuration that change what it trains."""


@dataclass
class SweepOptions:
    """The ``sweep:`` section of a config (``--sweep.NAME`` on the command line, or ``--sweep FILE``).

    Attributes:
        name: The sweep's folder under ``<run.root>/<experiment>/sweeps/``; running the same command
            again carries on with the study in it.
        parameters: Option of ``lit-nn fit`` to its range: ``{type: float, low, high, log}``,
            ``{type: int, low, high, step}``, ``{type: categorical, choices: [...]}``, or a list of
            choices.
        n_trials: How many trials the study holds when done (finished, pruned and failed ones; an
            interrupted one is carried on, not counted twice).
        sampler: ``tpe`` (Optuna's default), ``random`` or ``grid`` (every combination, at most ``n_trials``).
        metric: The validation metric to optimise; default: ``checkpoint.monitor``.
        direction: ``minimize`` or ``maximize``; default: from ``checkpoint.mode``.
        pruning: Stop trials that fall behind the median of earlier ones at the same epoch
            (Optuna's MedianPruner through optuna-integration's Lightning callback).
        warmup_epochs: Epochs every trial trains before it may be pruned.
        seed: The sampler's seed; a trial's draw depends on it and on the trial's number only.
        storage: ``journal`` (Optuna's journal file: works on a shared file system) or ``sqlite``.
        cv: K > 1 judges each trial by K-fold cross-validation: its value is the mean over its
            folds of the metric on the fold each model held out (``lit-nn cv``'s folds), not one
            validation split's; the trials are then not pruned. 0: one run per trial.
    """

    name: str = "sweep"
    parameters: dict[str, Any] = field(default_factory=dict)
    n_trials: int = 20
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    metric: str | None = None
    direction: Literal["minimize", "maximize"] | None = None
    pruning: bool = True
    warmup_epochs: int = 2
    seed: int = 0
    storage: Literal["journal", "sqlite"] = "journal"
    cv: int = 0


@dataclass(frozen=True)
class Parameter:
    """One dimension of the search space.

    Attributes:
        key: The ``lit-nn fit`` option, without dashes (``model.lr``).
        kind: ``categorical``, ``int`` or ``float``.
        choices: A categorical's values.
        low: A number's lowest value.
        high: A number's highest value.
        log: Draw a number on a log scale.
        step: A number's spacing (needed by the grid sampler for floats).
    """

    key: str
    kind: str
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    @property
    def encoded(self) -> bool:
        """Whether the choices are stored in Optuna as JSON text (lists, mappings)."""
        return self.kind == "categorical" and not all(isinstance(c, SCALAR) for c in self.choices)

    def grid(self) -> list[Any]:
        """Every value the grid sampler tries, as Optuna stores them.

        Returns:
            The choices, or the numbers from ``low`` to ``high`` by ``step``.
        """
        if self.kind == "categorical":
            return [json.dumps(c) for c in self.choices] if self.encoded else list(self.choices)
        step = self.step or 1
        low, high = cast(float, self.low), cast(float, self.high)  # numeric parameters have both (checked)
        count = int(math.floor((high - low) / step + 1e-9)) + 1
        values = [low + i * step for i in range(count)]
        return [int(round(v)) for v in values] if self.kind == "int" else [float(v) for v in values]


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep: what it varies, how it draws, what it optimises.

    Attributes:
        name: See :class:`SweepOptions`.
        parameters: The search space, in the order given.
        n_trials: See :class:`SweepOptions`.
        sampler: See :class:`SweepOptions`.
        metric: The metric optimised.
        direction: ``minimize`` or ``maximize``.
        pruning: See :class:`SweepOptions`.
        warmup_epochs: See :class:`SweepOptions`.
        seed: See :class:`SweepOptions`.
        storage: See :class:`SweepOptions`.
        cv: See :class:`SweepOptions`.
    """

    name: str
    parameters: tuple[Parameter, ...]
    n_trials: int
    sampler: str
    metric: str
    direction: str
    pruning: bool
    warmup_epochs: int
    seed: int
    storage: str
    cv: int = 0

    @property
    def mode(self) -> str:
        """``min`` or ``max``, as Lightning's ModelCheckpoint says the direction."""
        return "min" if self.direction == "minimize" else "max"

    def study_record(self) -> dict[str, Any]:
        """What the study is, as stored beside it: everything but the trial count, which may grow.

        Returns:
            Plain values, comparable with ``==`` to a record read back from JSON.
        """
        record = asdict(self)
        record.pop("n_trials")
        record["parameters"] = [{k: v for k, v in asdict(p).items()} for p in self.parameters]
        return json.loads(json.dumps(record))

    def grid_size(self) -> int:
        """How many combinations the grid sampler has.

        Returns:
            The product of every parameter's grid length.
        """
        return math.prod(len(p.grid()) for p in self.parameters)


def spec_from_record(record: Mapping[str, Any]) -> SweepSpec:
    """The spec a sweep folder's ``sweep.json`` records.

    Args:
        record: :meth:`SweepSpec.study_record` with the ``n_trials`` last asked for.

    Returns:
        The spec.
    """
    parameters = tuple(Parameter(**{**p, "choices": tuple(p["choices"])}) for p in record["parameters"])
    return SweepSpec(**{**record, "parameters": parameters})


def _number(key: str, name: str, value: Any, integer: bool) -> float | None:  # noqa: ANN401
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"sweep.parameters.{key}.{name}: expected a number, got {value!r}")
    if integer and value != int(value):
        raise ConfigError(f"sweep.parameters.{key}.{name}: expected a whole number for an int parameter, got {value!r}")
    return value


def parameter(key: str, given: Any) -> Parameter:  # noqa: ANN401
    """Check one entry of ``sweep.parameters``.

    Args:
        key: The option (``model.lr``).
        given: Its range: a mapping with ``type`` and the type's fields, or a list of choices.

    Returns:
        The parameter.

    Raises:
        ConfigError: Naming the entry, what is wrong and the form expected.
    """
    where = f"sweep.parameters.{key}"
    if not key or key.startswith("-") or key.split(".")[0] not in SECTIONS:
        raise ConfigError(
            f"{where}: a parameter is an option of lit-nn fit without its dashes, under model., data. or trainer. "
            "(for example model.lr or trainer.max_epochs)"
        )
    if isinstance(given, list):
        given = {"type": "categorical", "choices": given}
    if not isinstance(given, Mapping):
        raise ConfigError(
            f"{where}: expected a list of choices or a mapping such as {{type: float, low: 0.0001, high: 0.1, "
            f"log: true}}, got {given!r}"
        )
    kind = given.get("type")
    if kind not in KINDS:
        raise ConfigError(f"{where}.type: expected one of {', '.join(KINDS)}, got {kind!r}")
    allowed = {"type", "choices"} if kind == "categorical" else {"type", "low", "high", "log", "step"}
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ConfigError(f"{where}: {kind} takes {', '.join(sorted(allowed))}; unknown: {', '.join(unknown)}")
    if kind == "categorical":
        choices = given.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}.choices: expected a non-empty list of values, got {choices!r}")
        return Parameter(key, kind, choices=tuple(choices))
    integer = kind == "int"
    low, high = (_number(key, name, given.get(name), integer) for name in ("low", "high"))
    step = _number(key, "step", given.get("step"), integer)
    log = given.get("log", False)
    if low is None or high is None:
        raise ConfigError(f"{where}: an {kind} parameter needs low and high (e.g. {{type: {kind}, low: 1, high: 8}})")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}.log: expected true or false, got {log!r}")
    if low > high:
        raise ConfigError(f"{where}: low ({low}) is above high ({high})")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low above 0, got {low}")
    if step is not None and (step <= 0 or log):
        raise ConfigError(f"{where}.step: expected a positive step on a linear scale (no step with log: true)")
    if integer:
        return Parameter(key, kind, low=int(low), high=int(high), log=log, step=int(step) if step else None)
    return Parameter(key, kind, low=float(low), high=float(high), log=log, step=float(step) if step else None)


def spec_of(options: Any, monitor: str | None, mode: str | None) -> SweepSpec:  # noqa: ANN401 (a Namespace)
    """Check the ``sweep:`` section.

    Args:
        options: The parsed section (a namespace with :class:`SweepOptions`' fields).
        monitor: ``checkpoint.monitor``: the metric when the section names none.
        mode: ``checkpoint.mode``: the direction when the section gives none.

    Returns:
        The spec.

    Raises:
        ConfigError: On an empty or malformed search space, a bad name or count, or a grid that
            cannot be built.
    """
    given = options.get("parameters") or {}
    if not isinstance(given, Mapping) or not given:
        raise ConfigError(
            "the sweep has nothing to vary: give sweep.parameters (for example -c configs/sweeps/digits.yaml, or "
            "--sweep.parameters '{model.lr: {type: float, low: 0.0001, high: 0.1, log: true}}')"
        )
    name = str(options.get("name") or "")
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise ConfigError(f"sweep.name: {name!r} cannot name a folder; give a plain name such as digits-lr")
    n_trials = options.get("n_trials")
    if not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"sweep.n_trials: expected a whole number, 1 or more, got {n_trials!r}")
    if options.get("warmup_epochs", 0) < 0:
        raise ConfigError(f"sweep.warmup_epochs: expected 0 or more, got {options.get('warmup_epochs')}")
    cv = options.get("cv") or 0
    if not isinstance(cv, int) or cv == 1 or cv < 0:
        raise ConfigError(f"sweep.cv: expected 0 (one run per trial) or 2 or more folds, got {cv!r}")
    metric = options.get("metric") or monitor or "val/loss"
    direction = options.get("direction") or DIRECTIONS.get(mode or "", "minimize")
    parameters = tuple(parameter(str(key), value) for key, value in given.items())
    warmup, seed = int(options.get("warmup_epochs") or 0), int(options.get("seed") or 0)
    pruning = bool(options.get("pruning")) and not cv  # a trial of several folds is judged at its end
    spec = SweepSpec(name, parameters, n_trials, options.get("sampler") or "tpe", metric, direction,
                     pruning, warmup, seed, options.get("storage") or "journal", cv)  # fmt: skip
    if spec.sampler == "grid":
        floats = [p.key for p in parameters if p.kind == "float" and p.step is None]
        if floats:
            raise ConfigError(f"sweep.sampler grid: a float parameter needs a step for a grid ({', '.join(floats)})")
    return spec


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, without its stop when the grid is used up.

    It calls ``Study.stop()`` then, which only ``Study.optimize`` may; a sweep asks for trials
    itself (``ask``/``tell``, shared by several processes) and stops at the grid's size.
    """

    def after_trial(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """Nothing: the sweep counts its trials."""


def sampler_for(spec: SweepSpec, number: int) -> optuna.samplers.BaseSampler:
    """The sampler that draws trial ``number``, seeded by the sweep's seed and the number alone.

    Every trial gets a sampler of its own, so a draw is the same whichever worker makes it and
    however often the sweep was restarted (a sampler kept across trials would draw trial 0's
    random values again in a restarted or second worker). The grid sampler takes the sweep's seed
    alone: it picks the next point among those no trial has taken.

    Args:
        spec: The sweep.
        number: The trial's number in the study.

    Returns:
        A TPE (with the constant liar, for parallel workers), random or grid sampler.
    """
    seed = int(np.random.SeedSequence([spec.seed, number]).generate_state(1)[0])
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "grid":
        # the grid's order is shuffled by the seed, and a grid id names a point of that order: one seed for all trials
        return _GridSampler({p.key: p.grid() for p in spec.parameters}, seed=spec.seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def pruner_for(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """The pruner: the median rule after the warm-up epochs, or none.

    Args:
        spec: The sweep.

    Returns:
        Optuna's MedianPruner or NopPruner.
    """
    if not spec.pruning:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=spec.warmup_epochs)


def suggest(trial: optuna.Trial, parameters: Sequence[Parameter]) -> dict[str, Any]:
    """Draw (or, for a trial being carried on, read back) every parameter's value.

    Args:
        trial: The Optuna trial.
        parameters: The search space.

    Returns:
        Option to value, decoded (a list choice is a list again).
    """
    values: dict[str, Any] = {}
    for p in parameters:
        if p.kind == "categorical":
            drawn = trial.suggest_categorical(p.key, p.grid())
            values[p.key] = json.loads(drawn) if p.encoded else drawn
        elif p.kind == "int":
            low, high = int(cast(float, p.low)), int(cast(float, p.high))
            values[p.key] = trial.suggest_int(p.key, low, high, step=int(p.step or 1), log=p.log)
        else:
            values[p.key] = trial.suggest_float(p.key, p.low, p.high, step=p.step, log=p.log)
    return values


def decoded(params: Mapping[str, Any], parameters: Sequence[Parameter]) -> dict[str, Any]:
    """A finished trial's stored values, decoded as :func:`suggest` returns them.

    Args:
        params: ``FrozenTrial.params``.
        parameters: The search space.

    Returns:
        Option to value.
    """
    encoded = {p.key for p in parameters if p.encoded}
    return {k: json.loads(v) if k in encoded else v for k, v in params.items()}


def as_options(values: Mapping[str, Any]) -> list[str]:
    """Values as ``lit-nn fit`` options, which jsonargparse parses as it parses a command line.

    Args:
        values: Option to value.

    Returns:
        ``["--model.lr=0.001", "--model.backbone_kwargs.channels=[16, 32]", …]``.
    """
    return [f"--{key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in values.items()]


def shown(value: Any) -> str:  # noqa: ANN401
    """A value for the console and the table: numbers to 4 significant digits.

    Args:
        value: A parameter's value.

    Returns:
        Its text.
    """
    if isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else json.dumps(value)
