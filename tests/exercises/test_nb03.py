"""Notebook 03's checkers: the solutions pass, an empty and typical wrong answers get hints."""

import pytest
import tensorflow as tf

import tapelab
from tapelab.exercises import nb03


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"),
    ([6.0, 6.0, None, 2.0], "(a): a tape watches trainable variables by itself"),
    ([None, 6.0, 6.0, 2.0], "(c): trainable=False"),
    ([None, 6.0, None, None], "(d): a watched constant"),
    ([None, 6.0], "must be a list of four"),
])
def test_predict_watch_hints(answer, hint):
    verdict = nb03.predict_watch(answer)
    assert not verdict.ok and hint in str(verdict)


def test_predict_watch_solution():
    assert nb03.predict_watch([None, 6.0, None, 2.0]).ok


def solution(v):
    with tapelab.tape(watch=v) as tape:
        y = v * v
    return tape.gradient(y, v)


def plain(v):
    with tf.GradientTape() as tape:
        y = v * v
    return tape.gradient(y, v)


def watch_keras(v):
    with tf.GradientTape() as tape:
        tape.watch(v)
        y = v * v
    return tape.gradient(y, v)


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (plain, "not watched by itself"),
    (watch_keras, "refuses a Keras 3 variable"),
])
def test_frozen_gradient_hints(answer, hint):
    verdict = nb03.frozen_gradient(answer)
    assert not verdict.ok and hint in str(verdict)


def test_frozen_gradient_solution():
    assert nb03.frozen_gradient(solution).ok
