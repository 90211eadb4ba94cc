"""Exercises of notebook 07: diagnose a None gradient, then fix it.

>>> print(diagnose("no idea"))
Not yet. `answer` must be one of explain_none's cause codes (see its FIXES, or notebook 07's sections). Received: 'no idea'.
"""

import tensorflow as tf

import tapelab
from tapelab.diagnose.explain import FIXES
from tapelab.exercises.verdict import call, near, no_answer, not_yet, number, raised, right

POINT = 1.7


def broken(x):
    """The function of exercise 1: ``x`` cut to tenths (toward zero). Its gradient with
    respect to a variable ``x`` is None."""
    tenths = tf.cast(x * 10.0, tf.int32)
    return tf.cast(tenths, tf.float32) / 10.0


def diagnose(answer):
    """Exercise 1: the cause code ``explain_none`` gives for ``broken`` at a variable."""
    if answer is None:
        return no_answer("a cause code, a string such as 'not_watched'")
    if not isinstance(answer, str) or answer not in FIXES:
        return not_yet("`answer` must be one of explain_none's cause codes (see its FIXES, "
                       f"or notebook 07's sections). Received: {answer!r}.")
    x = tf.Variable(POINT)
    causes = [f.cause for f in tapelab.explain_none(broken, x)]
    with tf.GradientTape() as tape:
        y = broken(x)
    if tape.gradient(y, x) is None and answer in causes:
        return right(f"explain_none says {answer!r}: the only path from x to the output "
                     "passes through int32, which carries no gradient.")
    if answer == "not_watched":
        return not_yet("x is a tf.Variable: the tape watches it. Follow the path from x "
                       "to the output: what dtype does it pass through?")
    if answer == "stop_gradient":
        return not_yet("There is no tf.stop_gradient here. What dtype does the value pass "
                       "through on its way?")
    return not_yet("That is not the cause. Follow the path from x to the output op by op: "
                   "which one can carry no gradient, and why? Notebook 07's sections name "
                   "each cause.")


def cut(x):
    """The function of exercise 2: 3 x**2, with its gradient cut by tf.stop_gradient."""
    return tf.stop_gradient(x**2) * 3.0


def fix(fixed):
    """Exercise 2: ``fixed(x)`` computes what :func:`cut` computes, 3 x**2, and gets the
    tape's gradient, 6x."""
    if fixed is None:
        return no_answer("a function fixed(x) with cut's values and a gradient")
    for start in (2.0, -0.5):
        x = tf.Variable(start)
        with tf.GradientTape() as tape:
            got, error = call(fixed, x)
        if error is not None:
            return not_yet(f"fixed(x) raised {raised(error)}.")
        value = number(got)
        if not near(value, float(cut(x))):
            return not_yet(f"fixed({start}) returned {got!r}: keep cut's value, 3 x**2; "
                           "only its gradient should change.")
        if not isinstance(got, tf.Tensor):
            return not_yet(f"fixed({start}) returned a {type(got).__name__}, which is off the "
                           "tape (float() and .numpy() leave it): return the tensor.")
        grad = tape.gradient(got, x)
        if grad is None:
            causes = [f.cause for f in tapelab.explain_none(fixed, tf.Variable(start))]
            return not_yet(f"The gradient is still None; explain_none says {causes}.")
        if not near(number(grad), 6 * start, 1e-4):
            return not_yet(f"The gradient at {start} is {float(grad)}, not d(3x**2)/dx.")
    return right("Without the stop, the tape differentiates all of 3 x**2: 6x.")
