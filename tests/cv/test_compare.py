"""The corrected paired t-test, the mean's interval and the verdict sentence."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from lit_nn.cv.compare import corrected_t_test, mean_interval, paired, verdict


def test_without_the_correction_the_test_is_scipys_paired_t_test():
    network, baseline = [0.91, 0.95, 0.93, 0.97, 0.92], [0.90, 0.92, 0.93, 0.94, 0.90]
    differences = [a - b for a, b in zip(network, baseline, strict=True)]
    assert corrected_t_test(differences, 0.0) == pytest.approx(stats.ttest_rel(network, baseline).pvalue)


def test_the_correction_widens_the_variance_by_the_held_out_share():
    differences = [0.02, 0.01, 0.03, 0.0, 0.02]
    mean, variance = sum(differences) / 5, stats.tvar(differences)
    t = mean / math.sqrt((1 / 5 + 0.25) * variance)
    assert corrected_t_test(differences, 0.25) == pytest.approx(2 * stats.t.sf(t, 4))
    assert corrected_t_test(differences, 0.25) > corrected_t_test(differences, 0.0)
    assert corrected_t_test([0.0, 0.0], 0.25) == 1.0


def test_without_the_correction_the_interval_is_the_t_interval_of_the_mean():
    values = [0.9, 0.95, 0.97, 0.93]
    mean, half = mean_interval(values, 0.0)
    low, high = stats.t.interval(0.95, 3, loc=mean, scale=stats.sem(values))
    assert (mean - half, mean + half) == pytest.approx((low, high))


def test_the_corrected_interval_is_the_corrected_tests_and_leaves_out_0_exactly_when_it_finds_a_difference():
    values = [0.9, 0.95, 0.97, 0.93]
    _, half = mean_interval(values, 0.25)
    assert half == pytest.approx(stats.t.ppf(0.975, 3) * math.sqrt((1 / 4 + 0.25) * stats.tvar(values)))
    for differences in ([0.02, 0.01, 0.03, 0.0, 0.02], [0.02, 0.03, 0.025, 0.02, 0.03]):
        mean, half = mean_interval(differences, 0.25)
        assert (abs(mean) > half) == (corrected_t_test(differences, 0.25) < 0.05)
    assert corrected_t_test([0.02, 0.03, 0.025, 0.02, 0.03], 0.25) < 0.05  # one of each
    assert mean_interval([0.5], 0.25) == (0.5, 0.0)


def test_the_verdict_says_plainly_who_wins_or_that_it_could_be_chance():
    better = [0.95, 0.96, 0.97, 0.96, 0.95]
    worse = [0.80, 0.82, 0.81, 0.80, 0.83]
    assert verdict(paired(better, worse, "logistic regression", "acc", True, 0.25), better, worse) == (
        "The network beats the logistic regression baseline on acc: 0.9580 ± 0.0084 against 0.8120 ± 0.013 over 5 "
        "folds (mean difference +0.15, corrected paired t-test p < 0.001)"
    )
    lower_mse = paired(worse, better, "least squares", "mse", False, 0.25)  # lower is better for mse
    assert verdict(lower_mse, worse, better).startswith("The network beats the least squares baseline on mse")
    assert verdict(paired(worse, better, "logistic regression", "acc", True, 0.25), worse, better).startswith(
        "The logistic regression baseline beats the network on acc"
    )
    close = [0.95, 0.93, 0.96, 0.94, 0.95]
    chance = verdict(paired(better, close, "training mean", "acc", True, 0.25), better, close)
    assert chance.startswith("The network does not clearly beat the training mean baseline on acc")
    assert "(mean difference +0.012, corrected paired t-test p = 0.24)" in chance and "could be chance" in chance


def test_large_metrics_and_small_differences_are_written_out():
    network, baseline = [3130.5, 2649.0, 2616.7, 2828.4, 3089.8], [3169.1, 2599.1, 2585.0, 2844.6, 3103.0]
    sentence = verdict(paired(network, baseline, "least squares", "mse", False, 0.25), network, baseline)
    assert "2863 ± 240 against 2860 ± 270 over 5 folds (mean difference +2.7," in sentence and "e+" not in sentence
