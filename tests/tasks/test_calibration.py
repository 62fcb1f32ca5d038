"""Temperature scaling keeps every label and lowers the ECE; split-conformal sets and intervals hold their coverage."""

from __future__ import annotations

import copy

import pytest
import torch
from scipy.stats import binom
from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

from lit_nn.data.bundled import BreastCancer, Diabetes, Digits
from lit_nn.reliability import binned, top_label
from lit_nn.tasks import BinaryClassificationTask, RegressionTask
from lit_nn.tasks.calibration import (
    CalibrationError,
    calibrate,
    check_applies,
    check_level,
    class_log_odds,
    conformal_quantile,
    conformal_rank,
    needed_samples,
)
from tests.helpers.training import task_for, trainer

EPOCHS = {Digits: 4, BreastCancer: 8, Diabetes: 20}
SPLITS = 50


def _batches(loader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys)


@pytest.fixture(scope="module")
def fitted() -> dict[type, tuple]:
    """One short fit per bundled dataset: the task, and its validation and test samples (never trained on)."""
    found = {}
    for data_class, epochs in EPOCHS.items():
        torch.manual_seed(0)
        data = data_class(batch_size=64)
        task = task_for(data, threshold=0.3) if data_class is BreastCancer else task_for(data)
        trainer(max_epochs=epochs).fit(task, data)
        found[data_class] = (task.eval(), _batches(data.val_dataloader()), _batches(data.test_dataloader()))
    return found


def _over_confident(task) -> None:
    """Multiply the last layer by 4, so every logit is 4 times what training made it: labels kept, confidence not."""
    last = [m for m in task.backbone.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(4.0)
        last.bias.mul_(4.0)


def test_temperature_scaling_keeps_every_label_and_lowers_the_ece_of_an_over_confident_model(fitted):
    trained, (x_val, y_val), (x_test, y_test) = fitted[Digits]
    task = copy.deepcopy(trained)
    _over_confident(task)
    with torch.no_grad():
        before = task.predict_outputs(x_test)
        fitted_on = calibrate(task, task.calibration_outputs(x_val), y_val, temperature=True, level=None)
        after = task.predict_outputs(x_test)
    assert fitted_on.temperature > 1.5 and fitted_on.nll[1] < fitted_on.nll[0]
    assert torch.equal(before["label"], after["label"])  # exactly: the label is the raw logits'
    ece = [float(multiclass_calibration_error(o["probabilities"], y_test, 10, n_bins=15)) for o in (before, after)]
    assert ece[1] < ece[0] - 0.01, ece
    # the reliability diagram bins as the metric does: its ECE is the test's
    assert binned(*top_label(after["probabilities"], y_test))[3] == pytest.approx(ece[1], abs=1e-6)


def test_a_binary_label_at_its_threshold_survives_a_temperature_and_a_separable_split_fits_none(fitted):
    """At threshold 0.3 the calibrated probability crosses at a moved threshold; the label does not move."""
    trained, (x_val, y_val), (x_test, y_test) = fitted[BreastCancer]
    task = copy.deepcopy(trained)
    with torch.no_grad():
        before = task.predict_outputs(x_test)
        task.calibration.set(2.5, None, None, len(y_val))
        after = task.predict_outputs(x_test)
    moved = task.decision_threshold()
    assert moved == pytest.approx(1 / (1 + (0.7 / 0.3) ** (1 / 2.5)))
    assert torch.equal(before["label"], after["label"])
    assert torch.equal(after["label"], (after["probability"] >= moved).long())
    assert float(binary_calibration_error(after["probability"], y_test)) != float(
        binary_calibration_error(before["probability"], y_test)
    )
    logits = torch.tensor([-3.0, -2.0, 2.0, 4.0])  # every sample right: no finite temperature is best
    fitted_on = calibrate(task, logits, torch.tensor([0, 0, 1, 1]), temperature=True, level=None)
    assert fitted_on.temperature is None and "no temperature fitted: all 4 validation samples" in fitted_on.note
    assert float(task.calibration.temperature) == 1.0


@pytest.mark.parametrize("data_class", [Digits, BreastCancer, Diabetes])
def test_conformal_sets_and_intervals_cover_90_percent_of_held_out_samples_over_many_splits(fitted, data_class):
    """Over 50 random divisions of the held-out samples into calibration (90 %) and test (10 %) parts.

    Each division fits the temperature (classifiers) and the conformal quantile on its calibration
    part, as ``lit-nn fit --calibrate temperature --conformal 0.1`` does on the validation split,
    and counts how many test-part samples the model's own sets or intervals cover. The count over
    all divisions lies within the binomial 99 % interval around 0.9 (the calibration part is 9
    times the test part, so the spread its draw adds to the binomial's is about 5 %).
    """
    task, (x_val, y_val), (x_test, y_test) = fitted[data_class]
    x, y = torch.cat([x_val, x_test]), torch.cat([y_val, y_test])
    with torch.no_grad():
        outputs = task.calibration_outputs(x)
    held = len(y) // 10
    covered = total = 0
    for seed in range(SPLITS):
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
        cal, test = order[held:], order[:held]
        with torch.no_grad():
            calibrate(task, outputs[cal], y[cal], temperature=task.temperature_scaled, level=0.1)
            answers = task.predict_outputs(x[test])
        if "prediction_set" in answers:
            hit = answers["prediction_set"].gather(1, y[test].long().reshape(-1, 1))
        else:
            truth = y[test].reshape(answers["prediction"].shape)
            hit = (answers["lower"] <= truth) & (truth <= answers["upper"])
        covered += int(hit.sum())
        total += hit.numel()
    task.calibration.reset()
    low, high = binom.ppf(0.005, total, 0.9), binom.ppf(0.995, total, 0.9)
    assert low <= covered <= high, (covered / total, low / total, high / total)


def test_the_conformal_quantile_is_the_ceil_n_plus_1_order_statistic_and_refuses_too_few_samples():
    scores = torch.arange(1.0, 20.0)  # 19 scores: rank ceil(20 * 0.9) = 18
    assert float(conformal_quantile(scores, 0.1)[0]) == 18.0
    assert conformal_quantile(torch.stack([scores, 10 * scores], dim=1), 0.1).tolist() == [18.0, 180.0]
    assert [needed_samples(a) for a in (0.5, 0.2, 0.1, 0.05, 0.01)] == [1, 4, 9, 19, 99]
    assert conformal_rank(149, 0.18) == 123  # 150 * (1 - 0.18) is 123.00000000000001 in floats
    for level in (0.5, 0.2, 0.1, 0.05, 0.01):  # the smallest n with a finite quantile, and one fewer
        n = needed_samples(level)
        assert conformal_rank(n, level) <= n and conformal_rank(n - 1, level) > n - 1
    conformal_quantile(torch.rand(9), 0.1)
    with pytest.raises(CalibrationError) as error:
        conformal_quantile(torch.rand(8), 0.1)
    assert str(error.value) == (
        "--conformal 0.1 needs at least 9 validation samples for a finite 90 % quantile, and there are 8: give more "
        "validation data (a larger validation share), or a larger level (--conformal 0.12 or more)"
    )
    conformal_quantile(torch.rand(8), 0.12)  # the level suggested works


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, float("nan"), True])
def test_a_level_outside_0_1_is_refused_saying_what_it_means(level):
    with pytest.raises(CalibrationError, match=r"strictly between 0 and 1 \(0.1 asks for sets or intervals"):
        check_level(level)


def test_temperature_on_a_regressor_is_refused_and_conformal_is_offered():
    task = RegressionTask(input_shape=[3])
    with pytest.raises(CalibrationError) as error:
        check_applies(task, temperature=True, level=None)
    assert str(error.value) == (
        "--calibrate temperature rescales a classifier's probabilities, and RegressionTask answers regression "
        "values, not probabilities: leave it out; --conformal 0.1 gives it 90 % intervals"
    )
    check_applies(task, temperature=False, level=0.1)
    check_applies(BinaryClassificationTask(input_shape=[3]), temperature=True, level=0.1)


def test_class_log_odds_are_those_of_the_probabilities_and_stay_apart_where_float32_rounds_p_to_1():
    logits = torch.randn(64, 5, generator=torch.Generator().manual_seed(0)) * 3
    p = logits.double().softmax(dim=1)
    torch.testing.assert_close(class_log_odds(logits).double(), torch.log((1 - p) / p), atol=1e-4, rtol=1e-4)
    confident = torch.tensor([[40.0, 0.0, 1.0], [50.0, 0.0, 1.0]])  # float32 softmax gives p = 1 for both
    assert (1 - confident.softmax(dim=1)[:, 0] == 0).all()
    odds = class_log_odds(confident)[:, 0]
    assert odds[0] > odds[1] and torch.isfinite(odds).all()
    assert class_log_odds(confident).argmin(dim=1).tolist() == [0, 0]


def test_a_checkpoint_from_before_calibration_loads_uncalibrated_and_a_partial_one_is_refused():
    from lit_nn.checkpoint_choice import check_weights
    from lit_nn.errors import ConfigError

    calibrated = BinaryClassificationTask(input_shape=[3])
    calibrate(calibrated, torch.tensor([-2.0, -1.0, 0.5, 1.0, 2.0] * 4), torch.tensor([0, 1, 0, 1, 1] * 4), True, 0.2)
    state = calibrated.state_dict()
    older = {k: v for k, v in state.items() if not k.startswith("calibration.")}
    task = BinaryClassificationTask(input_shape=[3])
    check_weights("old.ckpt", {"state_dict": older}, task)
    task.load_state_dict(state)
    assert task.calibration.conformal and float(task.calibration.temperature) != 1.0
    task.load_state_dict(older)  # strictly: the calibration is optional as a whole, and forgotten
    assert not task.calibration.conformal and task.calibration.record() == {}
    partial = {k: v for k, v in state.items() if k != "calibration.level"}
    with pytest.raises(ConfigError, match=r"missing calibration\.level"):
        check_weights("partial.ckpt", {"state_dict": partial}, task)
