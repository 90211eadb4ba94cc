"""Exercises of notebook 09: jacfwd from ForwardAccumulator, and a Hessian-vector product.

>>> print(jacfwd(None))
No answer yet: set `answer` to a function my_jacfwd(f, x) built on tf.autodiff.ForwardAccumulator, then run the cell again.
"""

import numpy as np
import tensorflow as tf

import tapelab
from tapelab.exercises.verdict import (
    array,
    call,
    calls_to,
    close,
    no_answer,
    not_yet,
    raised,
    right,
)


def _functions():
    w = tf.constant([[1.0, -2.0, 0.5], [0.3, 0.0, 2.0]])
    return [
        (lambda x: tf.tanh(tf.linalg.matvec(w, x)), tf.constant([0.2, -0.4, 1.0])),  # R3 -> R2
        (lambda x: tf.stack([x[0] * x[1], tf.sin(x[0]), x[1] ** 2]), tf.constant([0.7, -1.3])),
    ]


def jacfwd(my_jacfwd):
    """Exercise 1: ``my_jacfwd(f, x)`` returns the Jacobian of ``f`` at a vector ``x`` (rows
    are outputs, columns inputs), built from ``tf.autodiff.ForwardAccumulator``. Checked
    against ``tapelab.jacobian`` on two functions."""
    if my_jacfwd is None:
        return no_answer("a function my_jacfwd(f, x) built on tf.autodiff.ForwardAccumulator")
    for f, x in _functions():
        want = np.asarray(tapelab.jacobian(f, x))
        with calls_to(tf.autodiff.ForwardAccumulator, "jvp") as jvps:
            got, error = call(my_jacfwd, f, x)
        if error is not None:
            return not_yet(f"my_jacfwd(f, x) raised {raised(error)}.")
        value = array(got)
        if value is None:
            return not_yet(f"Return a tensor. Received: {got!r}.")
        if value.shape == want.shape[:1]:
            return not_yet("That is one jvp, one column. Push each basis vector of the "
                           "inputs through the accumulator and stack the columns.")
        if value.shape == want.T.shape and close(value, want.T):
            return not_yet("Rows and columns are swapped: each jvp is a column (one per "
                           "input), so stack along the last axis.")
        if not close(value, want):
            return not_yet("The matrix differs from tapelab.jacobian's: the jvp with basis "
                           "vector e_j is column j.")
        if not jvps:
            return not_yet("The matrix is right, but it did not come from "
                           "tf.autodiff.ForwardAccumulator, one jvp per input: that is the "
                           "exercise (tape.jacobian is reverse mode).")
    return right("One forward pass per input, one column each: the Jacobian tapelab.jacobian "
                 "gives.")


def _loss(w):  # its Hessian couples the inputs: H v is not a diagonal's product with v
    return tf.reduce_sum(tf.sin(w) * w**2) + w[0] * w[1] * w[2]


def hvp(my_hvp):
    """Exercise 2: ``my_hvp(f, x, v)`` returns the Hessian of ``f`` at ``x`` times ``v``,
    with two nested tapes (reverse over reverse). Checked against ``tapelab.hvp``."""
    if my_hvp is None:
        return no_answer("a function my_hvp(f, x, v) with two nested tapes")
    x, v = tf.constant([0.5, -1.0, 2.0]), tf.constant([1.0, 0.0, -1.0])
    want = np.asarray(tapelab.hvp(_loss, x, v))
    with calls_to(tf.GradientTape, "jacobian") as jacobians, \
            calls_to(tf.autodiff.ForwardAccumulator, "jvp") as jvps:
        got, error = call(my_hvp, _loss, x, v)
    if error is not None:
        return not_yet(f"my_hvp raised {raised(error)}.")
    value = array(got)
    if value is None:
        return not_yet(f"Return a tensor. Received: {got!r} (None: is x watched by both tapes?).")
    grad = np.asarray(tapelab.grad(_loss)(x))
    if close(value, grad):
        return not_yet("That is the gradient. Differentiate the dot product of the gradient "
                       "with v, with an outer tape around the inner one.")
    if not close(value, want):
        return not_yet("The vector differs from tapelab.hvp's: H v is the gradient of "
                       "(gradient . v) with respect to x.")
    if jvps:
        return not_yet("The vector is right, from forward mode over reverse: the exercise "
                       "asks for reverse over reverse, two nested GradientTapes.")
    if jacobians:
        return not_yet("The vector is right, but it formed the Hessian (a jacobian of the "
                       "gradient): the exercise is H v without H, from two gradient() calls.")
    return right("The gradient of (gradient . v) is H v, without forming H: what "
                 "tapelab.hvp computes.")
