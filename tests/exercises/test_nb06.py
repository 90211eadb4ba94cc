"""Notebook 06's checkers: the solutions pass, an empty and typical wrong answers get hints."""

import pytest
import tensorflow as tf

from tapelab.exercises import nb06


def solution(x):
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x**3
        dy = inner.gradient(y, x)
    return outer.gradient(dy, x)


def first(x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x**3
    return tape.gradient(y, x)


def outside(x):
    with tf.GradientTape() as inner:
        inner.watch(x)
        y = x**3
    dy = inner.gradient(y, x)
    with tf.GradientTape() as outer:
        outer.watch(x)
    return outer.gradient(dy, x)


def unwatched_outer(x):
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x**3
        dy = inner.gradient(y, x)
    return outer.gradient(dy, x)


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (first, "That is the first derivative"),
    (outside, "inside it"), (unwatched_outer, "must watch x (a constant) too"),
    (lambda x: tf.constant(float("nan")), "not the second derivative"),  # NaN: never near
])
def test_second_derivative_hints(answer, hint):
    verdict = nb06.second_derivative(answer)
    assert not verdict.ok and hint in str(verdict)


def test_second_derivative_solution():
    assert nb06.second_derivative(solution).ok


def jacobian(x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = nb06.f(x)
    return tape.jacobian(y, x)


def summed(x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = nb06.f(x)
    return tape.gradient(y, x)



@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (summed, "tape.gradient sums the outputs"),
    (lambda x: tf.eye(3), "differs from the tape's"),
    (lambda x: tf.transpose(jacobian(x)), "Rows and columns are swapped"),
])
def test_jacobian_hints(answer, hint):
    verdict = nb06.jacobian(answer)
    assert not verdict.ok and hint in str(verdict)


def test_jacobian_solution():
    assert nb06.jacobian(jacobian).ok


def test_a_formula_or_a_list_is_not_called_right():
    assert "not from two gradient() calls" in str(nb06.second_derivative(lambda x: 6 * x))
    assert "not a list" in str(nb06.second_derivative(lambda x: [solution(x)]))
