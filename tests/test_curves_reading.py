"""The loss curves read: each verdict on made-up histories, with its numbers in the sentence."""

from __future__ import annotations

import math

import pytest

from lit_nn.curves_reading import MIN_EPOCHS, PATIENCE, read_curves


def history(train, val):
    """One row per epoch from two lists (``None``: not logged that epoch)."""
    rows = []
    for epoch, (t, v) in enumerate(zip(train, val, strict=True)):
        row = {"epoch": float(epoch)}
        row.update({"train/loss_epoch": t} if t is not None else {})
        row.update({"val/loss": v} if v is not None else {})
        rows.append(row)
    return rows


def overfitting(epochs=38, best=23):
    train = [0.9**e for e in range(epochs)]
    val = [0.9 * 0.93 ** min(e, best) * (1 + 0.05 * max(0, e - best)) for e in range(epochs)]
    return history(train, val)


def test_over_fitting_names_the_best_epoch_how_long_it_rose_and_what_to_try():
    reading = read_curves(overfitting())
    assert reading.verdict == "over-fitting" and reading.read
    assert (reading.best_epoch, reading.last_epoch, reading.overfit_from, reading.overfit_epochs) == (23, 37, 23, 14)
    assert reading.gap == pytest.approx(0.9 * 0.93**23 * 1.7 - 0.9**37)
    assert reading.sentence == (
        "Loss curves: best epoch 23 (validation loss 0.1696); last epoch 37: validation 0.2883, training 0.02028, "
        "gap +0.268. Validation loss rose for 14 epochs after epoch 23 (+70%) while training loss kept falling "
        "(-77%): over-fitting; try dropout, weight decay or fewer epochs."
    )


def test_still_falling_at_the_last_epoch_says_train_longer():
    reading = read_curves(history([1.0, 0.8, 0.65, 0.55, 0.48], [1.1, 0.9, 0.75, 0.66, 0.6]))
    assert reading.verdict == "still improving" and reading.best_epoch == 4 and reading.overfit_from is None
    assert reading.sentence.endswith(
        "Both losses still falling at the last epoch (validation -33%, training -40% since epoch 1): "
        "stopped too early; train longer."
    )


def test_validation_alone_still_falling_also_says_train_longer():
    reading = read_curves(history([0.5, 0.4, 0.4, 0.4, 0.4], [1.0, 0.9, 0.8, 0.7, 0.6]))
    assert reading.verdict == "still improving"
    assert "Validation loss still falling at the last epoch (-33% since epoch 1)" in reading.sentence


def test_flat_near_its_best_is_a_good_fit():
    reading = read_curves(history([1, 0.6, 0.4, 0.35, 0.33, 0.32, 0.315, 0.31], [1, 0.6, 0.45, 0.41, 0.40, 0.405,
                                                                                   0.402, 0.404]))  # fmt: skip
    assert reading.verdict == "good fit" and reading.best_epoch == 4 and reading.gap == pytest.approx(0.094)
    assert reading.sentence.endswith("gap +0.094. Validation loss flat within 5% of its best at the end: a good fit.")


def test_high_and_flat_training_loss_is_under_fitting():
    train = [0.70, 0.695, 0.6932, 0.6931, 0.6933, 0.6931]
    val = [0.694, 0.6931, 0.6935, 0.6942, 0.6937, 0.6933]
    reading = read_curves(history(train, val))
    assert reading.verdict == "under-fitting"
    assert reading.sentence.endswith(
        "Training loss high and flat (-1.0% since its first epoch) with validation loss close to it: under-fitting; "
        "try a larger model, a higher learning rate or more epochs."
    )


def test_a_loss_that_fell_a_lot_and_then_flattened_is_not_under_fitting():
    reading = read_curves(history([2.0, 0.7, 0.695, 0.694, 0.694], [0.70, 0.694, 0.693, 0.694, 0.693]))
    assert reading.verdict == "good fit"


def test_validation_rising_with_training_loss_not_falling_is_unstable():
    reading = read_curves(history([1, 0.5, 0.4, 0.45, 0.5, 0.6], [1, 0.5, 0.4, 0.5, 0.6, 0.7]))
    assert reading.verdict == "unstable" and reading.overfit_from is None
    assert "Validation loss rose for 3 epochs after epoch 2 (+75%) and training loss did not keep falling: unstable " \
           "training; try a lower learning rate." in reading.sentence  # fmt: skip


def test_a_rise_shorter_than_the_patience_is_too_soon_to_call():
    reading = read_curves(history([1, 0.5, 0.4, 0.3, 0.25, 0.2], [1, 0.6, 0.5, 0.45, 0.5, 0.55]))
    assert reading.verdict == "rising" and reading.overfit_epochs == 0
    assert "rose for 2 epochs after epoch 3 (+22%): perhaps the start of over-fitting, too soon" in reading.sentence
    assert 2 < PATIENCE


def test_a_validation_loss_falling_back_towards_its_best_is_unsettled():
    reading = read_curves(history([1, 0.5, 0.4, 0.3, 0.25, 0.2], [1, 0.4, 0.9, 0.8, 0.6, 0.5]))
    assert reading.verdict == "unsettled" and reading.overfit_from is None
    assert "Validation loss 25% above its best but falling again (-44% since epoch 2)" in reading.sentence


def test_too_few_epochs_are_said_and_not_read():
    reading = read_curves(history([1.0, 0.5], [1.0, 0.6]))
    assert reading.verdict == "too few epochs" and not reading.read and reading.best_epoch == 1
    assert reading.sentence == (
        "Loss curves: best epoch 1 (validation loss 0.6); last epoch 1: validation 0.6, training 0.5, gap +0.1. "
        f"2 validated epochs: too few to read over- or under-fitting ({MIN_EPOCHS} needed)."
    )


def test_no_validation_loss_is_said_briefly_and_nothing_at_all_is_silent():
    reading = read_curves(history([1.0, 0.5, 0.3, 0.2], [None] * 4))
    assert reading.verdict == "no validation" and reading.best_epoch is None and reading.gap is None
    assert reading.sentence == "Loss curves: no validation loss was logged, so over- or under-fitting cannot be read."
    assert read_curves([]).sentence == "" and read_curves([{"epoch": 0.0}]).verdict == "empty"


def test_stale_validation_values_and_non_finite_ones_are_left_out():
    """Epochs that did not validate repeat the last validation's value in the trainer's metrics."""
    val = [None, 0.65, 0.65, 0.61, 0.61, 0.58, 0.58, 0.55, 0.55]
    train = [0.69, 0.66, 0.64, 0.61, 0.59, 0.57, 0.55, 0.53, 0.51]
    reading = read_curves(history(train, val))
    assert reading.verdict == "still improving"  # four validations, not eight values half of them unchanged
    assert "(validation -5.2%, training -11% since epoch 5)" in reading.sentence
    every_other = read_curves(history([0.69, 0.66, 0.64, 0.61], [None, 0.65, 0.65, 0.61]))
    assert every_other.verdict == "too few epochs" and "2 validated epochs: too few" in every_other.sentence
    broken = read_curves(history([1.0, 0.8, math.nan, 0.5], [1.0, 0.9, math.inf, 0.7]))
    assert broken.best_epoch == 3 and broken.verdict == "still improving"


def test_a_loss_near_zero_moving_by_tiny_amounts_is_measured_against_the_problems_loss_scale():
    val = [0.5, 0.05, 0.001, 6e-6, 5e-5, 1.5e-4, 1.3e-4, 1.2e-4]  # 25x its best, but 0.02% of the first loss
    train = [0.6, 0.1, 0.003, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4]
    reading = read_curves(history(train, val))
    assert reading.verdict == "good fit", reading.sentence
