"""Is the network better than the baseline? Per-fold differences and the corrected paired t-test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from lit_nn.cv.numbers import p_text, significant


@dataclass(frozen=True)
class Paired:
    """The network against one baseline on the same folds.

    Attributes:
        baseline: The baseline's name.
        metric: The metric compared.
        differences: Network minus baseline, per fold.
        mean: Their mean.
        p_value: Two-sided p-value of the corrected resampled t-test.
        better: The network is significantly better (``True``), worse (``False``), or neither (``None``).
    """

    baseline: str
    metric: str
    differences: tuple[float, ...]
    mean: float
    p_value: float
    better: bool | None


def corrected_t_test(differences: Sequence[float], test_share: float) -> float:
    """Two-sided p-value that the mean of per-fold differences is zero, corrected for overlapping training sets.

    The folds' training sets overlap, so their scores are not independent and the plain paired
    t-test is too confident; Nadeau and Bengio (2003) widen its variance by ``1/J + n_test/n_train``
    in place of ``1/J`` (Bouckaert and Frank 2004 recommend it for repeated cross-validation).

    Args:
        differences: One difference per fold (J of them).
        test_share: Held-out samples over training samples of a fold (``1/(K-1)`` for K folds).

    Returns:
        The p-value (1 when every difference is 0).
    """
    values = np.asarray(differences, dtype=np.float64)
    count = len(values)
    variance = values.var(ddof=1) if count > 1 else 0.0
    if variance == 0.0:
        return 1.0 if values.mean() == 0.0 else 0.0
    t = values.mean() / math.sqrt((1.0 / count + test_share) * variance)
    return float(2.0 * stats.t.sf(abs(t), df=count - 1))


def paired(
    network: Sequence[float],
    baseline: Sequence[float],
    name: str,
    metric: str,
    higher_is_better: bool,
    test_share: float,
) -> Paired:
    """Compare the network with a baseline fold by fold.

    Args:
        network: The network's metric per fold.
        baseline: The baseline's, on the same folds.
        name: The baseline's name.
        metric: The metric.
        higher_is_better: Whether larger values are better.
        test_share: Held-out over training samples per fold.

    Returns:
        The comparison; significant at the 5 % level.
    """
    differences = tuple(float(a - b) for a, b in zip(network, baseline, strict=True))
    mean = float(np.mean(differences))
    p_value = corrected_t_test(differences, test_share)
    better = None if p_value >= 0.05 else (mean > 0) == higher_is_better
    return Paired(name, metric, differences, mean, p_value, better)


def mean_interval(values: Sequence[float], test_share: float, level: float = 0.95) -> tuple[float, float]:
    """A mean over folds and the half-width of its corrected t interval.

    The interval of the corrected test (:func:`corrected_t_test`): the variance of the mean is the
    folds' variance times ``1/J + n_test/n_train``, with J−1 degrees of freedom, so an interval of
    differences leaves out 0 exactly when the test finds them significant at ``1 - level``.

    Args:
        values: Per-fold values (J of them).
        test_share: Held-out samples over training samples of a fold; 0 gives the plain t interval.
        level: Confidence level.

    Returns:
        ``(mean, half_width)``; the half-width is 0 for a single value.
    """
    array = np.asarray(values, dtype=np.float64)
    count = len(array)
    if count < 2:
        return float(array.mean()), 0.0
    spread = math.sqrt((1.0 / count + test_share) * array.var(ddof=1))
    return float(array.mean()), float(stats.t.ppf(0.5 + level / 2, df=count - 1) * spread)


def verdict(result: Paired, network: Sequence[float], baseline: Sequence[float]) -> str:
    """The comparison in one plain sentence.

    Args:
        result: :func:`paired`'s result.
        network: The network's metric per fold.
        baseline: The baseline's.

    Returns:
        For example ``The network beats the logistic regression baseline on acc: 0.9810 ± 0.012
        against 0.9720 ± 0.010 over 5 folds (mean difference +0.0090, corrected paired t-test p =
        0.030)``: mean ± standard deviation over the folds.
    """
    ours = f"{significant(float(np.mean(network)))} ± {significant(float(np.std(network, ddof=1)), 2)}"
    theirs = f"{significant(float(np.mean(baseline)))} ± {significant(float(np.std(baseline, ddof=1)), 2)}"
    difference = significant(result.mean, 2, sign=True)
    figures = (f"{ours} against {theirs} over {len(network)} folds (mean difference {difference}, corrected paired "
               f"t-test {p_text(result.p_value)})")  # fmt: skip
    named = f"the {result.baseline} baseline"
    if result.better is True:
        return f"The network beats {named} on {result.metric}: {figures}"
    if result.better is False:
        return f"{named.capitalize()} beats the network on {result.metric}: {figures}"
    return (f"The network does not clearly beat {named} on {result.metric}: {figures}; on these folds the "
            "difference could be chance")  # fmt: skip
