"""Notebook 01's checkers: the solutions pass, an empty and typical wrong answers get hints."""

import pytest
import tensorflow as tf

from tapelab.exercises import nb01


def solution(x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = nb01.f(x)
    return tape.gradient(y, x)


def unwatched(x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        y = nb01.f(x)
    return tape.gradient(y, x)


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"),
    (9.0, "That is f(-4), the value"),  # f(-4) = 16 - 8 + 1
    (6.0, "the sign is not"),
    (12.0, "That is f'(5)"),
    (7.0, "power rule"),
    ("minus six", "must be one number"),
])
def test_derivative_by_hand_hints(answer, hint):
    verdict = nb01.derivative_by_hand(answer)
    assert not verdict.ok and hint in str(verdict)


def test_derivative_by_hand_solution():
    assert nb01.derivative_by_hand(-6.0).ok and nb01.derivative_by_hand(tf.constant(-6.0)).ok


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"),
    (unwatched, "did not watch x"),
    (nb01.f, "the value: return tape.gradient"),
    (lambda x: x.numpy(), "raised AttributeError"),
])
def test_derivative_by_tape_hints(answer, hint):
    verdict = nb01.derivative_by_tape(answer)
    assert not verdict.ok and hint in str(verdict)


def test_derivative_by_tape_solution():
    assert nb01.derivative_by_tape(solution).ok
