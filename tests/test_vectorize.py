"""vmap (tapelab/vectorize.py): against a Python loop of the same function, with in_axes and
out_axes, composed with grad, vjp and jvp, compiled once, never stale."""

import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT32

import tapelab
from tapelab.vectorize import COMPILED

RNG = np.random.default_rng(0)
XS = tf.constant(RNG.normal(size=(5, 3)), tf.float32)


def loop(fn, *args, axes):
    """The reference: fn on each example, stacked."""
    n = next(a.shape[ax] for a, ax in zip(args, axes) if ax is not None)
    rows = []
    for i in range(n):
        rows.append(fn(*[a if ax is None else tf.gather(a, i, axis=ax)
                         for a, ax in zip(args, axes)]))
    return tf.nest.map_structure(lambda *r: tf.stack(r), *rows)


def test_a_batch_equals_a_loop_of_examples():
    def f(x):
        return tf.reduce_sum(tf.sin(x) * x)

    np.testing.assert_allclose(tapelab.vmap(f)(XS).numpy(), loop(f, XS, axes=(0,)).numpy(),
                               **FLOAT32)


def test_in_axes_none_broadcasts_and_other_axes_and_out_axes():
    w = tf.constant([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])

    def f(w, x):
        return tf.linalg.matvec(w, x)  # (2,)

    got = tapelab.vmap(f, in_axes=(None, 1), out_axes=1)(w, tf.transpose(XS))
    want = tf.transpose(loop(f, w, XS, axes=(None, 0)))
    np.testing.assert_allclose(got.numpy(), want.numpy(), **FLOAT32)
    assert got.shape == (2, 5)


def test_structures_in_and_out():
    def f(p):
        return {"s": tf.reduce_sum(p["a"]) * p["b"], "a2": p["a"] ** 2}

    batch = {"a": XS, "b": tf.range(5, dtype=tf.float32)}
    got = tapelab.vmap(f)(batch)
    np.testing.assert_allclose(got["s"].numpy(), (tf.reduce_sum(XS, 1) * batch["b"]).numpy(),
                               **FLOAT32)
    np.testing.assert_allclose(got["a2"].numpy(), (XS ** 2).numpy(), **FLOAT32)


def test_vmap_of_grad_gives_per_example_gradients_of_a_plain_function():
    w = tf.constant([0.5, -1.0, 2.0])
    ys = tf.constant(RNG.normal(size=5), tf.float32)

    def loss(w, x, y):
        return (tf.reduce_sum(w * x) - y) ** 2

    got = tapelab.vmap(tapelab.grad(loss), in_axes=(None, 0, 0))(w, XS, ys)
    want = loop(tapelab.grad(loss), w, XS, ys, axes=(None, 0, 0))
    np.testing.assert_allclose(got.numpy(), want.numpy(), **FLOAT32)


def test_matrix_jacobian_and_jacobian_matrix_products():
    w = tf.constant(RNG.normal(size=3), tf.float32)

    def f(w):
        return tf.sigmoid(tf.linalg.matvec(XS, w))  # (5,)

    _y, vjp_fn = tapelab.vjp(f, w)
    M = tf.constant(RNG.normal(size=(7, 5)), tf.float32)
    (mjp,) = tapelab.vmap(vjp_fn)(M)
    J = tapelab.jacrev(f)(w)
    np.testing.assert_allclose(mjp.numpy(), (M @ J).numpy(), **FLOAT32)
    S = tf.constant(RNG.normal(size=(4, 3)), tf.float32)
    jmp = tapelab.vmap(lambda s: tapelab.jvp(f, (w,), (s,))[1])(S)
    np.testing.assert_allclose(jmp.numpy(), (S @ tf.transpose(J)).numpy(), **FLOAT32)


def test_compiled_once_and_never_stale():
    scale = [2.0]

    def f(x):
        return scale[0] * tf.reduce_sum(x)

    v = tapelab.vmap(f)
    first = v(XS)
    for _ in range(3):
        v(XS + 1.0)
    assert [c.experimental_get_tracing_count() for c in COMPILED.values(f)] == [1]
    scale[0] = 3.0  # a value f reads changed: a new trace, not the old answer
    np.testing.assert_allclose(v(XS).numpy(), 1.5 * first.numpy(), **FLOAT32)


@pytest.mark.parametrize("kwargs, call, error, match", [
    ({"in_axes": "0"}, None, TypeError, r"`in_axes` must be an int \(the axis\) or None"),
    ({"in_axes": (0, 0)}, "one", ValueError, r"one axis \(or None\) per argument.*for 1 arg"),
    ({"in_axes": None}, "one", ValueError, r"at least one mapped argument"),
    ({"in_axes": 2}, "one", ValueError, r"maps axis 2 of argument 0, which has rank 2"),
    ({"out_axes": None}, None, TypeError, r"`out_axes` must be an int"),
    ({}, "two", ValueError, r"mapped axes must all have one size.*sizes \[4, 5\]"),
])
def test_bad_axes_say_what_was_received(kwargs, call, error, match):
    with pytest.raises(error, match=match):
        v = tapelab.vmap(lambda *a: a[0], **kwargs)
        if call == "one":
            v(XS)
        elif call == "two":
            v(XS, XS[:4])


def test_batch_sizes_are_checked_on_every_call_not_only_the_first_trace():
    v = tapelab.vmap(lambda a, b: a * b)
    v(tf.ones((2, 3)), tf.ones((2, 3)))
    v(tf.ones((4, 3)), tf.ones((4, 3)))  # a second shape: the trace relaxes the batch size
    with pytest.raises(ValueError, match=r"sizes \[1, 6\]"):
        v(tf.reshape(tf.range(6.0), (6, 1)), tf.constant([[10.0]]))
    with pytest.raises(ValueError, match=r"sizes \[5, 6\]"):
        v(tf.ones((5, 3)), tf.ones((6, 3)))


def test_out_axes_out_of_range_and_outputs_that_are_not_tensors_are_refused():
    with pytest.raises(ValueError, match=r"`out_axes` must be an axis of each batched output, "
                                         r"from -2 to 1.*Received: out_axes=5"):
        tapelab.vmap(lambda x: x * 2, out_axes=5)(tf.ones((2, 3)))
    with pytest.raises(ValueError, match=r"from -1 to 0"):
        tapelab.vmap(lambda x: tf.reduce_sum(x), out_axes=1)(tf.ones((2, 3)))
    with pytest.raises(TypeError, match=r"must return tensors.*Received: NoneType"):
        tapelab.vmap(lambda x: None)(tf.ones((2, 3)))
