"""Numbers in a study's report: significant digits written out, p-values with a floor."""

from __future__ import annotations

import pytest

from lit_nn.cv.numbers import p_text, significant


@pytest.mark.parametrize(
    ("value", "digits", "sign", "expected"),
    [
        (2862.9, 4, False, "2863"),
        (240.3, 2, False, "240"),  # a std: not 2.4e+02
        (-0.0021978, 2, True, "-0.0022"),
        (0.3451, 4, True, "+0.3451"),
        (0.95599, 4, False, "0.9560"),
        (1.0, 4, False, "1.000"),
        (3130.4998, 4, False, "3130"),  # mse: not 3130.4998
        (9.99996, 4, False, "10.00"),  # rounding up to the next power of ten keeps 4 digits
        (0.0, 2, True, "0"),
        (1.2e-7, 4, False, "1.2e-07"),  # extraordinary magnitudes keep their exponent
    ],
)
def test_numbers_keep_their_significant_digits_written_out(value, digits, sign, expected):
    assert significant(value, digits, sign) == expected


def test_p_values_below_a_thousandth_are_said_so_not_rounded_to_0():
    said = [p_text(p) for p in (2.1e-6, 0.00099, 0.0067, 0.7396)]
    assert said == ["p < 0.001", "p < 0.001", "p = 0.0067", "p = 0.74"]
