"""jit (tapelab/compiling.py): a traced graph equal to the eager function, traced once per
signature, retraced when a value the function reads changes, composing with the transforms."""

import collections
import sys

import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT32

import tapelab
from tapelab.compiling import COMPILED

X = tf.constant([0.5, -1.0, 2.0])


def test_jit_equals_eager_and_traces_once_per_signature():
    calls = collections.deque()  # not a list: the cache reads lists f closes over

    def f(x):
        calls.append(1)  # a Python side effect: at tracing only, as with jax.jit
        return tf.reduce_sum(tf.sin(x) ** 2)

    g = tapelab.jit(f)
    for i in range(4):
        np.testing.assert_allclose(float(g(X + i)), float(f(X + i)), **FLOAT32)
    assert len(calls) == 1 + 4  # one trace, and the four eager references
    g(tf.ones(5))  # another shape: another trace
    assert len(calls) == 1 + 4 + 1


def test_jit_of_grad_of_vmap_and_of_a_vjp_function():
    f = lambda x: tf.reduce_sum(x ** 3)
    np.testing.assert_allclose(tapelab.jit(tapelab.grad(f))(X).numpy(), (3 * X ** 2).numpy(),
                               **FLOAT32)
    v = tapelab.jit(tapelab.vmap(lambda x: tf.reduce_sum(x)))(tf.ones((4, 3)))
    assert v.numpy().tolist() == [3.0, 3.0, 3.0, 3.0]

    _, f_vjp = tapelab.vjp(lambda x: x ** 3, 2.0)  # the cookbook's is in test_cookbook.py
    (g,) = tapelab.jit(f_vjp)(tf.constant(1.0))
    assert float(g) == 12.0


def test_a_changed_closure_global_or_module_attribute_retraces(tmp_path, monkeypatch):
    (tmp_path / "cfg_for_jit.py").write_text("S = 2.0\n")
    (tmp_path / "user_for_jit.py").write_text(
        "import cfg_for_jit as cfg\n\ndef f(x):\n    return cfg.S * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import cfg_for_jit
    import user_for_jit

    try:
        j = tapelab.jit(user_for_jit.f)
        assert float(j(tf.constant(3.0))) == 6.0
        cfg_for_jit.S = 5.0  # an attribute of a module the function names: read, as asked
        assert float(j(tf.constant(3.0))) == 15.0
    finally:
        sys.modules.pop("cfg_for_jit", None)
        sys.modules.pop("user_for_jit", None)
    scale = {"s": 1.0}

    def h(x):
        return scale["s"] * x

    k = tapelab.jit(h)
    assert float(k(tf.constant(2.0))) == 2.0
    scale["s"] = 4.0
    assert float(k(tf.constant(2.0))) == 8.0


def test_xla_is_an_option():
    g = tapelab.jit(lambda x: tf.reduce_sum(x ** 2), jit_compile=True)
    assert float(g(X)) == pytest.approx(float(tf.reduce_sum(X ** 2)))
    with pytest.raises(TypeError, match=r"`jit_compile` must be True or False"):
        tapelab.jit(lambda x: x, jit_compile="yes")


def test_why_xla_is_not_the_default_checks_do_not_run_under_it():
    """The reason compiling.py gives: under XLA a tf.debugging check is dropped silently."""
    def checked(x):
        return tf.debugging.check_numerics(x, "x has a NaN") * 2.0

    nan = tf.constant([np.nan])
    with pytest.raises(tf.errors.InvalidArgumentError, match="x has a NaN"):
        tapelab.jit(checked)(nan)  # the default plain graph runs the check
    assert np.isnan(tapelab.jit(checked, jit_compile=True)(nan).numpy()).all()


def test_inside_a_users_tf_function_it_runs_inline():
    g = tapelab.jit(lambda x: x * 2.0)
    outer = tf.function(lambda x: g(x) + 1.0)
    assert float(outer(tf.constant(1.0))) == 3.0
    assert COMPILED.entries(g) == 0  # nothing compiled of its own inside a trace


def test_numpy_arrays_and_python_floats_trace_once_per_shape_and_dtype_as_in_jax():
    f = tapelab.jit(lambda a, lr: a * lr)
    for n in (2, 3, 2, 3):
        out = f(np.ones(n, np.float32), 0.5)
        assert out.numpy().tolist() == [0.5] * n
    for lr in (0.1, 0.2, 0.3):  # a changing Python float is a tensor input, not a new trace
        f(np.ones(2, np.float32), lr)
    (traces,) = COMPILED.values(f.__wrapped__ if hasattr(f, "__wrapped__") else f) or [None]
    assert traces is not None and len(traces.concrete) == 2  # shapes (2,) and (3,)
    g = tapelab.jit(lambda p: p["a"] * 2.0)
    assert g({"a": np.ones(2, np.float64)}).dtype == tf.float64
    assert g({"a": np.ones(2, np.float32)}).dtype == tf.float32


def test_a_submodule_attribute_and_a_signed_zero_are_never_stale(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg_for_jit"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "settings.py").write_text("S = 2.0\n")
    (tmp_path / "user_of_pkg.py").write_text(
        "import pkg_for_jit.settings\n\ndef f(x):\n    return x * pkg_for_jit.settings.S\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import pkg_for_jit.settings
    import user_of_pkg

    try:
        j = tapelab.jit(user_of_pkg.f)
        assert float(j(tf.constant(3.0))) == 6.0
        pkg_for_jit.settings.S = 5.0
        assert float(j(tf.constant(3.0))) == 15.0
    finally:
        for name in ("pkg_for_jit.settings", "pkg_for_jit", "user_of_pkg"):
            sys.modules.pop(name, None)
    z = 0.0
    k = tapelab.jit(lambda a: a / z)
    assert float(k(tf.constant(1.0))) == np.inf
    z = -0.0
    assert float(k(tf.constant(1.0))) == -np.inf


def test_a_function_that_changes_what_it_reads_on_every_call_is_named_in_a_warning():
    traces = []

    def f(a):
        traces.append(1)  # JAX's trace counter: here, a value f reads that changes
        return tf.reduce_sum(a)

    g = tapelab.jit(f)
    for _ in range(4):
        g(tf.ones(2))
    with pytest.warns(UserWarning, match=r"traced f 5 times for one setting.*collections\.deque"):
        g(tf.ones(2))
    assert len(traces) == 5  # never an old trace: each call traced anew
