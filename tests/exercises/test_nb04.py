"""Notebook 04's checkers: the solutions pass, an empty and typical wrong answers get hints."""

import numpy as np
import pytest
import tensorflow as tf

from tapelab.exercises import nb04


def solution(x):
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x**2
        z = y**2
    return tape.gradient(y, x), tape.gradient(z, x)


def not_persistent(x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x**2
        z = y**2
    return tape.gradient(y, x), tape.gradient(z, x)


def swapped(x):
    dy, dz = solution(x)
    return dz, dy


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (not_persistent, "unless it is persistent=True"),
    (swapped, "swapped"),
])
def test_two_gradients_hints(answer, hint):
    verdict = nb04.two_gradients(answer)
    assert not verdict.ok and hint in str(verdict)


def test_two_gradients_solution():
    assert nb04.two_gradients(solution).ok


def one_call(x, w):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = w * x**2
    return tape.gradient(y, [x, w])


def two_calls(x, w):
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = w * x**2
    return [tape.gradient(y, x), tape.gradient(y, w)]


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (two_calls, "2 gradient() call(s) on a persistent tape"),
])
def test_one_call_hints(answer, hint):
    verdict = nb04.one_call(answer)
    assert not verdict.ok and hint in str(verdict)


def test_one_call_solution():
    assert nb04.one_call(one_call).ok


def two_tapes(x):
    with tf.GradientTape() as first:
        first.watch(x)
        y = x**2
    with tf.GradientTape() as second:
        second.watch(x)
        z = (x**2) ** 2
    return first.gradient(y, x), second.gradient(z, x)


def test_right_numbers_by_another_way_are_not_called_right():
    assert "not from two gradient() calls on one tape" in str(nb04.two_gradients(two_tapes))
    assert "not from two gradient() calls" in str(nb04.two_gradients(lambda x: (2 * x, 4 * x**3)))
    assert nb04.one_call(lambda x, w: tf.stack(one_call(x, w))).ok  # a tensor of two: fine
    assert "raised" not in str(nb04.one_call(lambda x, w: np.array([1.0, 2.0])))


def fresh_tape_per_call(x):
    def derivative(f):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = f(x)
        return tape.gradient(out, x)
    return derivative(lambda t: t**2), derivative(lambda t: (t**2) ** 2)


def test_two_short_lived_tapes_are_not_one_tape():
    assert "not from two gradient() calls on one tape" in str(
        nb04.two_gradients(fresh_tape_per_call))
