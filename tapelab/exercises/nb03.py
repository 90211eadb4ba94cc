"""Exercises of notebook 03: what a tape watches.

>>> print(predict_watch(None))
No answer yet: set `answer` to a list of four predictions, each None or a number, then run the cell again.
"""

import keras
import tensorflow as tf

from tapelab.exercises.verdict import call, near, no_answer, not_yet, number, raised, right

SNIPPETS = '''\
# (a) a constant, not watched
x = tf.constant(3.0)
with tf.GradientTape() as tape:
    y = x * x
tape.gradient(y, x)

# (b) a trainable variable
v = tf.Variable(3.0)
with tf.GradientTape() as tape:
    y = v * v
tape.gradient(y, v)

# (c) a variable with trainable=False
w = tf.Variable(3.0, trainable=False)
with tf.GradientTape() as tape:
    y = w * w
tape.gradient(y, w)

# (d) a constant, watched
x = tf.constant(3.0)
with tf.GradientTape() as tape:
    tape.watch(x)
    y = 2.0 * x
tape.gradient(y, x)
'''

HINTS = {
    "a": "(a): a tape watches trainable variables by itself; a constant only after "
         "tape.watch.",
    "b": "(b): a trainable variable read inside the tape is watched by itself.",
    "c": "(c): trainable=False means the tape does not watch it by itself.",
    "d": "(d): a watched constant gets its gradient: what is d(2x)/dx?",
}


def _run_snippets():
    scope = {"tf": tf}
    results = {}
    for label, code in zip("abcd", SNIPPETS.split("\n\n")):
        *body, last = code.strip().splitlines()
        exec("\n".join(body), scope)  # noqa: S102 - the snippets above, run for real
        got = eval(last, scope)
        results[label] = None if got is None else float(got)
    return results


def predict_watch(answer):
    """Exercise 1: for the four snippets of :data:`SNIPPETS`, predict what
    ``tape.gradient`` returns: None, or the number."""
    if answer is None:
        return no_answer("a list of four predictions, each None or a number")
    if not isinstance(answer, (list, tuple)) or len(answer) != 4:
        return not_yet(f"`answer` must be a list of four predictions. Received: {answer!r}.")
    real = _run_snippets()
    wrong = []
    for label, guess in zip("abcd", answer):
        value = number(guess)
        missed = (real[label] is None) != (guess is None) or (
            guess is not None and not near(value, real[label]))
        if missed:
            wrong.append(label)
    if not wrong:
        return right("A tape records what it watches: trainable variables by itself, a "
                     "constant only after tape.watch, a trainable=False variable never "
                     "by itself.")
    return not_yet(f"{len(wrong)} of 4 differ from the tape. " + " ".join(HINTS[w] for w in wrong))


def frozen_gradient(gradient):
    """Exercise 2: ``gradient(v)`` returns d(v*v)/dv for a Keras 3 variable ``v`` with
    ``trainable=False``."""
    if gradient is None:
        return no_answer("a function gradient(v) that returns d(v * v)/dv")
    for start in (4.0, -1.5):
        v = keras.Variable(start, trainable=False)
        got, error = call(gradient, v)
        if isinstance(error, ValueError) and ("watch" in str(error).lower()
                                              or "not tf.Tensor or tf.Variable" in str(error)):
            return not_yet("tape.watch(v) refuses a Keras 3 variable (it is not a "
                           "tf.Variable): watch v.value, or let tapelab.tape(watch=v) do it.")
        if error is not None:
            return not_yet(f"gradient(v) raised {raised(error)}.")
        if got is None:
            return not_yet("It returned None: a trainable=False variable is not watched by "
                           "itself. Watch it by name.")
        value = number(got)
        if not near(value, 2 * start):
            return not_yet(f"gradient(v) at v = {start} returned {got!r}, not d(v*v)/dv.")
    return right("A frozen variable gets a gradient once it is watched by name; the tape "
                 "gives 2v.")
