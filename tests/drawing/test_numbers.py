"""How a drawing shows numbers (tapelab/drawing/numbers.py): digits far above float32 round-off,
so the text is the same on every machine."""

import numpy as np
import pytest

from tapelab.drawing.numbers import number, shown


@pytest.mark.parametrize("value, text", [
    (12.0, "12.0"), (np.float32(11.9999995), "12.0"), (0.123456, "0.1235"), (-3.5e4, "-3.5e+04"),
    (0.0, "0.0"), (2e-8, "~0"), (-1.7e-10, "~0"), (float("nan"), "nan"), (1e6, "1e+06"),
])
def test_four_significant_digits_and_round_off_as_a_bound(value, text):
    assert number(value) == text


def test_round_off_between_machines_does_not_change_the_text():
    rng = np.random.default_rng(0)
    for v in rng.normal(size=200) * 10.0 ** rng.integers(-3, 4, 200):
        nudged = np.float32(v) * np.float32(1 + 1.2e-7)  # one float32 rounding apart
        # a difference at the 4th digit needs a value within 1e-7 of a rounding edge
        assert number(np.float32(v)) == number(nudged) or abs(
            float(f"{v:.4g}") - v) > 0.49e-4 * abs(v)


@pytest.mark.parametrize("value, text", [
    (np.int32(5), "5"), (np.bool_(True), "True"), (np.complex64(6 + 8j), "(6.0+8.0j)"),
    (np.complex64(6 - 8j), "(6.0-8.0j)"), (np.array([1.5, -2.0]), "[1.5, -2.0]"),
    (np.zeros((3, 4), np.float32), "(3, 4) float32"), (np.arange(5.0), "(5,) float64"),
    (None, "None"),
])
def test_scalars_small_tensors_and_shapes(value, text):
    assert shown(value) == text
