"""below (nbclaims.bounds): a value printed as a bound that holds on every machine, exactly."""

import numpy as np
import pytest
from nbclaims import below


@pytest.mark.parametrize(("value", "bound", "shown"), [
    (2e-8, 1e-6, "below 1e-6"), (-3e-9, 1e-6, "below 1e-6"), (0.0, 1e-6, "below 1e-6"),
    (np.float32(1e-9), 1e-6, "below 1e-6"), (0.12, 0.15, "below 0.15"),
    (0.0022, 0.0025, "below 0.0025"), (1e-9, 2.5e-8, "below 2.5e-8"), (3, 100, "below 1e2"),
    (4.9e-5, 1e-4, "below 1e-4"), (0.0, 1e-12, "below 1e-12"), (0.002, 3e-3, "below 3e-3"),
    (0.25, 1e-6, "0.25 (not below 1e-6)"), (0.0096, 0.0095, "0.0096 (not below 0.0095)"),
    (float("nan"), 1e-6, "nan (not below 1e-6)"),
])
def test_the_bound_prints_exactly_as_it_compares(value, bound, shown):
    assert below(value, bound) == shown


@pytest.mark.parametrize(("value", "bound", "error", "match"), [
    (1j, 1e-6, TypeError, "`value` must be a real number. Received: value=1j"),
    ("0", 1e-6, TypeError, "`value` must be a real number"),
    (0.0, 0, ValueError, "`bound` must be a positive, finite number. Received: bound=0"),
    (0.0, -1e-6, ValueError, "positive, finite"),
    (0.0, float("inf"), ValueError, "positive, finite"),
])
def test_bad_input_says_what_was_received(value, bound, error, match):
    with pytest.raises(error, match=match):
        below(value, bound)
