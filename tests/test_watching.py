"""tape(): a real tf.GradientTape, watching what it is told to."""

import keras
import pytest
import tensorflow as tf

from tapelab import tape


def test_yields_a_real_gradient_tape_that_matches_raw():
    x = tf.constant(3.0)
    with tape(watch=x) as t:
        y = x**2
    assert isinstance(t, tf.GradientTape)
    with tf.GradientTape() as raw:
        raw.watch(x)
        y_raw = x**2
    assert float(t.gradient(y, x)) == float(raw.gradient(y_raw, x)) == 6.0


def test_watches_nested_lists_and_dicts():
    a, b, c = tf.constant(1.0), tf.constant(2.0), tf.constant(3.0)
    with tape(watch={"ab": [a, b], "c": (c,)}) as t:
        y = a * b * c
    assert [float(g) for g in t.gradient(y, [a, b, c])] == [6.0, 3.0, 2.0]


def test_keras_variables_can_be_watched_through_the_helper():
    v = keras.Variable(4.0)
    raw = tf.GradientTape()
    with pytest.raises(ValueError, match="not tf.Tensor or tf.Variable"), raw:
        raw.watch(v)  # what learners hit with raw TF
    with tape(watch=[v], only_watched=True) as t:
        y = v * v
    assert float(t.gradient(y, v)) == 8.0


def test_only_watched_records_only_what_was_named():
    a, b = tf.Variable(2.0), tf.Variable(5.0)
    with tape(watch=a, only_watched=True) as t:
        y = a * b
    ga, gb = t.gradient(y, [a, b])
    with tf.GradientTape(watch_accessed_variables=False) as raw:
        raw.watch(a)
        y_raw = a * b
    ra, rb = raw.gradient(y_raw, [a, b])
    assert float(ga) == float(ra) == 5.0
    assert gb is None and rb is None
    assert [v.name for v in t.watched_variables()] == [a.name]


def test_default_watches_accessed_trainable_variables():
    a, b = tf.Variable(2.0), tf.Variable(5.0)
    with tape() as t:
        y = a * b
    assert len(t.watched_variables()) == 2
    assert [float(g) for g in t.gradient(y, [a, b])] == [5.0, 2.0]


def test_persistent_allows_two_gradient_calls_and_default_does_not():
    x = tf.constant(3.0)
    with tape(watch=x, persistent=True) as t:
        y = x**2
        z = y**2
    assert float(t.gradient(y, x)) == 6.0 and float(t.gradient(z, x)) == 108.0
    with tape(watch=x) as t2:
        y = x**2
        z = y**2
    t2.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent"):
        t2.gradient(z, x)


@pytest.mark.parametrize("bad, message", [
    (3.0, r"Received: float 3\.0\. A tape can only watch the very tensor"),
    (tf.constant(1), r"A watched tensor must have a floating dtype.*dtype=int32"),
])
def test_bad_watch_items_raise_type_error(bad, message):
    with pytest.raises(TypeError, match=message), tape(watch=[bad]):
        pass

