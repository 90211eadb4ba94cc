"""Exercises of notebook 01: a derivative by hand, then by tape.

>>> print(derivative_by_hand(-6.0))
Right. f'(x) = 2x + 2, so f'(-4) = -6.0; the tape gives the same.
"""

import tensorflow as tf

from tapelab.exercises.verdict import call, near, no_answer, not_yet, number, raised, right

POINTS = (-4.0, 0.5, 5.0)


def f(x):
    """The notebook's function, f(x) = x**2 + 2x + 1."""
    return x**2 + 2 * x + 1


def _slope(x):
    x = tf.constant(float(x))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    return float(tape.gradient(y, x))


def derivative_by_hand(answer):
    """Exercise 1: f'(-4), worked out by hand, checked against a tape."""
    if answer is None:
        return no_answer("f'(-4) as a number")
    value = number(answer)
    if value is None:
        return not_yet(f"`answer` must be one number. Received: {answer!r}.")
    slope = _slope(-4.0)
    if near(value, slope):
        return right(f"f'(x) = 2x + 2, so f'(-4) = {slope}; the tape gives the same.")
    if near(value, float(f(-4.0))):
        return not_yet("That is f(-4), the value of the function. The derivative is its "
                       "slope: differentiate first, then put x = -4.")
    if near(-value, slope):
        return not_yet("The size is right, the sign is not: at x = -4, left of the "
                       "minimum, f is falling.")
    if near(value, _slope(5.0)):
        return not_yet("That is f'(5), the notebook's point. Put x = -4 into f'(x).")
    return not_yet("Differentiate term by term (the power rule): x**2 gives 2x, 2x gives "
                   "2, and 1 gives 0. Then put x = -4.")


def derivative_by_tape(derivative):
    """Exercise 2: ``derivative(x)`` takes a Python float and returns f'(x) from a tape."""
    if derivative is None:
        return no_answer("a function derivative(x) that returns f'(x) from a tf.GradientTape")
    for x in POINTS:
        got, error = call(derivative, x)
        if error is not None:
            return not_yet(f"derivative({x}) raised {raised(error)}. Run derivative({x}) in a "
                           "cell of its own to see where.")
        if got is None:
            return not_yet(f"derivative({x}) returned None: either it returns nothing (no "
                           "`return`), or the tape did not watch x (a constant is watched "
                           "only after tape.watch; a tf.Variable by itself).")
        value = number(got)
        if value is None:
            return not_yet(f"derivative({x}) must return one number or scalar tensor. "
                           f"Received: {got!r}.")
        if near(value, float(f(x))) and not near(value, _slope(x)):
            return not_yet(f"derivative({x}) returned f({x}), the value: return "
                           "tape.gradient(y, x), not y.")
        if not near(value, _slope(x), 1e-4):
            return not_yet(f"derivative({x}) returned {value}, not the slope of f there. "
                           "Compute y = f(x) inside the tape, then tape.gradient(y, x).")
    return right(f"derivative(x) agrees with 2x + 2 at x = {', '.join(map(str, POINTS))}.")
