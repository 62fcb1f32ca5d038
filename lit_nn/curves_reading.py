"""Over- or under-fitting, read from a fit's loss curves: the best epoch, the gap, one sentence.

Pure functions of the per-epoch history that :class:`~lit_nn.callbacks.plots.PredictionPlots`
keeps (one mapping per epoch with ``epoch``, ``train/loss_epoch`` and ``val/loss``): no Lightning,
no plotting. ``lit-nn fit`` prints :attr:`CurveReading.sentence` as its closing reading, and
:func:`lit_nn.plotting.curves` draws the same best epoch and over-fitting stretch.

The rules, on relative changes so they hold at any loss scale, checked in this order (epochs are
numbered as Lightning and the checkpoint names number them, from 0):

- no validation loss, or fewer than :data:`MIN_EPOCHS` validated epochs: said so, nothing read;
- validation loss at its best (within :data:`FLAT`) and more than :data:`FLAT` below where it was
  :data:`PATIENCE` epochs before: *still improving*, stopped too early, train longer;
- more than :data:`NEAR_BEST` above its best but falling again like that: *unsettled*;
- more than :data:`NEAR_BEST` above its best for at least :data:`PATIENCE` epochs: *over-fitting*
  when training loss fell (by more than :data:`FLAT`) since the best epoch, *unstable* (try a
  lower learning rate) when it did not;
- more than :data:`NEAR_BEST` above its best for fewer epochs: *rising*, too soon to say;
- near its best then, with training loss still :data:`HIGH_FRACTION` or more of its first epoch's
  and validation loss at most :data:`NEAR_BEST` above it: *under-fitting*, the model barely learnt;
- near its best, otherwise: *a good fit*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

TRAIN_KEY = "train/loss_epoch"
VAL_KEY = "val/loss"

MIN_EPOCHS = 3
"""Validated epochs needed before anything is read."""
PATIENCE = 3
"""Epochs a rise must last to be over-fitting; also how far back a loss's trend is measured."""
NEAR_BEST = 0.05
"""A validation loss up to 5% above its best is still near it (epoch-to-epoch noise)."""
SCALE = 0.01
"""Changes are measured against at least this share of the first validation loss (the problem's loss scale)."""
FLAT = 0.01
"""Within 1% of the best counts as at the best; a change under 1% over :data:`PATIENCE` epochs is
flat, more is falling or rising."""
HIGH_FRACTION = 0.9
"""A training loss still 90% or more of its first epoch's mean has barely fallen: it stays high.

Measured against the first epoch because a loss's scale is unknown here: data that cannot be
learnt much better (noisy labels) reads as under-fitting too, and a fine-tuned model whose first
epoch was already good may fall less than 10% and read so as well."""

Verdict = Literal["over-fitting", "unstable", "still improving", "under-fitting", "good fit", "rising",
                  "unsettled", "too few epochs", "no validation", "empty"]  # fmt: skip


@dataclass(frozen=True)
class CurveReading:
    """What the loss curves say.

    Attributes:
        verdict: The reading in a word or two.
        sentence: The one line to print (empty when there is nothing at all to read).
        best_epoch: Epoch of the lowest validation loss (``None`` without validation).
        best_val_loss: That loss.
        last_epoch: The last epoch of the history.
        gap: Validation minus training loss at the last epoch (``None`` without both).
        overfit_from: The epoch after which validation loss rose while training loss fell (the best
            epoch), when over-fitting.
        overfit_epochs: How many epochs it rose for (0 unless over-fitting).
    """

    verdict: Verdict
    sentence: str
    best_epoch: int | None = None
    best_val_loss: float | None = None
    last_epoch: int | None = None
    gap: float | None = None
    overfit_from: int | None = None
    overfit_epochs: int = 0

    @property
    def read(self) -> bool:
        """Whether the curves were read (enough validated epochs); otherwise the sentence says why not."""
        return self.verdict not in ("too few epochs", "no validation", "empty")


def _series(history: Sequence[Mapping[str, float]], key: str, fresh_only: bool = False) -> list[tuple[int, float]]:
    """``(epoch, value)`` of the epochs that logged ``key`` with a finite value.

    With ``fresh_only``, a value repeated bit for bit from the epoch before is dropped: it is the
    previous validation's, left in the trainer's metrics by an epoch that did not validate
    (``check_val_every_n_epoch``).
    """
    points: list[tuple[int, float]] = []
    previous = None
    for row in history:
        value = row.get(key)
        if value is None or not math.isfinite(value):
            previous = None
            continue
        if not (fresh_only and value == previous):
            points.append((int(row["epoch"]), float(value)))
        previous = value
    return points


def _change(before: float, after: float, floor: float = 1e-12) -> float:
    """Relative change from ``before`` to ``after`` (``-0.1``: fell by 10%), against at least ``floor``.

    A loss near zero (a memorised training set) moves by large ratios and tiny amounts; measured
    against ``floor`` (:data:`SCALE` of the first validation loss) such moves stay small.
    """
    return (after - before) / max(abs(before), floor)


def _percent(change: float) -> str:
    """``-92%``, ``+3.4%`` (a decimal below 10%), ``0%``."""
    percent = change * 100
    if round(percent, 1) == 0:
        return "0%"
    return f"{percent:+.1f}%" if abs(percent) < 10 else f"{percent:+.0f}%"


def _at(points: list[tuple[int, float]], epoch: int) -> float | None:
    """The value at ``epoch``, or the last one before it."""
    before = [value for e, value in points if e <= epoch]
    return before[-1] if before else None


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


@dataclass(frozen=True)
class _Trends:
    """The numbers the rules look at (changes relative, ``-0.1``: fell by 10%)."""

    best_epoch: int
    last_epoch: int
    above_best: float  # the last validation loss against the best
    since: int  # the epoch the trend is measured from
    val_change: float  # validation loss since then
    train_change: float | None  # training loss since then
    train_since_best: float | None
    train_since_first: float | None  # the last training loss against the first epoch's
    val_near_train: bool  # validation loss at most NEAR_BEST above training loss


def _judge(t: _Trends) -> tuple[Verdict, str]:
    """The verdict and its reading, by the rules of the module docstring, in their order."""
    since_best = t.last_epoch - t.best_epoch
    trend = f"since epoch {t.since}"
    if t.above_best <= FLAT and t.val_change < -FLAT:
        if t.train_change is not None and t.train_change < -FLAT:
            both = f"validation {_percent(t.val_change)}, training {_percent(t.train_change)} {trend}"
            return (
                "still improving",
                f"both losses still falling at the last epoch ({both}): stopped too early; train longer",
            )
        return "still improving", (
            f"validation loss still falling at the last epoch ({_percent(t.val_change)} {trend}): stopped too early; "
            "train longer"
        )
    if t.above_best > NEAR_BEST and t.val_change < -FLAT:
        return "unsettled", (
            f"validation loss {t.above_best:.0%} above its best but falling again ({_percent(t.val_change)} {trend}): "
            "unsettled; train longer to see where it settles, or try a lower learning rate"
        )
    if t.above_best > NEAR_BEST:
        rose = f"validation loss rose for {_plural(since_best, 'epoch')} after epoch {t.best_epoch}"
        rose += f" ({_percent(t.above_best)})"
        if since_best < PATIENCE:
            return "rising", f"{rose}: perhaps the start of over-fitting, too soon to say"
        if t.train_since_best is not None and t.train_since_best < -FLAT:
            return "over-fitting", (
                f"{rose} while training loss kept falling ({_percent(t.train_since_best)}): over-fitting; try "
                "dropout, weight decay or fewer epochs"
            )
        return (
            "unstable",
            f"{rose} and training loss did not keep falling: unstable training; try a lower learning rate",
        )
    fallen = t.train_since_first
    if fallen is not None and fallen >= HIGH_FRACTION - 1 and t.val_near_train:  # kept 90% of its first epoch's
        how = "flat" if t.train_change is None or abs(t.train_change) <= FLAT else "falling slowly"
        return "under-fitting", (
            f"training loss high and {how} ({_percent(fallen)} since its first epoch) with validation "
            "loss close to it: under-fitting; try a larger model, a higher learning rate or more epochs"
        )
    return "good fit", f"validation loss flat within {NEAR_BEST:.0%} of its best at the end: a good fit"


def read_curves(history: Sequence[Mapping[str, float]]) -> CurveReading:
    """Read over- or under-fitting from the loss curves.

    Args:
        history: One mapping per epoch with ``epoch`` and the logged ``train/loss_epoch`` and
            ``val/loss`` (either may be missing from a row).

    Returns:
        The reading; its ``sentence`` is empty only when the history holds no loss at all.
    """
    train, val = _series(history, TRAIN_KEY), _series(history, VAL_KEY, fresh_only=True)
    if not train and not val:
        return CurveReading("empty", "")
    last_epoch = max(epoch for epoch, _ in train + val)
    if not val:
        said = "Loss curves: no validation loss was logged, so over- or under-fitting cannot be read."
        return CurveReading("no validation", said, last_epoch=last_epoch)
    best_epoch, best = min(val, key=lambda point: point[1])
    last_val, last_train = val[-1][1], _at(train, last_epoch)
    gap = None if last_train is None else last_val - last_train
    head = f"Loss curves: best epoch {best_epoch} (validation loss {best:.4g}); last epoch {last_epoch}: validation "
    head += f"{last_val:.4g}" + ("" if last_train is None else f", training {last_train:.4g}, gap {gap:+.3g}")
    found = CurveReading("too few epochs", "", best_epoch, best, last_epoch, gap)
    if len(val) < MIN_EPOCHS:
        few = f"{_plural(len(val), 'validated epoch')}: too few to read over- or under-fitting ({MIN_EPOCHS} needed)"
        return replace(found, sentence=f"{head}. {few[0].upper()}{few[1:]}.")
    # The trend is measured from the validation PATIENCE epochs before the last (or the one before
    # the last, when validations are further apart), and training loss from the same epoch.
    since, then = ([point for point in val[:-1] if point[0] <= last_epoch - PATIENCE] or val[:1])[-1]

    floor = SCALE * abs(val[0][1])

    def change(before: float | None, after: float | None) -> float | None:
        return None if before is None or after is None else _change(before, after, floor)

    verdict, reading = _judge(
        _Trends(
            best_epoch=best_epoch,
            last_epoch=last_epoch,
            above_best=_change(best, last_val, floor),
            since=since,
            val_change=_change(then, last_val, floor),
            train_change=change(_at(train, since), last_train),
            train_since_best=change(_at(train, best_epoch), last_train),
            train_since_first=change(train[0][1] if train else None, last_train),
            val_near_train=last_train is not None and _change(last_train, last_val, floor) <= NEAR_BEST,
        )
    )
    over = verdict == "over-fitting"
    return replace(
        found,
        verdict=verdict,
        sentence=f"{head}. {reading[0].upper()}{reading[1:]}.",
        overfit_from=best_epoch if over else None,
        overfit_epochs=last_epoch - best_epoch if over else 0,
    )
