"""Exercises of notebook 06: a second derivative from nested tapes, and a Jacobian.

>>> print(second_derivative(None))
No answer yet: set `answer` to a function d2(x) that returns the second derivative of x**3, then run the cell again.
"""

import numpy as np
import tensorflow as tf

import tapelab
from tapelab.exercises.verdict import (
    array,
    call,
    calls_to,
    close,
    near,
    no_answer,
    not_yet,
    number,
    raised,
    right,
)


def second_derivative(d2):
    """Exercise 1: ``d2(x)`` returns the second derivative of ``x**3`` at ``x`` (a float
    tensor), from two nested tapes. Checked against ``tapelab.hessian``."""
    if d2 is None:
        return no_answer("a function d2(x) that returns the second derivative of x**3")
    for x in (1.0, 3.0, -0.5):
        with calls_to(tf.GradientTape, "gradient") as calls:
            got, error = call(d2, tf.constant(x))
        if error is not None:
            return not_yet(f"d2({x}) raised {raised(error)}.")
        if got is None:
            return not_yet("It returned None: the outer tape recorded nothing it could "
                           "differentiate. It must watch x (a constant) too, and the inner "
                           "gradient must be computed inside it.")
        value, want = number(got), float(tapelab.hessian(lambda t: t**3, tf.constant(x)))
        if value is None and array(got) is not None and array(got).size == 1:
            return not_yet(f"Return one number (a scalar tensor), not a list. Received: "
                           f"{got!r}.")
        if near(value, 3 * x**2, 1e-4) and not near(want, 3 * x**2, 1e-4):
            return not_yet("That is the first derivative, 3x**2: differentiate it once more, "
                           "with an outer tape around the inner one.")
        if not near(value, want, 1e-4):
            return not_yet(f"d2({x}) returned {got!r}, not the second derivative of x**3 "
                           "there.")
        if len(calls) < 2:
            return not_yet("The numbers are right, but not from two gradient() calls, an "
                           "inner tape's and an outer one's: that is the exercise.")
    return right("Two nested tapes give 6x, as tapelab.hessian does.")


def f(x):
    """The function of exercise 2: three outputs of three inputs, coupled."""
    return tf.stack([x[0] * x[1], x[1] ** 2, x[0] + 3.0 * x[2]])


def jacobian(jac):
    """Exercise 2: ``jac(x)`` returns the Jacobian of :func:`f` at a vector ``x``, a
    matrix (rows are outputs, columns inputs). Checked against ``tapelab.jacobian``."""
    if jac is None:
        return no_answer("a function jac(x) that returns the Jacobian matrix of nb06.f")
    x = tf.constant([1.0, -2.0, 3.0])
    want = np.asarray(tapelab.jacobian(f, x))
    got, error = call(jac, x)
    if error is not None:
        return not_yet(f"jac(x) raised {raised(error)}.")
    value = array(got)
    if value is None:
        return not_yet(f"Return a tensor. Received: {got!r} (None: is x watched?).")
    if value.shape == (3,):
        return not_yet("That is a vector: tape.gradient sums the outputs first. "
                       "tape.jacobian keeps one row per output.")
    if value.shape == want.shape and close(value.T, want):
        return not_yet("Rows and columns are swapped: row i holds the derivatives of "
                       "output i.")
    if not close(value, want):
        return not_yet("The matrix differs from the tape's: entry (i, j) is d out_i / d x_j.")
    return right("tape.jacobian gives one row per output: d out_i / d x_j at (i, j).")
