"""What a trained task knows about how far to trust its answers: a temperature and a conformal quantile.

A task holds one :class:`Calibration` (``task.calibration``); its buffers travel in the
checkpoint's ``state_dict``, move with the model between devices and are baked into an export as
constants, so ``test``, ``predict``, ``export`` and ``serve`` apply the same numbers. They are
fitted after training on held-out data (:mod:`lit_nn.callbacks.calibrate`):

- **Temperature scaling** (Guo et al., 2017): the logits are divided by one temperature ``T``
  that minimises the negative log-likelihood of the held-out labels. A positive scale changes no
  logit's rank, so no predicted label changes; only the probabilities do.
- **Split-conformal prediction** (Vovk et al., 2005; Angelopoulos & Bates, 2021): with ``n``
  held-out nonconformity scores and a level ``alpha``, the quantile ``q`` is the
  ``ceil((n + 1)(1 - alpha))``-th smallest score, so a new sample exchangeable with them has a
  score at most ``q`` with probability at least ``1 - alpha``. Classification scores a sample
  by the log-odds against its true class, ``log((1 - p) / p)``, and answers the set of classes
  whose log-odds are at most ``q``: the classes with ``p >= sigmoid(-q)``. That is the "LAC"
  rule (score ``1 - p``, sets the smallest on average; Sadinle et al., 2019) on a scale where
  confident probabilities do not round to 1 (:func:`class_log_odds`). Regression scores
  ``|y - prediction|`` and answers ``prediction ± q``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch
from torch import Tensor, nn

from lit_nn.errors import ConfigError


class CalibrationError(ConfigError, ValueError):
    """A calibration that cannot be fitted as asked (a level outside (0, 1), too few samples)."""


def too_few(level: float, n: int, what: str = "validation") -> str:
    """The message for fewer held-out samples than a conformal level needs.

    Args:
        level: ``alpha``.
        n: The samples there are.
        what: What they are.

    Returns:
        What is wrong and what to do, in one line.
    """
    return (
        f"--conformal {level:g} needs at least {needed_samples(level)} {what} samples for a finite "
        f"{100 * (1 - level):g} % quantile, and there are {n}: give more {what} data "
        f"(a larger validation share), or a larger level (--conformal {math.ceil(100 / (n + 1)) / 100:g} or more)"
    )


def check_level(level: float) -> float:
    """Refuse a conformal level outside (0, 1).

    Args:
        level: ``alpha``: the share of answers allowed to miss (``0.1`` for 90 % sets).

    Returns:
        The level, as a float.

    Raises:
        CalibrationError: Saying what the level means and what to give.
    """
    if not (isinstance(level, (int, float)) and 0.0 < float(level) < 1.0) or isinstance(level, bool):
        raise CalibrationError(
            f"--conformal {level}: the level is the share of answers allowed to miss the truth, strictly between "
            "0 and 1 (0.1 asks for sets or intervals that hold the true answer 90 % of the time)"
        )
    return float(level)


def conformal_rank(n: int, level: float) -> int:
    """Which order statistic of ``n`` scores is the conformal quantile: ``ceil((n + 1)(1 - alpha))``.

    In exact arithmetic on the level as written (``0.1`` is one tenth): in floats, ``150 * (1 - 0.18)``
    is 123.00000000000001 and its ceiling one rank too high.

    Args:
        n: Held-out scores.
        level: ``alpha`` in (0, 1).

    Returns:
        The rank (above ``n`` when ``n`` is too small for the level).
    """
    return math.ceil((n + 1) * (1 - Fraction(repr(float(level)))))


def needed_samples(level: float) -> int:
    """The fewest held-out samples that give a finite conformal quantile at ``level``.

    Args:
        level: ``alpha`` in (0, 1).

    Returns:
        The smallest ``n`` with ``ceil((n + 1)(1 - alpha)) <= n``.
    """
    n = 1
    while conformal_rank(n, level) > n:
        n += 1
    return n


def conformal_quantile(scores: Tensor, level: float, what: str = "validation") -> Tensor:
    """The split-conformal quantile of held-out nonconformity scores, per column.

    Args:
        scores: ``(n,)`` or ``(n, k)`` scores (``k`` targets each get their own quantile).
        level: ``alpha`` in (0, 1).
        what: What the samples are, for the message.

    Returns:
        ``(k,)``: the ``ceil((n + 1)(1 - alpha))``-th smallest score of each column.

    Raises:
        CalibrationError: When ``n`` is too small for the level (the quantile would be infinite).
    """
    level = check_level(level)
    scores = scores.reshape(len(scores), -1).to(torch.float64)
    n = len(scores)
    rank = conformal_rank(n, level)
    if rank > n:
        raise CalibrationError(too_few(level, n, what))
    return scores.sort(dim=0).values[rank - 1].to(torch.float32)


def fit_temperature(logits: Tensor, targets: Tensor, nll: Callable[[Tensor, Tensor], Tensor]) -> float:
    """The temperature that minimises the held-out negative log-likelihood of ``logits / T``.

    Fitted on ``log T`` (so ``T`` stays positive) with L-BFGS, as Guo et al. (2017) do, from ``T = 1``.

    Args:
        logits: Held-out logits, ``(n,)`` (binary) or ``(n, classes)``.
        targets: Their labels.
        nll: The task's negative log-likelihood of (scaled logits, labels).

    Returns:
        ``T``, in [0.01, 100].
    """
    logits, targets = logits.detach().to(torch.float64), targets.detach()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=50, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = nll(logits / log_t.exp(), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    value = float(log_t.detach().exp())
    return min(max(value, 0.01), 100.0) if math.isfinite(value) else 1.0


def class_log_odds(logits: Tensor) -> Tensor:
    """Every class's log-odds against it, ``log((1 - p_c) / p_c)`` of ``softmax(logits)``, never rounding ``p_c`` to 1.

    The conformal score of a class: a monotone function of ``1 - p_c`` (so its sets are the LAC
    sets), but spread out where float32 would round a confident ``p`` to exactly 1 and make many
    scores tie at 0 (then PyTorch and an exported graph could split the ties differently). For the
    most likely class it is ``logsumexp(other logits) - logit``; for every other class, whose ``p``
    is at most 1/2, ``log1p(-p) - log p``.

    Args:
        logits: ``(N, classes)`` (already divided by the temperature).

    Returns:
        ``(N, classes)``.
    """
    log_p = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    top = torch.arange(logits.shape[-1], device=logits.device) == logits.argmax(dim=-1, keepdim=True)
    rest = torch.logsumexp(logits.masked_fill(top, float("-inf")), dim=-1, keepdim=True)
    return torch.where(top, rest - logits, torch.log1p(-log_p.exp()) - log_p)


def binary_log_odds(logit: Tensor) -> Tensor:
    """:func:`class_log_odds` of a binary classifier's one logit: ``logit`` against class 0, ``-logit`` against class 1.

    Args:
        logit: ``(N,)`` (already divided by the temperature).

    Returns:
        ``(N, 2)``.
    """
    return torch.stack([logit, -logit], dim=-1)


def prediction_sets(log_odds: Tensor, quantile: Tensor) -> Tensor:
    """The conformal prediction sets of a classifier: every class whose log-odds against it is at most ``q``.

    That is every class whose probability is at least ``sigmoid(-q)``.

    Args:
        log_odds: ``(N, classes)`` (:func:`class_log_odds`).
        quantile: ``(1,)``: the conformal quantile of the true classes' log-odds.

    Returns:
        ``(N, classes)`` booleans: class ``c`` is in sample ``i``'s set.
    """
    return log_odds <= quantile


def class_scores(log_odds: Tensor, targets: Tensor) -> Tensor:
    """Nonconformity of labelled samples for classifiers: the log-odds against the true class.

    Args:
        log_odds: ``(n, classes)`` (:func:`class_log_odds`).
        targets: ``(n,)`` class indices.

    Returns:
        ``(n,)`` scores.
    """
    return log_odds.gather(1, targets.long().reshape(-1, 1)).squeeze(1)


def least_probability(quantile: float) -> float:
    """The probability a class needs to be in a conformal set with quantile ``q``: ``sigmoid(-q)``.

    Args:
        quantile: The conformal quantile (a log-odds).

    Returns:
        The probability.
    """
    return 1.0 / (1.0 + math.exp(min(quantile, 700.0)))


class Calibration(nn.Module):
    """A task's temperature and conformal quantile, as buffers (so checkpoints and exports carry them).

    Checkpoints saved before lit_nn calibrated anything have none of these buffers: they load as
    uncalibrated (temperature 1, no conformal answers), not as a mismatch (:attr:`optional_state`).

    Args:
        quantiles: How many conformal quantiles (1 for a classifier, one per target for regression).
        answers: What the conformal quantile makes: ``sets`` of classes or ``intervals`` of values.
    """

    optional_state = True
    """Checkpoints may lack these buffers (:func:`lit_nn.checkpoint_choice.check_weights` reads it)."""

    temperature: Tensor
    level: Tensor
    quantile: Tensor
    samples: Tensor

    def __init__(self, quantiles: int = 1, answers: str = "sets") -> None:
        super().__init__()
        self.answers = answers
        self.register_buffer("temperature", torch.ones(1))
        self.register_buffer("level", torch.zeros(1))
        self.register_buffer("quantile", torch.zeros(quantiles))
        self.register_buffer("samples", torch.zeros(1))
        self.conformal = False
        """Whether the task answers sets or intervals: a plain bool, so exports trace no branch on a buffer."""
        self.register_load_state_dict_pre_hook(self._before_loading)

    def reset(self) -> None:
        """Forget the calibration (a fit changes the weights it was fitted for)."""
        self.temperature.fill_(1.0)
        self.level.zero_()
        self.quantile.zero_()
        self.samples.zero_()
        self.conformal = False

    def set(self, temperature: float | None, level: float | None, quantile: Tensor | None, samples: int) -> None:
        """Take a fitted calibration.

        Args:
            temperature: ``T`` (``None``: leave it).
            level: The conformal ``alpha`` (``None``: no conformal answers).
            quantile: Its quantiles.
            samples: The held-out samples it was fitted on.
        """
        if temperature is not None:
            self.temperature.fill_(temperature)
        if level is not None and quantile is not None:
            self.level.fill_(level)
            self.quantile.copy_(quantile.reshape(self.quantile.shape))
        self.samples.fill_(samples)
        self.conformal = level is not None

    @staticmethod
    def _before_loading(
        module: Calibration,
        state_dict: dict[str, Any],
        prefix: str,
        *args: Any,  # noqa: ANN401 (local metadata, strict, missing and unexpected keys, errors)
    ) -> None:
        """Load a checkpoint without these buffers (an older one) as uncalibrated; note whether it answers sets."""
        names = [prefix + name for name, _ in module.named_buffers(recurse=False)]
        if not any(name in state_dict for name in names):
            module.reset()
            state_dict.update({prefix + name: b.detach().clone() for name, b in module.named_buffers(recurse=False)})
        level = state_dict[prefix + "level"]
        module.conformal = bool(level.reshape(-1)[0] > 0)

    def coverage_words(self) -> str:
        """The sets' or intervals' promised coverage, as a percentage (``90 %``)."""
        return f"{100 * (1 - float(self.level.item())):g} %"

    def set_description(self) -> dict[str, str]:
        """Export metadata's description of a classifier's conformal sets (none without them).

        Returns:
            ``{"prediction_set": …}`` or ``{}``.
        """
        if not self.conformal:
            return {}
        return {
            "prediction_set": f"bool (N, classes): the {self.coverage_words()} conformal prediction set, every class "
            f"whose probability is at least {least_probability(float(self.quantile[0])):.6g} (it holds the true class "
            f"{self.coverage_words()} of the time; empty when no class is that likely)"
        }

    def interval_description(self) -> dict[str, str]:
        """Export metadata's description of a regressor's conformal intervals (none without them).

        Returns:
            ``{"lower": …, "upper": …}`` or ``{}``.
        """
        if not self.conformal:
            return {}
        words = f"of the {self.coverage_words()} conformal interval (it holds the true value {self.coverage_words()} "
        return {
            "lower": f"float32 (N, targets): the lower end {words}of the time)",
            "upper": f"float32 (N, targets): the upper end {words}of the time)",
        }

    def summary(self) -> str:
        """The calibration in a few words, for the line a fit prints.

        Returns:
            ``temperature 1.84; 90 % sets: the classes with probability >= 0.951`` or the like.
        """
        said = []
        temperature = float(self.temperature.item())
        if temperature != 1.0:
            said.append(f"temperature {temperature:.4g}")
        if self.conformal:
            q = [float(v) for v in self.quantile]
            if self.answers == "sets":
                said.append(
                    f"{self.coverage_words()} sets: the classes with probability >= {least_probability(q[0]):.4g}"
                )
            else:
                said.append(f"{self.coverage_words()} intervals: prediction ± {', '.join(f'{v:.4g}' for v in q)}")
        return "; ".join(said) or "uncalibrated"

    def record(self) -> dict[str, Any]:
        """The calibration as plain values (export metadata, the server's card).

        Returns:
            ``{"temperature": T, "samples": n}`` and, with conformal answers, ``level``,
            ``coverage`` and ``quantile``; empty when uncalibrated.
        """
        temperature = float(self.temperature.item())
        if temperature == 1.0 and not self.conformal:
            return {}
        found: dict[str, Any] = {"temperature": temperature, "samples": int(self.samples.item())}
        if self.conformal:
            level = float(self.level.item())
            found.update(
                level=round(level, 6),
                coverage=round(1.0 - level, 6),
                answers=self.answers,
                quantile=self.quantile.tolist(),
            )
        return found


@dataclass(frozen=True)
class Fitted:
    """What a calibration found on held-out data, for the line a fit prints.

    Attributes:
        samples: Held-out samples used.
        temperature: ``T`` (``None`` when not fitted).
        nll: Held-out negative log-likelihood before and after the temperature.
        level: Conformal ``alpha`` (``None`` when not fitted).
        quantile: Its quantiles.
        note: Why something asked was not fitted.
    """

    samples: int
    temperature: float | None = None
    nll: tuple[float, float] | None = None
    level: float | None = None
    quantile: tuple[float, ...] = ()
    note: str | None = None


def check_applies(task: Any, temperature: bool, level: float | None) -> None:  # noqa: ANN401 (a LightningModule)
    """Refuse a calibration the task cannot take, before anything is trained.

    Args:
        task: The model.
        temperature: ``--calibrate temperature`` was asked.
        level: ``--conformal`` level, or ``None``.

    Raises:
        CalibrationError: Naming the task, what applies to it, and what to give instead.
    """
    name = type(task).__name__
    if not isinstance(getattr(task, "calibration", None), Calibration):
        raise CalibrationError(
            f"--calibrate and --conformal need a lit_nn task (BinaryClassificationTask, MulticlassClassificationTask, "
            f"RegressionTask or a subclass); {name} has no calibration"
        )
    if temperature and not getattr(task, "temperature_scaled", False):
        raise CalibrationError(
            f"--calibrate temperature rescales a classifier's probabilities, and {name} answers "
            f"{getattr(task, 'kind', 'values')} values, not probabilities: leave it out"
            + ("; --conformal 0.1 gives it 90 % intervals" if getattr(task, "conformal_applies", False) else "")
        )
    if level is not None:
        check_level(level)
        if not getattr(task, "conformal_applies", False):
            raise CalibrationError(
                f"--conformal needs a task that scores its answers (conformal_scores); {name} has none"
            )


def calibrate(task: Any, outputs: Tensor, targets: Tensor, temperature: bool, level: float | None) -> Fitted:  # noqa: ANN401
    """Fit a task's temperature, then its conformal quantile (on the scaled outputs), on held-out samples.

    Args:
        task: The trained task (its :class:`Calibration` is set here).
        outputs: Its raw outputs on the held-out samples (:meth:`calibration_outputs`).
        targets: Their targets.
        temperature: Fit a temperature.
        level: Conformal ``alpha``, or ``None``.

    Returns:
        What was found.
    """
    calibration: Calibration = task.calibration
    calibration.reset()
    outputs, targets = outputs.detach().cpu(), targets.detach().cpu()
    n = len(targets)
    found: dict[str, Any] = {"samples": n}
    if temperature and float(task.temperature_nll(outputs / 1e-4, targets)) < 1e-3:
        # every sample right by a margin: the likelihood grows without bound as T -> 0, so no T fits
        found["note"] = (
            f"no temperature fitted: all {n} validation samples are classified right, so a smaller temperature "
            "always fits them better, without bound; kept 1 (a larger validation split gives it errors to fit)"
        )
    elif temperature:
        before = float(task.temperature_nll(outputs, targets))
        t = fit_temperature(outputs, targets, task.temperature_nll)
        after = float(task.temperature_nll(outputs / t, targets))
        if after > before:  # L-BFGS ended somewhere worse than no scaling: keep none
            t, after = 1.0, before
        calibration.set(t, None, None, n)
        found.update(temperature=t, nll=(before, after))
    if level is not None:
        scores = task.conformal_scores(outputs, targets)
        quantile = conformal_quantile(scores.cpu(), level)
        calibration.set(None, level, quantile, n)
        found.update(level=level, quantile=tuple(float(q) for q in quantile))
    return Fitted(**found)
