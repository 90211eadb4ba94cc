"""Notebook 02's checkers: the solutions pass, an empty and typical wrong answers get hints."""

import pytest
import tensorflow as tf

from tapelab.exercises import nb02


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), ((), "the gradient is one number per element"),
    ((3,), "elements does x have"), ("2x3", "must be a shape"),
])
def test_gradient_shape_hints(answer, hint):
    verdict = nb02.gradient_shape(answer)
    assert not verdict.ok and hint in str(verdict)


def test_gradient_shape_solution():
    assert nb02.gradient_shape((2, 3)).ok and nb02.gradient_shape([2, 3]).ok


def solution(params):
    with tf.GradientTape() as tape:
        value = nb02.loss(params)
    return tape.gradient(value, params)


def as_list(params):
    with tf.GradientTape() as tape:
        value = nb02.loss(params)
    return tape.gradient(value, [params["w"], params["b"]])


def outside(params):
    value = nb02.loss(params)  # computed before the tape: nothing recorded
    with tf.GradientTape() as tape:
        pass
    return tape.gradient(value, params)


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (as_list, "It returned a list"),
    (outside, "is None: compute the loss inside"),
    (lambda p: {"w": p["w"], "b": p["b"]}, "is not d loss / d w"),
])
def test_dict_gradients_hints(answer, hint):
    verdict = nb02.dict_gradients(answer)
    assert not verdict.ok and hint in str(verdict)


def test_dict_gradients_solution():
    assert nb02.dict_gradients(solution).ok
