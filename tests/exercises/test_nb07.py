"""Notebook 07's checkers: explain_none is the checker of the diagnosis; the fix must keep
the values and get the tape's gradient."""

import pytest
import tensorflow as tf

from tapelab.exercises import nb07


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), ("not_watched", "the tape watches it"),
    ("stop_gradient", "There is no tf.stop_gradient here"),
    ("non_trainable_variable", "Run tapelab.explain_none"),
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
