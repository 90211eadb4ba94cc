"""explain_none names the right cause for each way a gradient becomes None."""

import numpy as np
import pytest
import tensorflow as tf

from tapelab.diagnose.explain import FIXES, explain_none


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


# --- never a wrong cause: the right one, or unknown ---------------------------


def small_model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])


def test_model_variables_used_by_closure_are_walked_to():
    m, x = small_model(), tf.ones((4, 3))
    fn = lambda *w: tf.reduce_sum(tf.stop_gradient(m(x)))
    assert raw_gradient_is_none(fn, *m.trainable_variables)
    assert causes(fn, *m.trainable_variables) == [(0, "stop_gradient"), (1, "stop_gradient")]
    assert causes(lambda *w: tf.reduce_sum(m(x)), *m.trainable_variables) == []


def test_a_variable_fn_never_reads_is_not_connected():
    used, other = tf.Variable(1.0), tf.Variable(2.0)
    (finding,) = explain_none(lambda a, b: used * 3.0, used, other)
    assert (finding.source, finding.cause) == (1, "not_connected")
    assert finding.message.startswith("fn never reads this variable.")


def test_round_is_unknown_not_a_wrong_cause():
    v = tf.Variable(1.3)
    fn = lambda a: tf.round(a) * 2.0
    assert raw_gradient_is_none(fn, v)
    (finding,) = explain_none(fn, v)
    assert finding.cause == "unknown" and "tf.round" in finding.message


def test_argmax_used_as_a_loss_is_an_integer_path():
    v = tf.Variable([1.0, 3.0, 2.0])
    fn = lambda a: tf.cast(tf.argmax(a), tf.float32)
    assert raw_gradient_is_none(fn, v)
    assert causes(fn, v) == [(0, "integer_path")]


def test_a_value_stored_with_assign_is_a_variable_assign():
    w = tf.Variable(0.0)
    fn = lambda a: (w.assign(a * 2.0), w * 3.0)[1]
    assert raw_gradient_is_none(fn, tf.Variable(2.0))
    assert causes(fn, tf.Variable(2.0)) == [(0, "variable_assign")]
    acc = tf.Variable(0.0)
    fn_add = lambda a: (acc.assign_add(a), acc * 1.0)[1]
    assert causes(fn_add, tf.Variable(1.0)) == [(0, "variable_assign")]


def test_a_trace_that_fails_is_unknown_with_the_reason():
    (finding,) = explain_none(lambda a: tf.Variable(a) * 2.0, tf.Variable(1.0))
    assert finding.cause == "unknown"
    assert "Tracing fn with tf.function failed (" in finding.message


def counted(fn):
    calls = []

    def wrapper(*args):
        calls.append("eager" if tf.executing_eagerly() else "trace")
        return fn(*args)

    return wrapper, calls


def test_fn_runs_once_when_every_gradient_exists():
    fn, calls = counted(lambda a, b: a * b)
    assert causes(fn, tf.Variable(1.0), tf.Variable(2.0)) == []
    assert calls == ["eager"]


def test_fn_runs_twice_for_unwatched_tensors_and_is_traced_once_for_the_graph():
    fn, calls = counted(lambda a, b: a * b)
    assert causes(fn, tf.constant(1.0), tf.constant(2.0)) == [(0, "not_watched"),
                                                               (1, "not_watched")]
    assert calls == ["eager", "eager"]  # no trace needed
    fn, calls = counted(lambda a, b, c: a * 3.0)
    assert causes(fn, tf.Variable(1.0), tf.Variable(2.0), tf.constant(3.0)) == [
        (1, "not_connected"), (2, "not_connected")]
    assert calls == ["eager", "eager", "trace"]


def test_the_issue_side_effect_example_runs_fn_twice_not_four_times():
    acc = tf.Variable(0.0)

    def fn(a, b):
        acc.assign_add(10.0)
        return a * b

    explain_none(fn, tf.constant(1.0), tf.constant(2.0))
    assert float(acc) == 20.0  # was 40 with one run per source and mode


def test_keras_3_frozen_layer_message_says_its_variables_stay_watched():
    assert "leaves the layer's variables watched" in FIXES["non_trainable_variable"]
    m, x = small_model(), tf.ones((4, 3))
    m.get_layer("d").trainable = False
    # on Keras 3 a plain tape still gives a frozen layer's variables gradients
    assert causes(lambda *w: tf.reduce_sum(m(x)), *m.get_layer("d").weights) == []


# --- ragged results, strings, non-tensor results, unsupported sources -------


RAGGED = tf.ragged.constant([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("fn, source", [
    (lambda r: tf.stop_gradient(r) * 2.0, RAGGED),
    (lambda x: tf.stop_gradient(tf.RaggedTensor.from_row_lengths(x, [2, 1])),
     tf.Variable([1.0, 2.0, 3.0])),
], ids=["ragged-source", "variable-to-ragged"])
def test_a_ragged_result_through_stop_gradient(fn, source):
    assert raw_gradient_is_none(fn, source)
    assert causes(fn, source) == [(0, "stop_gradient")]  # was not_connected


def test_a_ragged_result_through_round_is_unknown():
    fn = lambda r: tf.round(r) * 2.0
    (finding,) = explain_none(fn, RAGGED)
    assert finding.cause == "unknown" and "tf.round" in finding.message


def test_a_connected_ragged_result_is_only_unwatched():
    assert causes(lambda r: r * 2.0, RAGGED) == [(0, "not_watched")]


def test_a_string_source_is_not_told_to_cast():
    fn = lambda s: tf.strings.to_number(s) * 2.0
    (finding,) = explain_none(fn, tf.constant("1.5"))
    assert finding.cause == "non_float_dtype"
    assert "dtype string" in finding.message and "tf.cast" not in finding.message
    assert "non_float_dtype" in FIXES
    assert causes(lambda x: tf.where(x, 1.0, 0.0), tf.constant(True)) == [(0, "integer_dtype")]


@pytest.mark.parametrize("fn", [lambda v: float(v) * 2.0, lambda v: 2.0,
                                lambda v: {"y": v * 2.0, "z": 1.0}],
                         ids=["float(v)", "constant", "in-a-dict"])
def test_a_result_that_is_not_a_tensor_is_a_clear_type_error(fn):
    with pytest.raises(TypeError, match=r"`fn` must return a tensor.*Received: .*float"):
        explain_none(fn, tf.Variable(1.0))


def test_a_result_of_none_says_to_return_the_tensor():
    with pytest.raises(TypeError, match=r"Received: NoneType None\. Return the target tensor"):
        explain_none(lambda v: None, tf.Variable(1.0))


def test_a_dict_source_is_refused_with_the_input_rules_message():
    """explain_none explains one source at a time: a structure is refused, naming it."""
    source = {"a": tf.constant(1.0)}
    with pytest.raises(TypeError, match=r"Source 0 must be a tf.Variable.*Received: dict"):
        explain_none(lambda d: d["a"] * 2.0, source)
