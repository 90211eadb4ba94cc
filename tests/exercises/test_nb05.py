"""Notebook 05's checkers: the solutions pass, an empty and typical wrong answers get hints;
the head step is held to tapelab.fine_tune_step and every weight."""

import pytest
import tensorflow as tf

from tapelab.exercises import nb05


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (3, "That counts layers"), (4, "hidden's variables too"),
    ("two", "must be a number"),
])
def test_count_trainable_hints(answer, hint):
    verdict = nb05.count_trainable(answer)
    assert not verdict.ok and hint in str(verdict)


def test_count_trainable_solution():
    assert nb05.count_trainable(2).ok


def solution(model, x, y, optimizer):
    head = model.get_layer("head").trainable_variables
    with tf.GradientTape() as tape:
        loss = nb05.loss_fn(y, model(x, training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, head), head))


def everything(model, x, y, optimizer):
    with tf.GradientTape() as tape:
        loss = nb05.loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))


def of_output(model, x, y, optimizer):
    head = model.get_layer("head").trainable_variables
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(model(x, training=True))
    optimizer.apply_gradients(zip(tape.gradient(out, head), head))


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (everything, "The body changed"),
    (lambda *args: None, "No weight changed"), (of_output, "differs from one step"),
])
def test_head_step_hints(answer, hint):
    verdict = nb05.head_step(answer)
    assert not verdict.ok and hint in str(verdict)


def test_head_step_solution():
    assert nb05.head_step(solution).ok
