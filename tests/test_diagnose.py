"""explain_none names the right cause for each way a gradient becomes None."""

import numpy as np
import pytest
import tensorflow as tf

from tapelab.diagnose import FIXES, explain_none


def causes(fn, *sources):
    return [(f.source, f.cause) for f in explain_none(fn, *sources)]


def raw_gradient_is_none(fn, *sources):
    """Confirm with a raw tape that the situation really gives None (or raises)."""
    with tf.GradientTape() as tape:
        y = fn(*sources)
    try:
        return all(g is None for g in tape.gradient(y, list(sources)))
    except LookupError:
        return True


def test_no_findings_when_every_gradient_exists():
    v = tf.Variable(2.0)
    assert causes(lambda v: v * v, v) == []
    assert str(explain_none(lambda v: v * v, v)) == (
        "No None gradients: every source gets a gradient.")


def test_unwatched_tensor():
    x = tf.constant(3.0)
    assert raw_gradient_is_none(lambda x: x * x, x)
    assert causes(lambda x: x * x, x) == [(0, "not_watched")]


def test_integer_dtype():
    x = tf.constant(3)
    assert causes(lambda x: x * x, x) == [(0, "integer_dtype")]
    assert "dtype int32" in explain_none(lambda x: x * x, x)[0].message


def test_non_trainable_variable():
    v = tf.Variable(3.0, trainable=False, name="frozen")
    assert raw_gradient_is_none(lambda v: v * v, v)
    (finding,) = explain_none(lambda v: v * v, v)
    assert finding.cause == "non_trainable_variable"
    assert "'frozen:0' has trainable=False" in finding.message


def test_target_does_not_depend_on_source():
    a, b = tf.Variable(1.0), tf.Variable(2.0)
    assert causes(lambda a, b: a * 3.0, a, b) == [(1, "not_connected")]


def test_stop_gradient():
    v = tf.Variable(2.0)
    fn = lambda v: tf.stop_gradient(v * v) + 1.0
    assert raw_gradient_is_none(fn, v)
    assert causes(fn, v) == [(0, "stop_gradient")]


def test_stop_gradient_on_one_path_only_is_not_blamed():
    v = tf.Variable(2.0)
    assert causes(lambda v: tf.stop_gradient(v) * v, v) == []


def test_numpy_round_trip_with_dot_numpy():
    v = tf.Variable(2.0)
    fn = lambda v: tf.constant(v.numpy() ** 2)
    assert raw_gradient_is_none(fn, v)
    assert causes(fn, v) == [(0, "numpy_round_trip")]


def test_numpy_round_trip_with_np_function():
    v = tf.Variable([1.0, 2.0])
    fn = lambda v: tf.reduce_sum(tf.constant(np.sin(v)))
    assert raw_gradient_is_none(fn, v)
    assert causes(fn, v) == [(0, "numpy_round_trip")]


def test_op_without_registered_gradient():
    image = tf.Variable(tf.random.uniform((1, 4, 4, 3), seed=1))
    fn = lambda im: tf.reduce_sum(tf.image.adjust_contrast(im, 2.0))
    with pytest.raises(LookupError):
        with tf.GradientTape() as tape:
            y = fn(image)
        tape.gradient(y, image)
    (finding,) = explain_none(fn, image)
    assert finding.cause == "no_gradient_registered"
    assert "AdjustContrastv2" in finding.message


def test_each_cause_is_named_alone_among_several_sources():
    x = tf.constant(1.0)
    frozen = tf.Variable(2.0, trainable=False)
    ok = tf.Variable(3.0)
    unused = tf.Variable(4.0)
    fn = lambda x, f, o, u: x * f * o
    assert causes(fn, x, frozen, ok, unused) == [
        (0, "not_watched"), (1, "non_trainable_variable"), (3, "not_connected")]


def test_findings_print_well_and_carry_the_fix():
    text = str(explain_none(lambda x: x * x, tf.constant(3.0)))
    assert text.startswith("source 0: not_watched\n  with tape.watch it gets a gradient.")
    assert "tape.watch(x)" in text
    assert set(FIXES) >= {"not_watched", "integer_dtype", "non_trainable_variable",
                          "not_connected", "stop_gradient", "numpy_round_trip",
                          "no_gradient_registered", "unknown"}
