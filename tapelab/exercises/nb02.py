"""Exercises of notebook 02: the shape of a gradient, and sources as a dict.

>>> print(gradient_shape((2, 3)))
Right. A gradient has its source's shape, (2, 3); the target, (2, 3) too, is summed first.
"""

import numpy as np
import tensorflow as tf

from tapelab.exercises.verdict import array, call, close, no_answer, not_yet, raised, right


def _gradient_of_scaled():
    x = tf.ones((2, 3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * tf.constant([1.0, 2.0, 3.0])  # a (2, 3) target: not a scalar
    return tape.gradient(y, x)


def gradient_shape(answer):
    """Exercise 1: the shape of ``tape.gradient(y, x)`` for ``x`` of shape (2, 3) and
    ``y = x * [1., 2., 3.]``, as a tuple."""
    if answer is None:
        return no_answer("the shape, a tuple such as (4, 5)")
    if isinstance(answer, tf.TensorShape):
        answer = tuple(answer)
    if not isinstance(answer, (tuple, list)) or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in answer):
        return not_yet(f"`answer` must be a shape, a tuple of ints. Received: {answer!r}.")
    shape = tuple(int(d) for d in answer)
    real = tuple(_gradient_of_scaled().shape)
    if shape == real:
        return right(f"A gradient has its source's shape, {real}; the target, (2, 3) too, "
                     "is summed first.")
    if shape == ():
        return not_yet("The target is summed to one number before differentiating, but "
                       "the gradient is one number per element of the source.")
    if shape == (3,):
        return not_yet("One number per element of the **source**: how many elements "
                       "does x have, in what shape?")
    return not_yet("tape.gradient returns one number per element of the source, in the "
                   "source's shape.")


def loss(params):
    """The loss of exercise 2: ``(w . [3, 4] + b)**2`` for ``params = {"w": ..., "b": ...}``."""
    return (tf.reduce_sum(params["w"] * tf.constant([3.0, 4.0])) + params["b"]) ** 2


def dict_gradients(gradients):
    """Exercise 2: ``gradients(params)`` returns the gradient of :func:`loss` with respect
    to the dict ``params``, as a dict with the same keys."""
    if gradients is None:
        return no_answer("a function gradients(params) that returns a dict of gradients")
    params = {"w": tf.Variable([1.0, 2.0]), "b": tf.Variable(0.5)}
    with tf.GradientTape() as tape:
        value = loss(params)
    expected = tape.gradient(value, params)
    got, error = call(gradients, params)
    if error is not None:
        return not_yet(f"gradients(params) raised {raised(error)}. Compute loss(params) "
                       "inside the tape, then differentiate it.")
    if isinstance(got, (list, tuple)):
        return not_yet("It returned a list. Pass the dict itself as the sources: "
                       "tape.gradient keeps the structure of what you pass.")
    if not isinstance(got, dict) or sorted(got) != ["b", "w"]:
        return not_yet(f"It must return a dict with keys 'w' and 'b'. Received: {got!r}.")
    missing = [k for k in ("w", "b") if got[k] is None]
    if missing:
        return not_yet(f"The gradient for {missing[0]!r} is None: compute the loss inside "
                       "the tape, from params itself (variables are watched by themselves).")
    for key in ("w", "b"):
        if not close(array(got[key]), np.asarray(expected[key])):
            return not_yet(f"The gradient for {key!r} is not d loss / d {key}: "
                           "differentiate loss(params), not another expression.")
    return right("tape.gradient(loss, params) gave a dict of the same keys: "
                 f"w {np.asarray(expected['w']).tolist()}, b {float(expected['b'])}.")
