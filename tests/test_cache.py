"""The one compile cache (tapelab/_cache.py): reused only when the call is certainly the same.

Each case of the issue "Nothing lost, nothing stale" is here: a value a function
reads changes between calls, and the new value must take effect, as it does with
tapelab.grad and with JAX without jit.
"""

import collections
import gc
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

import tapelab
from tapelab._cache import CompileCache, fingerprint
from tapelab.fine_tuning.compiled import STEPS
from tapelab.jacobians import COMPILED
from tapelab.per_example import COMPILED as PER_EXAMPLE

X = tf.constant([1.0, 2.0])


# --- the rule --------------------------------------------------------------------------------


def test_values_are_compared_by_value_and_objects_by_identity():
    def fp(obj):
        return fingerprint(obj, [])

    assert fp([1.0, {"a": np.arange(3)}]) == fp([1.0, {"a": np.arange(3)}])
    assert fp([1.0]) != fp([3.0]) and fp(np.arange(3)) != fp(np.arange(3) + 1)
    assert fp(1) != fp(1.0) != fp(True)
    v = tf.Variable(1.0)
    assert fp(v) == fp(v) and fp(v) != fp(tf.Variable(1.0))
    assert fp(keras.losses.MeanSquaredError()) == fp(keras.losses.MeanSquaredError())
    assert (fp(keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            != fp(keras.losses.SparseCategoricalCrossentropy()))


def test_the_cache_is_bounded_and_holds_its_owner_weakly():
    cache = CompileCache(size=3)

    class Owner:
        pass

    owner, built = Owner(), []
    for i in range(5):
        cache.get(owner, (i,), lambda i=i: built.append(i) or i)
    assert cache.entries(owner) == 3 and cache.values(owner) == [2, 3, 4]
    cache.get(owner, (4,), lambda: built.append("again"))
    assert built == [0, 1, 2, 3, 4]  # the same call: no new build
    ref = weakref.ref(owner)
    del owner
    gc.collect()
    assert ref() is None


# --- jacobian, hessian, hvp: a changed value takes effect -------------------------------------


SCALE = 1.0


def test_a_list_the_function_reads_changes():
    scale = [1.0]

    def f(x):
        return scale[0] * tf.reduce_sum(x**2)

    np.testing.assert_array_equal(tapelab.hessian(f, X).numpy(), [[2, 0], [0, 2]])
    scale[0] = 3.0
    np.testing.assert_array_equal(tapelab.hessian(f, X).numpy(), [[6, 0], [0, 6]])
    np.testing.assert_array_equal(tapelab.hvp(f, X, X).numpy(), [6, 12])
    np.testing.assert_array_equal(tapelab.jacobian(lambda x: scale[0] * x, X).numpy(),
                                  [[3, 0], [0, 3]])


def test_a_reassigned_global_changes():
    global SCALE

    def f(x):
        return SCALE * tf.reduce_sum(x**2)

    try:
        SCALE = 1.0
        np.testing.assert_array_equal(tapelab.hvp(f, X, X).numpy(), [2, 4])
        SCALE = 5.0
        np.testing.assert_array_equal(tapelab.hvp(f, X, X).numpy(), [10, 20])
    finally:
        SCALE = 1.0


def test_a_reassigned_closure_variable_changes():
    scale = 1.0

    def f(x):
        return scale * x**2

    def set_scale(value):
        nonlocal scale
        scale = value

    np.testing.assert_array_equal(tapelab.jacobian(f, X).numpy(), [[2, 0], [0, 4]])
    set_scale(3.0)
    np.testing.assert_array_equal(tapelab.jacobian(f, X).numpy(), [[6, 0], [0, 12]])


def test_a_numpy_array_replaced_by_another_changes():
    weights = np.array([1.0, 1.0], "float32")

    def f(x):
        return tf.reduce_sum(weights * x**2)

    np.testing.assert_array_equal(tapelab.hessian(f, X).numpy(), [[2, 0], [0, 2]])
    weights = np.array([1.0, 10.0], "float32")
    np.testing.assert_array_equal(tapelab.hessian(f, X).numpy(), [[2, 0], [0, 20]])


def test_the_same_values_do_not_retrace():
    scale = [2.0]
    traced = []

    def f(x):
        traced.append(None) if tf.executing_eagerly() else None
        return scale[0] * tf.reduce_sum(x**3)

    for i in range(5):
        tapelab.hvp(f, X + i, X)
    assert COMPILED.entries(f) == 1
    assert [c.experimental_get_tracing_count() for c in COMPILED.values(f)] == [1]


# --- per_example_gradients --------------------------------------------------------------------


def small(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="out")])


def test_per_example_reuses_one_trace_for_new_builtin_loss_objects():
    m = small()
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    for _ in range(6):
        per_example = tapelab.per_example_gradients(m, ["out"], keras.losses.MeanSquaredError(),
                                                    x, y)
    assert PER_EXAMPLE.entries(m) == 1
    (compiled,) = PER_EXAMPLE.values(m)
    assert compiled.experimental_get_tracing_count() == 1
    assert per_example[0].shape == (4, 3, 2)


def test_per_example_sees_a_changed_value_in_loss_fn():
    m = small()
    x, y = np.ones((2, 3), "float32"), np.zeros((2, 2), "float32")
    weight = {"w": 1.0}

    def loss_fn(y_true, y_pred):
        return weight["w"] * tf.reduce_sum((y_pred - y_true) ** 2)

    first = tapelab.per_example_gradients(m, ["out"], loss_fn, x, y)[1]
    weight["w"] = 10.0
    second = tapelab.per_example_gradients(m, ["out"], loss_fn, x, y)[1]
    np.testing.assert_allclose(second.numpy(), 10 * first.numpy(), rtol=1e-6)


# --- fine_tune: a user's Loss whose config leaves out a parameter ------------------------------


class Scaled(keras.losses.Loss):
    """A user's loss whose get_config() leaves out `scale`, as many do."""

    def __init__(self, scale):
        super().__init__(name="scaled")
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * tf.reduce_mean((y_pred - y_true) ** 2, axis=-1)


@pytest.mark.parametrize("first, second", [(1.0, 100.0)])
def test_fine_tune_never_reuses_a_user_loss_of_equal_config(first, second):
    m = small()
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.ones((8, 2), "float32")
    opt = keras.optimizers.SGD(0.0)  # no update: both calls see the same weights
    a = tapelab.fine_tune(m, ["out"], (x, y), Scaled(first), opt, batch_size=8, verbose=0)
    b = tapelab.fine_tune(m, ["out"], (x, y), Scaled(second), opt, batch_size=8, verbose=0)
    step = float(tapelab.fine_tune_step(m, ["out"], Scaled(second), x, y,
                                        keras.optimizers.SGD(0.0)))
    np.testing.assert_allclose(b.history["loss"][0], second / first * a.history["loss"][0],
                               rtol=1e-5)
    np.testing.assert_allclose(b.history["loss"][0], step, rtol=1e-5)
    assert STEPS.entries(m) == 2


# --- partials, callable objects, bound methods --------------------------------------------------

K = 1.0


def test_a_partial_and_a_callable_object_are_read_too():
    import functools

    def g(x, s):
        return s[0] * x**2

    s = [1.0]
    p = functools.partial(g, s=s)
    np.testing.assert_array_equal(tapelab.jacobian(p, X).numpy(), [[2, 0], [0, 4]])
    s[0] = 3.0
    np.testing.assert_array_equal(tapelab.jacobian(p, X).numpy(), [[6, 0], [0, 12]])

    class Scaled:
        def __call__(self, x):
            return K * x**2

    global K
    f = Scaled()
    try:
        np.testing.assert_array_equal(tapelab.jacobian(f, X).numpy(), [[2, 0], [0, 4]])
        K = 5.0
        np.testing.assert_array_equal(tapelab.jacobian(f, X).numpy(), [[10, 0], [0, 20]])
    finally:
        K = 1.0


class Model:  # at module level: autograph keeps the frame of a class defined in a test
    def f(self, x):
        return tf.sin(x) * x


def test_a_bound_method_is_compiled_once_for_its_object():
    m = Model()
    for i in range(4):
        tapelab.jacobian(m.f, X + i)
    assert COMPILED.entries(m) == 1
    assert [c.experimental_get_tracing_count() for c in COMPILED.values(m)] == [1]
    ref = weakref.ref(m)
    del m
    locals()  # TF tracing read this frame's locals: refresh that snapshot, which held m
    gc.collect()
    assert ref() is None


def test_an_attribute_name_is_not_a_global():
    import types

    batch = types.SimpleNamespace(data=2.0)
    pins = []

    def f(x):
        return batch.data * x

    first = fingerprint(f, pins)
    globals()["data"] = np.arange(3)  # a global that shares the attribute's name
    try:
        assert fingerprint(f, pins) == first
    finally:
        del globals()["data"]


# --- what the cache sees (issue: a changed value returned the old Jacobian) -----------------


def _jacobian_sees(update, read):
    """jacobian of x -> read() * x**2 at x = [1, 2], before and after update()."""
    f = lambda x: read() * x ** 2
    before = tapelab.jacobian(f, tf.constant([1.0, 2.0])).numpy().diagonal().tolist()
    update()
    after = tapelab.jacobian(f, tf.constant([1.0, 2.0])).numpy().diagonal().tolist()
    return before, after


@pytest.mark.parametrize("make, update, read", [
    (lambda: collections.defaultdict(float, s=1.0), lambda v: v.__setitem__("s", 3.0),
     lambda v: v["s"]),
    (lambda: collections.OrderedDict(s=1.0), lambda v: v.__setitem__("s", 3.0),
     lambda v: v["s"]),
    (lambda: {1.0}, lambda v: (v.clear(), v.add(3.0)), lambda v: max(v)),
    (lambda: np.array([1.0, "x"], dtype=object), lambda v: v.__setitem__(0, 3.0),
     lambda v: float(v[0])),
    (lambda: [[[[[[[[1.0]]]]]]]], lambda v: v[0][0][0][0][0][0][0].__setitem__(0, 3.0),
     lambda v: v[0][0][0][0][0][0][0][0]),
])
def test_a_changed_value_of_every_kind_makes_a_new_trace(make, update, read):
    value = make()
    before, after = _jacobian_sees(lambda: update(value), lambda: read(value))
    assert (before, after) == ([2.0, 4.0], [6.0, 12.0])


def test_a_large_array_is_hashed_in_place_not_copied():
    import tracemalloc

    big = np.ones(16 * 2**20 // 8)  # 16 MiB
    fingerprint(big, [])
    tracemalloc.start()
    fingerprint(big, [])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2**20, peak  # tobytes() made a 16 MiB copy on every call


def test_a_datetime_array_is_hashed_though_no_buffer_exposes_it():
    from tapelab._cache import fingerprint

    days = np.array(["2026-12-06", "2026-12-07"], dtype="datetime64[D]")
    a = fingerprint(days, [])
    days[1] = np.datetime64("2027-01-01")
    assert fingerprint(days, []) != a
    assert fingerprint(np.array([1, 2], dtype="timedelta64[s]"), []) is not None
