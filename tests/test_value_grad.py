"""value_and_gradient and gradients, each checked against a raw tf.GradientTape."""

import gc

import keras
import numpy as np
import pytest
import tensorflow as tf

from tapelab import gradients, value_and_gradient


def raw_grad(fn, *xs):
    """The reference: the same computation written out with a raw tape."""
    with tf.GradientTape() as t:
        for x in xs:
            if not isinstance(x, tf.Variable):
                t.watch(x)
        y = fn(*xs)
    return y, t.gradient(y, list(xs))


def seed_f(x):
    return x**2 + 2 * x + 1


def test_seed_example_is_12_not_6():
    x = tf.Variable(5.0)
    value, grad = value_and_gradient(seed_f, x)
    ref_value, (ref_grad,) = raw_grad(seed_f, x)
    assert float(grad) == float(ref_grad) == 12.0  # f'(x) = 2x + 2
    assert float(value) == float(ref_value) == 36.0


@pytest.mark.parametrize(
    "source",
    [tf.constant(3.0), tf.Variable(3.0), keras.Variable(3.0), np.float32(3.0),
     np.array(3.0), 3.0, 3],
    ids=["tensor", "tf.Variable", "keras.Variable", "np.float32", "np.array-f64", "float",
         "int-number"],
)
def test_every_source_kind_matches_raw_tape(source):
    value, grad = value_and_gradient(lambda x: x**3, source)
    ref_x = tf.constant(3.0, dtype=tf.as_dtype(value.dtype))
    ref_value, (ref_grad,) = raw_grad(lambda x: x**3, ref_x)
    assert float(grad) == float(ref_grad) == 27.0  # 3x^2
    assert float(value) == float(ref_value) == 27.0


def test_python_numbers_become_float32():
    value, grad = value_and_gradient(lambda x: x * x, 4)
    assert value.dtype == tf.float32 and grad.dtype == tf.float32
    assert float(grad) == 8.0


def test_numpy_float64_keeps_its_dtype():
    _, grad = value_and_gradient(lambda x: x * x, np.array([1.0, 2.0]))
    assert grad.dtype == tf.float64
    np.testing.assert_array_equal(grad.numpy(), [2.0, 4.0])


def test_several_sources_give_a_tuple_in_order():
    def f(a, b):
        return a * a * b

    a, b = tf.constant(2.0), tf.Variable(5.0)
    _value, grads = value_and_gradient(f, a, b)
    _, ref = raw_grad(f, a, b)
    assert isinstance(grads, tuple) and len(grads) == 2
    assert [float(g) for g in grads] == [float(r) for r in ref] == [20.0, 4.0]


def test_non_scalar_target_is_summed_as_in_tf():
    x = tf.constant([1.0, 2.0, 3.0])
    value, grad = value_and_gradient(lambda x: x**2, x)
    _, (ref,) = raw_grad(lambda x: x**2, x)
    assert value.shape == (3,)
    np.testing.assert_array_equal(grad.numpy(), ref.numpy())
    np.testing.assert_array_equal(grad.numpy(), [2.0, 4.0, 6.0])


def test_unused_source_gives_none_like_tf():
    _, grads = value_and_gradient(lambda a, b: a * 2.0, 1.0, 2.0)
    assert float(grads[0]) == 2.0 and grads[1] is None


def test_helper_returns_real_tensors():
    value, grad = value_and_gradient(seed_f, 5.0)
    assert isinstance(value, tf.Tensor) and isinstance(grad, tf.Tensor)


@pytest.mark.parametrize(
    "source, dtype_name",
    [(tf.constant(3), "int32"), (np.array([1, 2]), "int64"), (tf.Variable(2), "int32"),
     (tf.constant(True), "bool")],
)
def test_integer_and_bool_sources_raise_type_error(source, dtype_name):
    with pytest.raises(TypeError, match=rf"dtype={dtype_name}.*tf\.cast\(x, tf\.float32\)"):
        value_and_gradient(lambda x: x, source)


def test_python_bool_raises_type_error():
    with pytest.raises(TypeError, match="bool values are not defined. Received: True"):
        value_and_gradient(lambda x: x, True)


def test_bad_source_type_raises_type_error():
    with pytest.raises(TypeError, match=r"Source 0\[1\] must be .* Received: str 'a'"):
        value_and_gradient(lambda x: x[0], [1.0, "a"])  # a list is a structure, as in JAX
    with pytest.raises(TypeError, match=r"Source 0 must be .* Received: NoneType None"):
        value_and_gradient(lambda x: x, None)


def test_structures_of_sources_give_gradients_in_that_structure():
    value, g = value_and_gradient(lambda p: p["w"][0] * p["w"][1] + p["b"],
                                  {"w": [2.0, 3.0], "b": 1.0})
    assert float(value) == 7.0
    assert [float(v) for v in g["w"]] == [3.0, 2.0] and float(g["b"]) == 1.0
    _, g = value_and_gradient(lambda p: p["w"][0], {"w": [2.0, 3.0]})
    assert float(g["w"][0]) == 1.0 and g["w"][1] is None  # unconnected: None, as raw TF


def test_no_sources_raises():
    with pytest.raises(TypeError, match="At least one source is required"):
        value_and_gradient(lambda: tf.constant(1.0))


def test_value_and_gradient_refuses_structures():
    with pytest.raises(TypeError, match=r"Received: dict\. .*tapelab\.gradients"):
        value_and_gradient(lambda x: {"y": x}, 1.0)


def test_gradients_example_from_the_issue():
    g = gradients(lambda x: {"y": x**2, "z": (x**2) ** 2}, tf.constant(3.0))
    assert set(g) == {"y", "z"}
    assert float(g["y"]) == 6.0 and float(g["z"]) == 108.0


def test_gradients_matches_persistent_raw_tape_for_lists_and_several_sources():
    a, b = tf.constant(2.0), tf.Variable(3.0)

    def fn(a, b):
        return [a * b, a**2 * b, (a + b) ** 2]

    result = gradients(fn, a, b)
    with tf.GradientTape(persistent=True) as t:
        t.watch(a)
        ys = fn(a, b)
    expected = [t.gradient(y, [a, b]) for y in ys]
    del t
    assert isinstance(result, list) and len(result) == 3
    for got, want in zip(result, expected):
        assert isinstance(got, tuple)
        assert [float(g) for g in got] == [float(w) for w in want]


def test_gradients_keeps_nested_structure():
    g = gradients(lambda x: (x, {"sq": x * x}), 2.0)
    assert isinstance(g, tuple) and float(g[0]) == 1.0 and float(g[1]["sq"]) == 4.0


def _live_tapes():
    return sum(isinstance(o, tf.GradientTape) for o in gc.get_objects())


def test_gradients_releases_its_persistent_tape():
    gc.collect()
    before = _live_tapes()
    gradients(lambda x: [x * x, x * x * x], 2.0)
    gc.collect()
    assert _live_tapes() == before


def test_gradients_refuses_a_single_tensor():
    with pytest.raises(TypeError, match=r"dict, list or tuple.*Received: .*value_and_gradient"):
        gradients(lambda x: x * x, 2.0)


def test_gradients_releases_its_tape_even_when_it_raises():
    gc.collect()
    before = _live_tapes()
    with pytest.raises(TypeError) as info:  # `info` keeps the traceback (and its frames) alive
        gradients(lambda x: x * x, 2.0)
    gc.collect()
    assert info.value is not None
    assert _live_tapes() == before
