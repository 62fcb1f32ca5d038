"""Numbers as a study's report writes them: significant digits written out (``2863 ± 240``, not ``2.4e+02``)."""

from __future__ import annotations

import math

WRITTEN_OUT = (1e-5, 1e9)
"""Magnitudes written out in full; smaller and larger ones keep an exponent (``1.2e-07``)."""


def significant(value: float, digits: int = 4, sign: bool = False) -> str:
    """A number to ``digits`` significant digits, written out: ``2863``, ``0.9560``, ``-0.0022``.

    Args:
        value: The number.
        digits: Significant digits.
        sign: Write ``+`` before a positive number (a difference).

    Returns:
        The text; zero is ``0`` and a number outside :data:`WRITTEN_OUT` keeps its exponent.
    """
    rounded = float(f"{value:.{digits}g}")
    if not math.isfinite(rounded) or rounded == 0 or not WRITTEN_OUT[0] <= abs(rounded) < WRITTEN_OUT[1]:
        text = f"{rounded:.{digits}g}"
    else:  # the digits left of the point count: 2863.4 to 4 digits has no decimals
        text = f"{rounded:.{max(digits - 1 - math.floor(math.log10(abs(rounded))), 0)}f}"
    return f"+{text}" if sign and rounded > 0 else text


def p_text(p_value: float) -> str:
    """A p-value as a sentence says it: ``p = 0.74``, ``p = 0.026``; ``p < 0.001`` below that.

    Args:
        p_value: The p-value.

    Returns:
        The text.
    """
    return "p < 0.001" if p_value < 0.001 else f"p = {significant(p_value, 2)}"
