"""The search space: every form of parameter, its checks, and Optuna's draws (real in-memory studies)."""

from __future__ import annotations

import optuna
import pytest
from jsonargparse import Namespace

from lit_nn.errors import ConfigError
from lit_nn.sweeps.space import (
    Parameter,
    as_options,
    decoded,
    parameter,
    pruner_for,
    sampler_for,
    spec_from_record,
    spec_of,
    suggest,
)


def options(**given):
    defaults = dict(name="s", parameters={"model.lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True}},
                    n_trials=5, sampler="tpe", metric=None, direction=None, pruning=True, warmup_epochs=2, seed=0,
                    storage="journal")  # fmt: skip
    return Namespace(**{**defaults, **given})


def test_every_kind_of_parameter_is_read():
    assert parameter("model.lr", {"type": "float", "low": 1e-4, "high": 0.1, "log": True}) == Parameter(
        "model.lr", "float", low=1e-4, high=0.1, log=True
    )
    assert parameter("trainer.max_epochs", {"type": "int", "low": 2, "high": 8, "step": 2}).grid() == [2, 4, 6, 8]
    listed = parameter("model.backbone_kwargs.channels", [[16, 32], [32, 64]])
    assert listed.kind == "categorical" and listed.encoded and listed.grid() == ["[16, 32]", "[32, 64]"]
    assert not parameter("model.activation", ["relu", "tanh"]).encoded


@pytest.mark.parametrize(
    "key, given, expected",
    [
        ("lr", [0.1], "an option of lit-nn fit without its dashes"),
        ("model.lr", 0.1, "expected a list of choices or a mapping"),
        ("model.lr", {"type": "number", "low": 0, "high": 1}, "type: expected one of categorical, int, float"),
        ("model.lr", {"type": "float", "low": 0.1}, "needs low and high"),
        ("model.lr", {"type": "float", "low": 0.5, "high": 0.1}, "low (0.5) is above high (0.1)"),
        ("model.lr", {"type": "float", "low": 0.0, "high": 0.1, "log": True}, "a log scale needs low above 0"),
        ("model.lr", {"type": "float", "low": 0.1, "high": 1, "choices": [1]}, "unknown: choices"),
        ("trainer.max_epochs", {"type": "int", "low": 1.5, "high": 4}, "expected a whole number"),
        ("model.lr", {"type": "categorical", "choices": []}, "non-empty list"),
        ("model.lr", {"type": "float", "low": "a", "high": 1}, "low: expected a number"),
    ],
)
def test_a_malformed_parameter_is_named_with_what_is_expected(key, given, expected):
    with pytest.raises(ConfigError, match="sweep.parameters") as exc:
        parameter(key, given)
    assert expected in str(exc.value)


def test_metric_and_direction_default_to_what_the_checkpoint_watches():
    spec = spec_of(options(), "val/loss", "min")
    assert (spec.metric, spec.direction, spec.mode) == ("val/loss", "minimize", "min")
    spec = spec_of(options(metric="val/acc", direction="maximize"), "val/loss", "min")
    assert (spec.metric, spec.direction, spec.mode) == ("val/acc", "maximize", "max")


@pytest.mark.parametrize(
    "given, expected",
    [
        ({"parameters": {}}, "nothing to vary"),
        ({"name": "a/b"}, "cannot name a folder"),
        ({"n_trials": 0}, "n_trials: expected a whole number"),
        ({"warmup_epochs": -1}, "warmup_epochs: expected 0 or more"),
        ({"sampler": "grid"}, "a float parameter needs a step for a grid (model.lr)"),
    ],
)
def test_a_malformed_sweep_is_refused(given, expected):
    with pytest.raises(ConfigError) as exc:
        spec_of(options(**given), "val/loss", "min")
    assert expected in str(exc.value)


def test_the_stored_record_gives_the_same_spec_back():
    parameters = {"model.lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
                  "model.backbone_kwargs.channels": [[16], [32, 64]], "data.batch_size": [32, 64]}  # fmt: skip
    spec = spec_of(options(parameters=parameters, n_trials=7), "val/loss", "min")
    assert spec_from_record({**spec.study_record(), "n_trials": 7}) == spec


def draws(spec, number):
    study = optuna.create_study(direction=spec.direction)
    study.sampler = sampler_for(spec, number)
    return suggest(study.ask(), spec.parameters)


def test_a_draw_depends_on_the_seed_and_the_trial_number_only():
    parameters = {"model.lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
                  "model.backbone_kwargs.channels": [[16], [32, 64]], "trainer.max_epochs": {"type": "int",
                  "low": 1, "high": 9}}  # fmt: skip
    for sampler in ("tpe", "random"):
        spec = spec_of(options(parameters=parameters, sampler=sampler), "val/loss", "min")
        first = draws(spec, 3)
        assert draws(spec, 3) == first  # another process, or a restart, draws trial 3 the same
        assert draws(spec, 4) != first
        assert 1e-3 <= first["model.lr"] <= 0.1 and 1 <= first["trainer.max_epochs"] <= 9
        assert first["model.backbone_kwargs.channels"] in ([16], [32, 64])  # a list again, not its JSON text
        other_seed = spec_of(options(parameters=parameters, sampler=sampler, seed=1), "val/loss", "min")
        assert draws(other_seed, 3) != first


def test_the_grid_sampler_visits_every_point_once():
    parameters = {"model.activation": ["relu", "tanh"], "trainer.max_epochs": {"type": "int", "low": 1, "high": 3}}
    spec = spec_of(options(parameters=parameters, sampler="grid"), "val/loss", "min")
    assert spec.grid_size() == 6
    study = optuna.create_study()
    seen = []
    for number in range(6):
        study.sampler = sampler_for(spec, number)
        trial = study.ask()
        seen.append(tuple(suggest(trial, spec.parameters).values()))
        study.tell(trial, 0.0)  # the grid being used up does not stop the study (Study.stop outside optimize)
    assert sorted(seen) == sorted((a, e) for a in ("relu", "tanh") for e in (1, 2, 3))


def test_values_become_fit_options_and_stored_values_decode():
    values = {"model.lr": 0.01, "model.activation": "relu", "model.backbone_kwargs.channels": [16, 32]}
    assert as_options(values) == ["--model.lr=0.01", "--model.activation=relu",
                                  "--model.backbone_kwargs.channels=[16, 32]"]  # fmt: skip
    space = [Parameter("model.backbone_kwargs.channels", "categorical", choices=([16, 32], [8]))]
    assert decoded({"model.backbone_kwargs.channels": "[16, 32]", "model.lr": 0.01}, space) == {
        "model.backbone_kwargs.channels": [16, 32], "model.lr": 0.01}  # fmt: skip


def test_pruning_is_the_median_rule_after_the_warm_up_or_nothing():
    spec = spec_of(options(warmup_epochs=3), "val/loss", "min")
    assert isinstance(pruner_for(spec), optuna.pruners.MedianPruner)
    assert pruner_for(spec)._n_warmup_steps == 3
    assert isinstance(pruner_for(spec_of(options(pruning=False), "val/loss", "min")), optuna.pruners.NopPruner)
