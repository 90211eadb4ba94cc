"""Exercises of notebook 04: several gradients from one tape.

>>> print(two_gradients(None))
No answer yet: set `answer` to a function that returns (dy/dx, dz/dx) from one tape, then run the cell again.
"""

import tensorflow as tf

from tapelab.exercises.verdict import (
    call,
    calls_to,
    near,
    no_answer,
    not_yet,
    number,
    raised,
    right,
)


def _numbers(got, n):
    """``got`` as ``n`` numbers (a list, a tuple, a tensor or an array of n), else None."""
    try:
        items = list(got)
    except TypeError:
        return None
    values = [number(g) for g in items]
    return values if len(values) == n and None not in values else None


def two_gradients(gradients):
    """Exercise 1: ``gradients(x)`` returns ``(dy/dx, dz/dx)`` for ``y = x**2`` and
    ``z = y**2``, with ONE tape and two ``gradient`` calls."""
    if gradients is None:
        return no_answer("a function that returns (dy/dx, dz/dx) from one tape")
    for x in (3.0, -2.0):
        with calls_to(tf.GradientTape, "gradient") as calls:
            got, error = call(gradients, tf.constant(x))
        if isinstance(error, RuntimeError) and "persistent" in str(error):
            return not_yet("The second gradient() call failed: a tape releases its records "
                           "after one call unless it is persistent=True.")
        if error is not None:
            return not_yet(f"gradients(x) raised {raised(error)}.")
        if got is None or (isinstance(got, (list, tuple)) and any(g is None for g in got)):
            return not_yet("A gradient is None (or nothing was returned): is x, a constant, "
                           "watched?")
        values = _numbers(got, 2)
        if values is None:
            return not_yet(f"Return two numbers, (dy/dx, dz/dx). Received: {got!r}.")
        dy, dz = values
        want = (2 * x, 4 * x**3)
        if near(dy, want[1]) and near(dz, want[0]):
            return not_yet("The two are swapped: first dy/dx, then dz/dx.")
        if not (near(dy, want[0], 1e-4) and near(dz, want[1], 1e-4)):
            return not_yet(f"At x = {x} the tape gives other numbers than yours "
                           f"({dy}, {dz}): z is (x**2)**2, differentiated by x.")
        if not any(sum(u is t for u in calls) >= 2 for t in calls):
            return not_yet("The numbers are right, but not from two gradient() calls on one "
                           "tape, which is the exercise: record y and z once, ask twice.")
    return right("One persistent tape gave both: 2x, and 4x**3 through y (the chain rule).")


def one_call(gradients):
    """Exercise 2: ``gradients(x, w)`` returns ``[dy/dx, dy/dw]`` for ``y = w * x**2`` from
    a NON-persistent tape, in one ``gradient`` call."""
    if gradients is None:
        return no_answer("a function that returns [dy/dx, dy/dw] from one gradient call")
    x, w = tf.constant(3.0), tf.Variable(2.0)
    with calls_to(tf.GradientTape, "gradient") as calls:
        got, error = call(gradients, x, w)
    if error is not None:
        return not_yet(f"gradients(x, w) raised {raised(error)}.")
    if len(calls) != 1 or calls[0]._persistent:
        return not_yet(f"It made {len(calls)} gradient() call(s)"
                       + (" on a persistent tape" if any(t._persistent for t in calls) else "")
                       + ": one call can take several sources, and then no persistent "
                       "tape is needed.")
    values = _numbers(got, 2) if got is not None else None
    if values is None:
        return not_yet(f"Return [dy/dx, dy/dw]; a None means x (a constant) was not "
                       f"watched. Received: {got!r}.")
    if not (near(values[0], 12.0, 1e-4) and near(values[1], 9.0, 1e-4)):
        return not_yet("The numbers differ from the tape's: dy/dx = 2wx and dy/dw = x**2.")
    return right("One call with a list of sources gives every gradient: no persistent tape.")
