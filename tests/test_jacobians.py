"""jacrev and jacfwd return functions, as in JAX; each against the raw tape.jacobian."""

import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT32

import tapelab
from tapelab.jacobians import COMPILED


def f(x, a):
    return a * tf.sin(x) * tf.reduce_sum(x**2)


X = tf.constant([0.5, -1.0, 2.0])


def raw_jacobian(x, a):
    with tf.GradientTape() as t:
        t.watch(x)
        out = f(x, a)
    return t.jacobian(out, x)


@pytest.mark.parametrize("transform", [tapelab.jacrev, tapelab.jacfwd])
def test_jacrev_and_jacfwd_are_functions_equal_to_the_raw_tape(transform):
    jac = transform(f)  # a function, as jax.jacrev(f)
    assert callable(jac)
    got = jac(X, 2.0)
    assert got.shape == (3, 3)
    # pfor (and forward mode) against the raw tape: float32 in another op order
    np.testing.assert_allclose(got.numpy(), raw_jacobian(X, 2.0).numpy(), **FLOAT32)
    np.testing.assert_allclose(transform(f, argnums=(0,))(X, 2.0)[0].numpy(), got.numpy(),
                               **FLOAT32)


def test_jacrev_by_argnums_and_the_same_as_jacobian():
    def g(a, b):
        return a * b**2

    a, b = tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])
    ja, jb = tapelab.jacrev(g, argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(ja.numpy(), np.diag([9.0, 16.0]))   # b**2
    np.testing.assert_array_equal(jb.numpy(), np.diag([6.0, 16.0]))   # 2 a b
    for got, want in zip((ja, jb), tapelab.jacobian(g, a, b)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_jacrev_compiles_once_for_new_values():
    def h(x, a):
        return a * x**3

    jac = tapelab.jacrev(h)
    for i in range(4):
        jac(X + i, tf.constant(2.0 + i))
    assert [c.experimental_get_tracing_count() for c in COMPILED.values(h)] == [1]


def test_jacrev_refuses_a_bad_argnums():
    with pytest.raises(ValueError, match=r"`argnums` must index the 2 argument\(s\)"):
        tapelab.jacrev(f, argnums=2)(X, 2.0)
