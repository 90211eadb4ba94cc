"""GradientCheck and compare (tapelab/diagnose/gradcheck_report.py): the worst element, the
verdict, and NaN kept at every step."""

import math

import numpy as np
import pytest

from tapelab.diagnose.gradcheck_report import Comparison, compare, non_finite, report


def test_compare_keeps_the_element_furthest_out_of_tolerance():
    # element 1: abs 1e-3 of 1000 (rel 1e-6, fine); element 2: abs 0.5 of 1 (rel 0.33)
    c = compare("rev order 1, source 0", [1.0, 1000.0, 1.0], [1.0, 1000.001, 1.5])
    assert (c.autodiff, c.numerical) == (1.0, 1.5)
    assert c.abs_error == pytest.approx(0.5)
    assert c.rel_error == pytest.approx(1 / 3)
    assert c.max_abs_error == pytest.approx(0.5)


def test_nan_is_never_a_small_error():
    c = compare("fwd order 1", [1.0, np.nan], [1.0, 2.0])
    assert math.isnan(c.abs_error) and math.isnan(c.max_abs_error)
    result = report([c], (), (), [], 1e-5)
    assert not result.finite and not result.ok
    assert result.problems == (str(c),)
    with pytest.raises(AssertionError, match="fwd order 1: autodiff nan"):
        result.assert_ok()


def test_the_verdict_passes_on_absolute_or_relative_error():
    small = Comparison("rev order 2", 1e-9, 2e-9, 1e-9, 0.5)  # tiny values: abs error passes
    large = Comparison("fwd order 1", 1e6, 1e6 + 1, 1.0, 1e-6)  # large ones: rel error does
    result = report([small, large], (), (), [], 1e-5)
    assert result.ok
    assert result.worst() is large  # min(abs, rel): 1e-6 against 1e-9
    bad = Comparison("fwd order 2", 1.0, 2.0, 1.0, 0.5)
    assert not report([small, bad], (), (), [], 1e-5).ok


def test_non_finite_names_elements_and_counts_the_rest():
    g = np.array([np.nan, 1.0, np.inf, np.nan, np.nan])
    lines = non_finite(2, g, np.ones(5))
    assert lines[0] == "source 2 element (0,): tape nan, numerical 1.0"
    assert lines[-1] == "source 2: 1 more non-finite element(s)"
    assert len(lines) == 4
