"""Inputs as TF takes them: one rule for numbers, ragged sources and targets,
non-float state in watch lists. Each case is checked against the raw tape."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tapelab
from tapelab import check_gradient, gradients, hessian, hvp, jacobian, jvp, tape, value_and_gradient


@pytest.mark.parametrize("number", [3, -3, 2**24, -(2**24), 2**40, np.int64(3), np.int32(-7),
                                    np.uint8(5)])
def test_integers_that_float32_holds_exactly_become_float32(number):
    value, grad = value_and_gradient(lambda x: x * x, number)
    assert value.dtype == tf.float32 and float(value) == float(int(number)) ** 2
    assert float(grad) == 2.0 * int(number)


@pytest.mark.parametrize("number", [2**24 + 1, -(2**24) - 1, 10**20, np.int64(2**40 + 1)])
def test_larger_integers_raise_instead_of_rounding(number):
    with pytest.raises(TypeError, match=r"float32 cannot hold exactly.*Received: "
                                        rf"{int(number)}\..*tf\.float64"):
        value_and_gradient(lambda x: x * 2.0, number)


def test_the_same_number_rule_applies_to_every_helper():
    assert float(tapelab.grad(lambda x: x**2)(3)) == 6.0
    assert float(jvp(lambda x: x**2, (3,), (1.0,))[1]) == 6.0
    with pytest.raises(TypeError, match="float32 cannot hold exactly"):
        tapelab.grad(lambda x: x**2)(2**25 + 1)
    with pytest.raises(TypeError, match="float32 cannot hold exactly"):
        gradients(lambda x: [x], 2**25 + 1)


def test_numpy_float_scalars_keep_their_dtype():
    value, _ = value_and_gradient(lambda x: x * x, np.float64(1.5))
    assert value.dtype == tf.float64


def test_ragged_sources_get_ragged_gradients_as_with_a_raw_tape():
    r = tf.ragged.constant([[1.0, 2.0], [3.0]])
    with tf.GradientTape() as t:
        t.watch(r)
        y = tf.reduce_sum(r * r)
    raw = t.gradient(y, r)
    value, grad = value_and_gradient(lambda r: tf.reduce_sum(r * r), r)
    assert isinstance(grad, tf.RaggedTensor)
    assert grad.to_list() == raw.to_list() == [[2.0, 4.0], [6.0]]
    assert float(value) == 14.0
    with tape(watch=r) as t2:
        y2 = tf.reduce_sum(r * 3.0)
    assert t2.gradient(y2, r).to_list() == [[3.0, 3.0], [3.0]]


def test_a_ragged_target_is_one_target_summed_as_raw_tf_does():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as t:
        t.watch(x)
        ry = tf.RaggedTensor.from_row_lengths(x * 3.0, [1, 1])
    raw = t.gradient(ry, x)
    value, grad = value_and_gradient(lambda x: tf.RaggedTensor.from_row_lengths(x * 3.0, [1, 1]), x)
    assert isinstance(value, tf.RaggedTensor)
    np.testing.assert_array_equal(grad, raw)
    np.testing.assert_array_equal(grad, [3.0, 3.0])


@pytest.mark.parametrize("call", [
    lambda r: jacobian(lambda x: x * 2.0, r),
    lambda r: jvp(lambda x: x * 2.0, (r,), (r,)),
    lambda r: hessian(lambda x: tf.reduce_sum(x), r),
    lambda r: hvp(lambda x: tf.reduce_sum(x), r, r),
    lambda r: check_gradient(lambda x: tf.reduce_sum(x), r),
], ids=["jacobian", "jvp", "hessian", "hvp", "check_gradient"])
def test_helpers_that_need_dense_sources_say_so(call):
    with pytest.raises(TypeError, match="needs dense sources.*a tf.RaggedTensor.*flat_values"):
        call(tf.ragged.constant([[1.0, 2.0], [3.0]]))


def test_explain_none_handles_a_ragged_source():
    r = tf.ragged.constant([[1.0, 2.0], [3.0]])
    assert [f.cause for f in tapelab.explain_none(lambda r: tf.reduce_sum(r), r)] == ["not_watched"]
    other = tf.Variable(1.0)
    found = tapelab.explain_none(lambda r, v: tf.reduce_sum(r) * 2.0, r, other)
    assert [(f.source, f.cause) for f in found] == [(0, "not_watched"), (1, "not_connected")]


def model_with_dropout():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d"),
                             keras.layers.Dropout(0.5, name="drop")])


def test_non_float_variables_in_a_watch_list_are_skipped_with_one_warning():
    m = model_with_dropout()
    skipped = r"skips 1 variable\(s\) that are not floating point.*seed_generator_state \(int64\)"
    with pytest.warns(UserWarning, match=skipped) as caught, tape(watch=m.variables) as t:
        y = tf.reduce_sum(m(tf.ones((2, 3)), training=True))
    assert len([w for w in caught if "skips" in str(w.message)]) == 1
    assert caught[0].filename == __file__  # points at the caller's line
    grads = t.gradient(y, m.trainable_variables)
    assert all(g is not None for g in grads)


def test_a_single_non_float_variable_still_raises():
    with pytest.raises(TypeError, match="dtype to be differentiated.*int32"), \
            tape(watch=tf.Variable(1)):
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="int32"), \
                tape(watch=[tf.constant(1.0), tf.constant(1)]):  # a tensor in a list raises
            pass
