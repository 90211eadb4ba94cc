"""Exercises of notebook 04: several gradients from one tape.

>>> print(two_gradients(None))
No answer yet: set `answer` to a function that returns (dy/dx, dz/dx) from one tape, then run the cell again.
"""

import tensorflow as tf

from tapelab.exercises.verdict import call, no_answer, not_yet, number, raised, right


def two_gradients(gradients):
    """Exercise 1: ``gradients(x)`` returns ``(dy/dx, dz/dx)`` for ``y = x**2`` and
    ``z = y**2``, with ONE tape and two ``gradient`` calls."""
    if gradients is None:
        return no_answer("a function that returns (dy/dx, dz/dx) from one tape")
    for x in (3.0, -2.0):
        got, error = call(gradients, tf.constant(x))
        if isinstance(error, RuntimeError) and "persistent" in str(error):
            return not_yet("The second gradient() call failed: a tape releases its records "
                           "after one call unless it is persistent=True.")
        if error is not None:
            return not_yet(f"gradients(x) raised {raised(error)}.")
        if not isinstance(got, (list, tuple)) or len(got) != 2:
            return not_yet(f"Return two gradients, (dy/dx, dz/dx). Received: {got!r}.")
        if any(g is None for g in got):
            return not_yet("A gradient is None: is x (a constant) watched?")
        dy, dz = (number(g) for g in got)
        want = (2 * x, 4 * x**3)
        if (dy, dz) == want[::-1] or (dy is not None and dz is not None
                                     and abs(dy - want[1]) < 1e-4 and abs(dz - want[0]) < 1e-4):
            return not_yet("The two are swapped: first dy/dx, then dz/dx.")
        if dy is None or dz is None or abs(dy - want[0]) > 1e-4 or abs(dz - want[1]) > 1e-3:
            return not_yet(f"At x = {x} the tape gives other numbers than yours "
                           f"({got[0]!r}, {got[1]!r}): z is (x**2)**2, differentiated by x.")
    return right("One persistent tape gave both: 2x, and 4x**3 through y (the chain rule).")


def one_call(gradients):
    """Exercise 2: ``gradients(x, w)`` returns ``[dy/dx, dy/dw]`` for ``y = w * x**2`` from
    a NON-persistent tape, in one ``gradient`` call."""
    if gradients is None:
        return no_answer("a function that returns [dy/dx, dy/dw] from one gradient call")
    x, w = tf.constant(3.0), tf.Variable(2.0)
    calls = []
    real = tf.GradientTape.gradient

    def counted(self, *args, **kwargs):
        calls.append(self._persistent)
        return real(self, *args, **kwargs)

    tf.GradientTape.gradient = counted
    try:
        got, error = call(gradients, x, w)
    finally:
        tf.GradientTape.gradient = real
    if error is not None:
        return not_yet(f"gradients(x, w) raised {raised(error)}.")
    if len(calls) != 1 or calls[0]:
        return not_yet(f"It made {len(calls)} gradient() call(s)"
                       + (" on a persistent tape" if any(calls) else "")
                       + ": pass both sources at once, tape.gradient(y, [x, w]), and no "
                       "persistent tape is needed.")
    values = [number(g) for g in (got or [])]
    if len(values) != 2 or None in values:
        return not_yet(f"Return [dy/dx, dy/dw]; a None means x was not watched. Received: "
                       f"{got!r}.")
    if abs(values[0] - 12.0) > 1e-4 or abs(values[1] - 9.0) > 1e-4:
        return not_yet("The numbers differ from the tape's: dy/dx = 2wx and dy/dw = x**2.")
    return right("One call with a list of sources gives every gradient: no persistent tape.")
