"""GradientCheck and compare (tapelab/diagnose/gradcheck_report.py): the worst element, the
verdict, and NaN kept at every step."""

import math

import numpy as np
import pytest

from tapelab.diagnose.gradcheck_report import compare, non_finite, report


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


def test_an_element_passes_within_the_tolerance_of_its_checks_largest_value():
    # round-off of the large element spills onto the small one: 1e-6 of the scale, fine
    assert report([compare("rev order 1, source 0", [1e-9, 1e3], [2e-9, 1e3 + 1e-3])],
                  (), (), [], 1e-5).ok
    # a derivative wrong everywhere is wrong however small its values: 0 for 2e-3 x
    x = np.linspace(0.1, 1.0, 10)
    wrong = compare("rev order 1, source 0", np.zeros(10), 2e-3 * x)
    assert wrong.error == 1.0 and not report([wrong], (), (), [], 1e-2).ok
    a = compare("fwd order 1", [1.0], [1.0 + 1e-6])
    b = compare("fwd order 2", [1.0], [1.5])
    result = report([a, b], (), (), [], 1e-5, sources=2)
    assert result.worst() is b and not result.ok
    assert str(result).endswith("over 2 source(s)")


def test_non_finite_names_elements_and_counts_the_rest():
    g = np.array([np.nan, 1.0, np.inf, np.nan, np.nan])
    lines = non_finite(2, g, np.ones(5))
    assert lines[0] == "source 2 element (0,): tape nan, numerical 1.0"
    assert lines[-1] == "source 2: 1 more non-finite element(s)"
    assert len(lines) == 4
