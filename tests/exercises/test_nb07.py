"""Notebook 07's checkers: explain_none is the checker of the diagnosis; the fix must keep
the values and get the tape's gradient."""

import pytest
import tensorflow as tf

from tapelab.exercises import nb07


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), ("not_watched", "the tape watches it"),
    ("stop_gradient", "There is no tf.stop_gradient here"),
    ("non_trainable_variable", "That is not the cause"),
    ("rounding", "must be one of explain_none's cause codes"),
])
def test_diagnose_hints(answer, hint):
    verdict = nb07.diagnose(answer)
    assert not verdict.ok and hint in str(verdict)


def test_diagnose_solution():
    assert nb07.diagnose("integer_path").ok


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (nb07.cut, "still None; explain_none says ['stop_gradient']"),
    (lambda x: x**2, "keep cut's value"),
])
def test_fix_hints(answer, hint):
    verdict = nb07.fix(answer)
    assert not verdict.ok and hint in str(verdict)


def test_fix_solution():
    assert nb07.fix(lambda x: 3.0 * x**2).ok
    assert nb07.fix(lambda x: tf.multiply(x**2, 3.0)).ok


def test_a_float_or_nan_is_a_hint_not_a_crash_and_no_hint_names_the_cause():
    assert "off the tape" in str(nb07.fix(lambda x: float(3 * x**2)))
    assert not nb07.fix(lambda x: x * float("nan")).ok
    for wrong in ("not_connected", "numpy_round_trip", "unknown"):
        assert "integer_path" not in str(nb07.diagnose(wrong))
