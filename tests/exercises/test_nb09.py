"""Notebook 09's checkers: jacfwd from ForwardAccumulator against tapelab.jacobian, an HVP
against tapelab.hvp."""

import pytest
import tensorflow as tf

from tapelab.exercises import nb09


def my_jacfwd(f, x):
    columns = []
    for j in range(x.shape[0]):
        with tf.autodiff.ForwardAccumulator(x, tf.one_hot(j, x.shape[0])) as acc:
            y = f(x)
        columns.append(acc.jvp(y))
    return tf.stack(columns, axis=-1)


def one_jvp(f, x):
    with tf.autodiff.ForwardAccumulator(x, tf.ones_like(x)) as acc:
        y = f(x)
    return acc.jvp(y)


def transposed(f, x):
    return tf.transpose(my_jacfwd(f, x))


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (one_jvp, "That is one jvp, one column"),
    (transposed, "Rows and columns are swapped"),
])
def test_jacfwd_hints(answer, hint):
    verdict = nb09.jacfwd(answer)
    assert not verdict.ok and hint in str(verdict)


def test_jacfwd_solution():
    assert nb09.jacfwd(my_jacfwd).ok


def my_hvp(f, x, v):
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        g = inner.gradient(y, x)
        gv = tf.reduce_sum(g * v)
    return outer.gradient(gv, x)


def gradient_only(f, x, v):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    return tape.gradient(y, x)


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (gradient_only, "That is the gradient"),
    (lambda f, x, v: v, "differs from tapelab.hvp's"),
])
def test_hvp_hints(answer, hint):
    verdict = nb09.hvp(answer)
    assert not verdict.ok and hint in str(verdict)


def test_hvp_solution():
    assert nb09.hvp(my_hvp).ok


def by_reverse_mode(f, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    return tape.jacobian(y, x)


def diagonal_only(f, x, v):
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        g = inner.gradient(y, x)
    return outer.gradient(g, x) * v  # the Hessian's row sums times v: wrong when H couples


def with_hessian(f, x, v):
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        g = inner.gradient(y, x)
    return tf.linalg.matvec(outer.jacobian(g, x), v)


def test_unchecked_shortcuts_are_not_called_right():
    assert "did not come from tf.autodiff.ForwardAccumulator" in str(nb09.jacfwd(by_reverse_mode))
    assert "differs from tapelab.hvp's" in str(nb09.hvp(diagonal_only))
    assert "formed the Hessian" in str(nb09.hvp(with_hessian))


def vectorized(f, x):
    def column(e):
        with tf.autodiff.ForwardAccumulator(x, e) as acc:
            y = f(x)
        return acc.jvp(y)
    return tf.transpose(tf.vectorized_map(column, tf.eye(x.shape[0])))


def forward_over_reverse(f, x, v):
    with tf.autodiff.ForwardAccumulator(x, v) as acc:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        g = tape.gradient(y, x)
    return acc.jvp(g)


def test_vectorized_forward_mode_is_right_and_forward_over_reverse_is_named():
    assert nb09.jacfwd(vectorized).ok
    assert "from forward mode over reverse" in str(nb09.hvp(forward_over_reverse))
