"""grad, jvp, vjp, jacobian, hessian, hvp: against raw tapes and analytic derivatives."""

import logging

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tolerance import FLOAT32, FLOAT64

import tapelab
from benchmarks.references import hvp_forward_over_reverse
from tests.test_gradcheck_properties import expressions

X3 = tf.constant([0.5, -1.0, 2.0])


def cubic(x):  # sum(x**3) + x0 x1: H = diag(6x) + the x0-x1 coupling
    return tf.reduce_sum(x**3) + x[0] * x[1]


def cubic_hessian(x):
    h = np.diag(6 * x.numpy())
    h[0, 1] = h[1, 0] = 1.0
    return h


# --- grad -------------------------------------------------------------------------------------


def test_grad_matches_a_raw_tape_and_the_analytic_derivative():
    with tf.GradientTape() as t:
        t.watch(X3)
        y = cubic(X3)
    raw = t.gradient(y, X3)
    got = tapelab.grad(cubic)(X3)
    np.testing.assert_array_equal(got.numpy(), raw.numpy())
    np.testing.assert_allclose(got.numpy(), 3 * X3.numpy() ** 2 + [-1.0, 0.5, 0.0])


def test_grad_composes_and_takes_numbers():
    assert float(tapelab.grad(lambda x: x**3)(2.0)) == 12.0  # 3x^2
    d2 = tapelab.grad(tapelab.grad(lambda x: x**3))(2.0)  # 6x
    assert d2.dtype == tf.float32 and float(d2) == 12.0
    d3 = tapelab.grad(tapelab.grad(tapelab.grad(lambda x: x**3)))(2.0)
    assert float(d3) == 6.0


def test_grad_argnums_and_unconnected_zeros():
    def f(a, b, c):
        return a * b

    da, db = tapelab.grad(f, argnums=(0, 1))(2.0, 3.0, 4.0)
    assert (float(da), float(db)) == (3.0, 2.0)
    assert float(tapelab.grad(f, argnums=2)(2.0, 3.0, 4.0)) == 0.0  # as in JAX, not None
    assert float(tapelab.grad(f, argnums=-2)(2.0, 3.0, 4.0)) == 2.0
    (only,) = tapelab.grad(f, argnums=(1,))(2.0, 3.0, 4.0)
    assert float(only) == 2.0


def test_grad_errors():
    with pytest.raises(ValueError, match=r"must index the 1 argument\(s\).*argnums=3"):
        tapelab.grad(lambda x: x, argnums=3)(1.0)
    (g,) = tapelab.grad(lambda x: x * 3.0, argnums=[0])(1.0)  # a list, as JAX takes: a tuple
    assert float(g) == 3.0
    with pytest.raises(TypeError, match=r"int or a non-empty tuple of ints\. Received: "
                                        r"argnums='0'"):
        tapelab.grad(lambda x: x, argnums="0")(1.0)
    with pytest.raises(ValueError, match=r"must name each argument once\. Received: "
                                         r"argnums=\(0, 0\)"):
        tapelab.grad(lambda x: x, argnums=(0, 0))(1.0)
    with pytest.raises(ValueError, match=r"must return a scalar for grad\. Received: \(3,\)"):
        tapelab.grad(lambda x: x * 2)(X3)
    with pytest.raises(TypeError, match="floating dtype"):
        tapelab.grad(lambda x: x * 2)(tf.constant(3))


# --- jvp and vjp ----------------------------------------------------------------------------


def test_jvp_of_sin_x_times_x():
    t = tf.constant([1.0, 2.0, -1.0])
    y, dy = tapelab.jvp(lambda x: tf.sin(x) * x, (X3,), (t,))
    x = X3.numpy()
    # TF's float32 sin/cos against NumPy's: other implementations, a few ulp apart
    np.testing.assert_allclose(y.numpy(), np.sin(x) * x, **FLOAT32)
    np.testing.assert_allclose(dy.numpy(), (np.sin(x) + x * np.cos(x)) * t.numpy(), **FLOAT32)
    with tf.autodiff.ForwardAccumulator(X3, t) as acc:  # the raw version
        raw = tf.sin(X3) * X3
    # the same element-wise ops in the same order: exact
    np.testing.assert_array_equal(dy.numpy(), acc.jvp(raw).numpy())


def test_jvp_several_primals_and_structured_output():
    out, tangent = tapelab.jvp(lambda a, b: {"p": a * b, "s": a + b}, (2.0, 3.0), (1.0, 0.0))
    assert (float(out["p"]), float(tangent["p"]), float(tangent["s"])) == (6.0, 3.0, 1.0)


def test_jvp_errors():
    with pytest.raises(TypeError, match=r"must be tuples.*Received: EagerTensor and EagerTensor"):
        tapelab.jvp(tf.sin, X3, X3)
    with pytest.raises(ValueError, match=r"one direction per primal\. Received: 1 primal\(s\) "
                                         r"and 2 tangent\(s\)"):
        tapelab.jvp(tf.sin, (X3,), (X3, X3))
    with pytest.raises(ValueError, match=r"`tangents\[0\]` must have its primal's shape, "
                                         r"\(3,\)\. Received: shape \(2,\)"):
        tapelab.jvp(tf.sin, (X3,), (tf.ones(2),))
    with pytest.raises(TypeError, match=r"`tangents\[0\]` must have its primal's dtype, "
                                        r"float32\. Received: float64, for a primal of float32"):
        tapelab.jvp(tf.sin, (X3,), (np.ones(3),))  # as JAX: not cast silently
    with pytest.raises(TypeError, match=r"`tangents\[0\]` must have the structure of its "
                                        r"primal"):
        tapelab.jvp(lambda p: p["a"], ({"a": X3},), ({"b": X3},))


def test_vjp_matches_output_gradients_of_a_raw_tape():
    w = tf.constant([[1.0, 2.0, 3.0], [0.0, -1.0, 1.0]])
    y, vjp_fn = tapelab.vjp(lambda w, x: tf.linalg.matvec(w, tf.tanh(x)), w, X3)
    c = tf.constant([1.0, -2.0])
    dw, dx = vjp_fn(c)
    np.testing.assert_array_equal(y.numpy(), tf.linalg.matvec(w, tf.tanh(X3)).numpy())
    with tf.GradientTape() as t:
        t.watch([w, X3])
        raw = tf.linalg.matvec(w, tf.tanh(X3))
    rw, rx = t.gradient(raw, [w, X3], output_gradients=c)
    np.testing.assert_array_equal(dw.numpy(), rw.numpy())
    np.testing.assert_array_equal(dx.numpy(), rx.numpy())
    again = vjp_fn(tf.constant([0.0, 1.0]))  # callable more than once
    np.testing.assert_allclose(again[1].numpy(), (1 - np.tanh(X3.numpy()) ** 2) * [0.0, -1.0, 1.0],
                               **FLOAT32)  # TF's tanh against NumPy's
    with pytest.raises(ValueError, match=r"`cotangent` must have its output's shape, \(2,\)\. "
                                         r"Received: shape \(3,\)"):
        vjp_fn(tf.ones(3))


# --- jacobian, hessian, hvp --------------------------------------------------------------------


def test_jacobian_forward_equals_reverse_equals_raw_tape():
    m = tf.reshape(tf.range(6, dtype=tf.float32) / 3, (2, 3))

    def f(a, b):
        return tf.sin(a)[:, None] * tf.reduce_sum(b * b) + tf.reduce_sum(b, axis=0)

    reverse = tapelab.jacobian(f, X3, m)
    forward = tapelab.jacobian(f, X3, m, mode="forward")
    with tf.GradientTape(persistent=True) as t:
        t.watch([X3, m])
        out = f(X3, m)
    raw = [t.jacobian(out, s) for s in (X3, m)]
    assert [j.shape for j in reverse] == [(3, 3, 3), (3, 3, 2, 3)]
    for r, fw, rw in zip(reverse, forward, raw):
        # compiled pfor against the raw tape's, and forward against reverse mode: float32
        np.testing.assert_allclose(r.numpy(), rw.numpy(), **FLOAT32)
        np.testing.assert_allclose(fw.numpy(), rw.numpy(), **FLOAT32)


def test_jacobian_of_x_squared_and_bad_mode():
    np.testing.assert_array_equal(tapelab.jacobian(lambda x: x**2, X3, mode="forward").numpy(),
                                  np.diag(2 * X3.numpy()))
    with pytest.raises(ValueError, match=r"'reverse' or 'forward'\. Received: mode='fwd'"):
        tapelab.jacobian(tf.sin, X3, mode="fwd")


def test_hessian_analytic_and_against_nested_tapes():
    h = tapelab.hessian(cubic, X3)
    np.testing.assert_allclose(h.numpy(), cubic_hessian(X3), **FLOAT32)  # against NumPy
    with tf.GradientTape() as outer:
        outer.watch(X3)
        with tf.GradientTape() as inner:
            inner.watch(X3)
            y = cubic(X3)
        g = inner.gradient(y, X3)
    np.testing.assert_array_equal(h.numpy(), outer.jacobian(g, X3).numpy())
    m = tf.ones((2, 2))
    assert tapelab.hessian(lambda m: tf.reduce_sum(m**3), m).shape == (2, 2, 2, 2)


def test_hvp_both_nestings_equal_hessian_times_v():
    v = tf.constant([1.0, 2.0, -1.0])
    expected = cubic_hessian(X3) @ v.numpy()
    # float32 products against NumPy's H @ v: other sums
    np.testing.assert_allclose(tapelab.hvp(cubic, X3, v).numpy(), expected, **FLOAT32)
    np.testing.assert_allclose(hvp_forward_over_reverse(cubic, X3, v).numpy(), expected,
                               **FLOAT32)
    with pytest.raises(ValueError, match=r"`v` must have its primal's shape, \(3,\)\. "
                                         r"Received: shape \(2,\)"):
        tapelab.hvp(cubic, X3, tf.ones(2))


f64 = st.lists(st.floats(-1, 1), min_size=2, max_size=4)


@pytest.mark.slow  # 25 Hypothesis examples, each traced
@settings(max_examples=25, deadline=None)
@given(expressions, expressions, f64, st.randoms(use_true_random=False))
def test_hvp_is_hessian_times_v_on_random_compositions(e1, e2, point, rnd):
    (f1, _, s1), (f2, _, s2) = e1, e2

    def f(x):  # couples neighbours, so the Hessian is not diagonal
        return tf.reduce_sum(f1(x) * f2(tf.roll(x, 1, 0)))

    x = tf.constant(point, tf.float64)
    v = tf.constant([rnd.uniform(-1, 1) for _ in point], tf.float64)
    h = tapelab.hessian(f, x)
    assume(np.all(np.isfinite(h.numpy())))
    np.testing.assert_allclose(tapelab.hvp(f, x, v).numpy(), h.numpy() @ v.numpy(),
                               err_msg=f"{s1} * {s2}(roll x)", **FLOAT64)


# --- graph mode and retracing -------------------------------------------------------------


def test_every_transform_inside_tf_function_equals_eager():
    v = tf.constant([1.0, 2.0, -1.0])

    def all_of_them(x, v):
        return (tapelab.grad(cubic)(x), tapelab.jvp(tf.sin, (x,), (v,))[1],
                tapelab.vjp(tf.sin, x)[1](v)[0], tapelab.jacobian(tf.sin, x),
                tapelab.jacobian(tf.sin, x, mode="forward"), tapelab.hessian(cubic, x),
                tapelab.hvp(cubic, x, v))

    for graph, eager in zip(tf.function(all_of_them)(X3, v), all_of_them(X3, v)):
        np.testing.assert_allclose(graph.numpy(), eager.numpy(), **FLOAT32)  # grappler


@pytest.fixture
def retracing_log():
    records = []

    class Catch(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Catch()
    logger = tf.get_logger()
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def test_repeated_calls_do_not_retrace(retracing_log):
    for i in range(8):
        x = X3 + i
        tapelab.jacobian(tf.sin, x)
        tapelab.jacobian(tf.sin, x, mode="forward")
        tapelab.hessian(cubic, x)
        tapelab.hvp(cubic, x, x)
        tapelab.grad(cubic)(x)
        tapelab.jvp(tf.sin, (x,), (x,))
        tapelab.vjp(tf.sin, x)[1](x)
    assert not [m for m in retracing_log if "retracing" in m], retracing_log
    from tapelab.jacobians import COMPILED
    counts = [f.experimental_get_tracing_count() for f in COMPILED.values(cubic)]
    assert counts == [1, 1]  # hessian and hvp, each traced once


def test_tapelab_grad_is_the_transform_even_after_every_module_is_imported():
    import importlib
    import pkgutil

    for module in pkgutil.walk_packages(tapelab.__path__, "tapelab."):
        if module.name.rsplit(".", 1)[-1].startswith("__"):
            continue
        importlib.import_module(module.name)
    for name in tapelab.__all__:
        assert callable(getattr(tapelab, name)), name


def test_many_distinct_functions_do_not_read_as_retracing(retracing_log):
    for i in range(8):
        tapelab.jacobian(lambda x, i=i: tf.sin(x) * i, X3)
        tapelab.hessian(lambda x, i=i: tf.reduce_sum(x**3) * i, X3)
    assert not [m for m in retracing_log if "retracing" in m], retracing_log


# --- has_aux, as in JAX and torch.func ----------------------------------------------------------


def test_has_aux_returns_the_auxiliary_output_untouched():
    aux_in = {"note": "kept", "count": 3}
    g, aux = tapelab.grad(lambda x: (x**3, aux_in), has_aux=True)(2.0)
    assert float(g) == 12.0 and aux is aux_in
    (value, aux), grad = tapelab.value_and_gradient(lambda x: (x**2, x + 1.0), 3.0,
                                                    has_aux=True)
    assert (float(value), float(aux), float(grad)) == (9.0, 4.0, 6.0)
    out, vjp_fn, aux = tapelab.vjp(lambda x: (x * 2.0, "label"), X3, has_aux=True)
    np.testing.assert_array_equal(out.numpy(), 2.0 * X3.numpy())
    assert aux == "label"
    np.testing.assert_array_equal(vjp_fn(tf.ones(3))[0].numpy(), [2.0, 2.0, 2.0])


def test_has_aux_refuses_a_result_that_is_not_a_pair():
    with pytest.raises(TypeError, match=r"must return a pair \(output, aux\) when "
                                        r"has_aux=True in grad\. Received: EagerTensor"):
        tapelab.grad(lambda x: x**2, has_aux=True)(2.0)
    with pytest.raises(TypeError, match=r"in value_and_gradient\. Received: tuple of length 3"):
        tapelab.value_and_gradient(lambda x: (x, x, x), 2.0, has_aux=True)
    with pytest.raises(TypeError, match=r"`has_aux` must be True or False in vjp\. Received: "
                                        r"has_aux='no'"):
        tapelab.vjp(lambda x: (x, 1), 2.0, has_aux="no")


# --- complex numbers: TF's convention, JAX's with holomorphic=True ------------------------


def test_a_real_function_of_a_complex_number_follows_tfs_convention():
    """|z|^2 at 3+4j: 6+8j here (TF: the direction of steepest ascent), 6-8j in JAX."""
    g = tapelab.grad(lambda z: tf.math.real(z) ** 2 + tf.math.imag(z) ** 2)(3.0 + 4j)
    assert complex(g.numpy()) == 6 + 8j  # a Python complex number is a source: complex64


def test_holomorphic_gives_the_complex_derivative_as_jax_does():
    z = 3.0 + 4j
    g = tapelab.grad(tf.sin, holomorphic=True)(z)
    np.testing.assert_allclose(complex(g.numpy()), np.cos(z), rtol=1e-5)
    # not holomorphic: the derivative of the output's real part, as JAX's answer
    assert complex(tapelab.grad(tf.math.conj, holomorphic=True)(z).numpy()) == 1 + 0j
    zs = tf.constant([1 + 2j, 3 - 1j], tf.complex64)
    for transform in (tapelab.jacrev, tapelab.jacfwd):
        J = transform(tf.sin, holomorphic=True)(zs)
        np.testing.assert_allclose(np.diag(J.numpy()), np.cos(zs.numpy()), rtol=1e-5)


def test_a_complex_output_needs_holomorphic_and_holomorphic_needs_complex():
    with pytest.raises(TypeError, match=r"grad requires a real-valued output, as JAX's does\. "
                                        r"Received: dtype complex64\. For a holomorphic "
                                        r"function pass holomorphic=True"):
        tapelab.grad(tf.sin)(3.0 + 4j)
    with pytest.raises(TypeError, match=r"holomorphic=True requires complex inputs"):
        tapelab.grad(lambda x: tf.complex(x, x), holomorphic=True)(1.0)
    with pytest.raises(TypeError, match=r"jacfwd requires real inputs.*holomorphic=True"):
        tapelab.jacfwd(tf.sin)(tf.constant([1 + 1j], tf.complex64))
    with pytest.raises(TypeError, match=r"jacrev requires a real-valued output"):
        tapelab.jacrev(tf.sin)(tf.constant([1 + 1j], tf.complex64))


def test_jvp_of_a_complex_function_is_the_same_in_tf_and_jax():
    """The cookbook's check: the jvp of f(x + iy) = u + iv is du + i dv along c + id."""
    a, b, c, d = 0.3, -0.7, 1.1, 0.4

    def fun(z):
        x, y = tf.math.real(z), tf.math.imag(z)
        return tf.complex(a * x + b * y, c * x + d * y)

    z, z_dot = 0.5 + 0.25j, 0.6 + 0.8j
    _, ans = tapelab.jvp(fun, (z,), (tf.constant(z_dot, tf.complex64),))
    expected = (a * 0.6 + b * 0.8) + 1j * (c * 0.6 + d * 0.8)
    np.testing.assert_allclose(complex(ans.numpy()), expected, rtol=1e-5)


def test_forward_mode_on_complex_primals_logs_no_tf_warning(caplog):
    """TF's ForwardAccumulator logs "The dtype of the watched primal must be floating" for
    a complex primal, though its jvp is right (JAX's, tests/test_cookbook.py): not shown."""
    import logging

    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for _ in range(6):  # TF logs it for the first 5 calls
            _, t = tapelab.jvp(tf.sin, (3.0 + 4j,), (1.0 + 0j,))
            tapelab.jacfwd(tf.sin, holomorphic=True)(tf.constant([1.0 + 1j]))
    np.testing.assert_allclose(t.numpy(), np.cos(3 + 4j), rtol=1e-5)
    assert not [r for r in caplog.records if "watched primal" in r.getMessage()]


def test_one_tensor_in_two_places_gets_a_gradient_per_place_as_in_jax():
    x = tf.constant(1.0)
    g = tapelab.grad(lambda a, b: 2 * a + 3 * b, argnums=(0, 1))(x, x)
    assert [float(t) for t in g] == [2.0, 3.0]  # a raw tape would give 5.0 to both
    z = tf.zeros(3)
    d = tapelab.grad(lambda p: tf.reduce_sum(p["W"] * [1.0, 2.0, 3.0] + 10 * p["b"]))(
        {"W": z, "b": z})
    assert d["W"].numpy().tolist() == [1.0, 2.0, 3.0] and d["b"].numpy().tolist() == [10.0] * 3
    _, t = tapelab.jvp(lambda a, b: a + 2 * b, (x, x), (x, x))
    assert float(t) == 3.0
    _, vjp_fn = tapelab.vjp(lambda a, b: 2 * a + 3 * b, x, x)
    assert [float(t) for t in vjp_fn(tf.constant(1.0))] == [2.0, 3.0]


def test_refusals_name_what_was_received():
    with pytest.raises(TypeError, match=r"requires a float output.*Received: dtype int32"):
        tapelab.grad(lambda a: tf.cast(tf.reduce_sum(a), tf.int32))(X3)
    with pytest.raises(TypeError, match=r"vjp requires a float output.*dtype bool"):
        tapelab.vjp(lambda a: a > 0, X3)
    with pytest.raises(TypeError, match=r"jacrev requires a float output"):
        tapelab.jacrev(lambda a: tf.cast(a, tf.int32))(X3)
    with pytest.raises(TypeError, match=r"tapelab.grad takes positional arguments only\. "
                                        r"Received: keyword argument\(s\) s\."):
        tapelab.grad(lambda a, s=1.0: a * s)(X3[0], s=3.0)
    with pytest.raises(TypeError, match=r"`fn` must be a callable for grad\. Received: int 3"):
        tapelab.grad(3)


def test_jvp_has_aux_and_grad_of_a_frozen_variable_as_jax_would():
    y, t, aux = tapelab.jvp(lambda a: (a ** 2, "kept"), (3.0,), (1.0,), has_aux=True)
    assert (float(y), float(t), aux) == (9.0, 6.0, "kept")
    frozen = tf.Variable(3.0, trainable=False)  # a plain tape would not watch it
    assert float(tapelab.grad(lambda v: v * v)(frozen)) == 6.0
