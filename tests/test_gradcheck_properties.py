"""Property tests: tape gradients against analytic derivatives and finite differences.

Random expressions are built from x, constants, +, *, sin, exp, tanh and x**n,
together with their derivative by the chain rule; everything runs in float64.
"""

import math

import numpy as np
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tapelab import value_and_gradient
from tapelab.diagnose.gradcheck import GradientCheck, check_gradient

# an expression is (tf function, analytic derivative as a NumPy function, text)
X = (lambda x: x, lambda x: np.ones_like(x), "x")


def const(c):
    return (lambda x: tf.zeros_like(x) + c, lambda x: np.zeros_like(x), repr(c))


def unary(e, kind, n=2):
    f, d, s = e
    if kind == "sin":  # (sin u)' = cos(u) u'
        return (lambda x: tf.sin(f(x)), lambda x: np.cos(f(x).numpy()) * d(x), f"sin({s})")
    if kind == "exp":  # (exp u)' = exp(u) u'
        return (lambda x: tf.exp(f(x)), lambda x: np.exp(f(x).numpy()) * d(x), f"exp({s})")
    if kind == "tanh":  # (tanh u)' = (1 - tanh(u)^2) u'
        return (lambda x: tf.tanh(f(x)),
                lambda x: (1 - np.tanh(f(x).numpy()) ** 2) * d(x), f"tanh({s})")
    # (u^n)' = n u^(n-1) u'
    return (lambda x: f(x) ** n, lambda x: n * f(x).numpy() ** (n - 1) * d(x), f"({s})**{n}")


def binary(a, b, op):
    (fa, da, sa), (fb, db, sb) = a, b
    if op == "+":
        return (lambda x: fa(x) + fb(x), lambda x: da(x) + db(x), f"({sa} + {sb})")
    # (uv)' = u'v + uv'
    return (lambda x: fa(x) * fb(x),
            lambda x: da(x) * fb(x).numpy() + fa(x).numpy() * db(x), f"({sa} * {sb})")


leaves = st.one_of(st.just(X), st.floats(-2, 2).map(lambda c: const(round(c, 3))))
expressions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["sin", "exp", "tanh", "pow"]),
                  st.integers(1, 4)).map(lambda t: unary(*t)),
        st.tuples(inner, inner, st.sampled_from(["+", "*"])).map(lambda t: binary(*t)),
    ),
    max_leaves=4,
)
points = st.lists(st.floats(-1, 1), min_size=1, max_size=4).map(
    lambda v: tf.constant(v, tf.float64))


@settings(max_examples=60, deadline=None)
@given(expressions, points)
def test_tape_matches_the_analytic_derivative(expr, x):
    f, d, text = expr
    value, grad = value_and_gradient(f, x)
    # float64: the tape's value is the same ops as f(x); its gradient against the analytic
    # derivative differs by a few eps64 per op, far below 1e-9
    np.testing.assert_allclose(value.numpy(), f(x).numpy(), rtol=1e-12, err_msg=text)
    # a constant expression does not depend on x: TF says None, the derivative is 0
    got = np.zeros(x.shape) if grad is None else grad.numpy()
    np.testing.assert_allclose(got, d(x), rtol=1e-9, atol=1e-12, err_msg=text)


@settings(max_examples=40, deadline=None)
@given(expressions, points)
def test_check_gradient_reports_a_small_error(expr, x):
    f, d, text = expr
    result = check_gradient(f, x, delta=1e-5)
    # central differences in float64 at delta 1e-5: truncation delta^2 |f'''| / 6 ~ 1e-10,
    # round-off eps64 |f| / delta ~ 1e-11 (both times the size of f): 1e-5 is a wide margin
    scale = max(1.0, float(np.max(np.abs(d(x)))))
    assert result.max_abs_error < 1e-5 * scale, (text, str(result))


@given(st.integers(2, 6), st.floats(-1, 1))
def test_polynomials(n, x0):
    x = tf.constant(x0, tf.float64)
    _, grad = value_and_gradient(lambda x: 3 * x**n - 2 * x + 1, x)
    # float64, a handful of ops: a few eps64 (2.2e-16) from the exact derivative
    assert math.isclose(float(grad), 3 * n * x0 ** (n - 1) - 2, rel_tol=1e-12, abs_tol=1e-12)


def test_check_gradient_catches_a_wrong_gradient():
    @tf.custom_gradient
    def bad_square(x):
        return x * x, lambda dy: dy * 3.0 * x  # wrong on purpose: should be 2x

    result = check_gradient(bad_square, tf.constant([1.0, 2.0], tf.float64))
    assert isinstance(result, GradientCheck)
    assert result.max_abs_error > 1.0 and result.max_rel_error > 0.3
    assert str(result).startswith("GradientCheck: max abs error 2.00e+00")


def test_float32_is_checked_too_with_a_looser_error():
    result = check_gradient(lambda x: tf.exp(x), tf.constant([0.1, 0.2]))
    # float32 differences: round-off eps32 / delta with TF's delta 1e-3 is ~1e-4 relative
    assert result.max_rel_error < 1e-2
    assert result.tape_gradient[0].dtype == np.float32
