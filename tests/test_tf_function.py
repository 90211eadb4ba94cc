"""The helpers give the same results inside tf.function (graph mode) as eagerly."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT32

import tapelab


def f(x):
    return x**2 + 2 * x + 1


def test_value_and_gradient_in_graph_mode():
    graph = tf.function(lambda x: tapelab.value_and_gradient(f, x))
    x = tf.constant([1.0, 5.0])
    (gv, gg), (ev, eg) = graph(x), tapelab.value_and_gradient(f, x)
    np.testing.assert_array_equal(gv.numpy(), ev.numpy())
    np.testing.assert_array_equal(gg.numpy(), eg.numpy())
    np.testing.assert_array_equal(gg.numpy(), [4.0, 12.0])


def test_gradients_in_graph_mode():
    def targets(x):
        return {"y": x**2, "z": (x**2) ** 2}

    graph = tf.function(lambda x: tapelab.gradients(targets, x))
    got = graph(tf.constant(3.0))
    assert {k: float(v) for k, v in got.items()} == {"y": 6.0, "z": 108.0}


def test_tape_in_graph_mode():
    v = keras.Variable(4.0)

    @tf.function
    def grad():
        with tapelab.tape(watch=v, only_watched=True) as t:
            y = v * v
        return t.gradient(y, v)

    assert float(grad()) == 8.0


def model():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, name="body"),
                             keras.layers.Dense(2, name="head")], name="m")


def test_fine_tune_step_in_graph_mode_matches_eager():
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    eager_model, graph_model = model(), model()
    eager_opt, graph_opt = keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)

    @tf.function
    def graph_step(x, y):
        return tapelab.fine_tune_step(graph_model, ["head"], loss_fn, x, y, graph_opt)

    body_before = [w.numpy().copy() for w in graph_model.get_layer("body").weights]
    for _ in range(3):
        eager_loss = tapelab.fine_tune_step(eager_model, ["head"], loss_fn, x, y, eager_opt)
        graph_loss = graph_step(x, y)
        # graph against eager: grappler may fuse or reorder float32 ops
        np.testing.assert_allclose(graph_loss.numpy(), eager_loss.numpy(), **FLOAT32)
    for a, b in zip(eager_model.weights, graph_model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **FLOAT32)
    for before, w in zip(body_before, graph_model.get_layer("body").weights):
        assert before.tobytes() == w.numpy().tobytes()


def test_a_slice_selection_works_by_closure_but_not_as_a_tf_function_argument():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="a"),
                          keras.layers.Dense(1, name="b")])
    x, y = tf.ones((4, 2)), tf.zeros((4, 1))
    opt = keras.optimizers.SGD(0.1)
    step = tf.function(lambda x, y: tapelab.fine_tune_step(
        m, slice(-1, None), keras.losses.MeanSquaredError(), x, y, opt))
    assert float(step(x, y)) > 0  # the documented way: the slice is closed over
    as_argument = tf.function(lambda layers: len(tapelab.trainable_variables(m, layers)))
    with pytest.raises(TypeError, match="Could not generate a generic TraceType for slice"):
        as_argument(slice(-1, None))
