"""A study's report from its trials: the lines' numbers, the folds still running, W&B, and what the figure draws."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from lit_nn.cv import figure
from lit_nn.cv.report import METRICS_ATTR, Study, write
from lit_nn.cv.study import FOLD_KEY, CVFolder
from lit_nn.sweeps.study import RUN_DIR_ATTR

NETWORK = [  # diabetes, 5 folds (docs/evaluation.md)
    {"loss": 0.5097, "mae": 44.1588, "mse": 3130.4998, "r2": 0.5482, "rmse": 55.9509},
    {"loss": 0.4149, "mae": 42.7177, "mse": 2648.9587, "r2": 0.4812, "rmse": 51.4680},
    {"loss": 0.4187, "mae": 41.9198, "mse": 2616.7356, "r2": 0.5755, "rmse": 51.1540},
    {"loss": 0.4757, "mae": 44.1549, "mse": 2828.4338, "r2": 0.5505, "rmse": 53.1830},
    {"loss": 0.5225, "mae": 45.1193, "mse": 3089.8445, "r2": 0.4742, "rmse": 55.5864},
]
LEAST_SQUARES = [3169.1143, 2599.1145, 2585.0261, 2844.6451, 3102.9717]
TRAINING_MEAN = [7068.3965, 5257.3811, 6192.6588, 6399.9568, 5895.8496]


def trial(fold, state=TrialState.COMPLETE, folder=None):
    attrs = {METRICS_ATTR: NETWORK[fold], RUN_DIR_ATTR: str(folder / f"fold-{fold + 1}")} if folder else {}
    return optuna.trial.create_trial(
        state=state, value=NETWORK[fold]["mse"] if state == TrialState.COMPLETE else None, params={FOLD_KEY: fold},
        distributions={FOLD_KEY: CategoricalDistribution(tuple(range(5)))}, user_attrs=attrs,
    )  # fmt: skip


def baseline(values):  # scores() keys, in its order
    return [{"mse": v, "rmse": v**0.5, "mae": v**0.5 * 0.8, "r2": 0.5} for v in values]


def study(tmp_path, trials, baselines=("least squares", "training mean")):
    values = {"least squares": baseline(LEAST_SQUARES), "training mean": baseline(TRAINING_MEAN)}
    return Study(CVFolder(tmp_path, 5, 1), trials, "mse", False, {k: values[k] for k in baselines}, test_share=0.25)


@pytest.fixture
def drawn(monkeypatch):
    """The figures the report draws, kept instead of written."""
    figures = []
    monkeypatch.setattr(figure, "save_figure", lambda shown, path: figures.append(shown) or path)
    return figures


def test_the_lines_write_numbers_out_in_the_networks_order_with_the_corrected_interval(tmp_path, drawn):
    report = write(study(tmp_path, [trial(k, folder=tmp_path) for k in range(5)]))
    assert report.rows[0][:8] == ["1", "1", "complete", "0.5097", "44.16", "3130", "0.5482", "55.95"]
    lines = report.lines
    assert lines[0] == "5 of 5 folds complete"
    assert lines[1] == ("Network, held-out folds (mean ± std): loss 0.4683 ± 0.050  mae 43.61 ± 1.3  mse 2863 ± 240  "
                        "r2 0.5259 ± 0.045  rmse 53.47 ± 2.2")  # fmt: skip
    assert lines[2].startswith("Least squares, same folds: mae ") and " mse 2860 ± 270  r2 " in lines[2]
    assert lines[3].startswith("Training mean, same folds: mae ")
    # half-width t(0.975, 4) * sqrt((1/5 + 0.25) * variance) = 447.3, not the plain 298.2
    assert "Estimate: held-out mse 2863 (corrected 95 % interval: 2863 ± 450 over 5 folds)" in lines
    assert lines[-1].startswith("The network beats the training mean baseline on mse: 2863 ± 240 against 6163 ± 660 ")
    assert lines[-1].endswith("(mean difference -3300, corrected paired t-test p < 0.001)")
    assert not any("e+" in line or "e-0" in line for line in lines)
    assert report.summary["estimate"]["half_width"] == pytest.approx(447.26, abs=0.01)


def test_folds_running_elsewhere_are_counted_apart_and_offline_wandb_runs_get_their_upload_command(tmp_path, drawn):
    (tmp_path / "fold-1" / "wandb" / "offline-run-20250101_120000-abc123").mkdir(parents=True)
    trials = [*(trial(k, folder=tmp_path) for k in range(3)), trial(3, TrialState.RUNNING), trial(4, TrialState.FAIL)]
    lines = write(study(tmp_path, trials)).lines
    assert lines[0] == ("3 of 5 folds complete; 1 running in another process or interrupted; 1 failed or not run yet "
                        "(run the same command to carry on)")  # fmt: skip
    upload = f"W&B: each fold's run is offline in its folder; upload them all: wandb sync {tmp_path}/fold-*/wandb/"
    assert lines[-1] == upload + "offline-run-*"
    assert not any(line.startswith("W&B") for line in write(study(tmp_path / "none", trials[:1])).lines)


def test_the_figure_draws_the_classical_baseline_and_names_the_floor_off_its_scale(tmp_path, drawn):
    write(study(tmp_path, [trial(k, folder=tmp_path) for k in range(5)]))
    scores, differences = drawn[0].axes
    assert [label.get_text() for label in scores.get_yticklabels()] == ["least squares", "network"]
    assert scores.get_title().splitlines() == ["held-out mse per fold", "◆ mean, corrected 95 % interval",
                                               "training mean: 6163 (off the scale)"]  # fmt: skip
    assert scores.get_xlim()[1] < 4000  # the network and least squares fill the panel
    assert [label.get_text() for label in differences.get_yticklabels()] == ["network − least squares"]
    assert differences.get_xlabel().endswith("← network better  |  baseline better →")  # mse: lower is better


def test_the_floor_is_drawn_when_it_is_the_only_baseline(tmp_path, drawn):
    write(study(tmp_path, [trial(k, folder=tmp_path) for k in range(5)], baselines=["training mean"]))
    scores, differences = drawn[0].axes
    assert [label.get_text() for label in scores.get_yticklabels()] == ["training mean", "network"]
    assert len(scores.get_title().splitlines()) == 2  # no floor to name
    figure.draw([0.9, 0.95, 0.92], {"majority class": [0.5, 0.5, 0.5]}, "acc", tmp_path / "cv.png", 0.5, True)
    assert drawn[1].axes[1].get_xlabel().endswith("← baseline better  |  network better →")  # acc: higher is better
