"""per_example_gradients against a Python loop of single-example tapes."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT32, FLOAT32_LONG

from tapelab import per_example_gradients, trainable_variables
from tapelab.per_example import COMPILED

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def mlp():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((10,)), keras.layers.Dense(32, activation="relu", name="h"),
                             keras.layers.BatchNormalization(name="bn"),
                             keras.layers.Dense(4, name="out")], name="mlp")


def batch(n=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 10)).astype("float32"), np.arange(n) % 4


def loop(model, variables, x, y):
    """The reference: one tape per example, the loss of that example alone."""
    rows = []
    for i in range(len(x)):
        with tf.GradientTape() as t:
            loss = LOSS(y[i:i + 1], model(x[i:i + 1], training=False))
        rows.append(t.gradient(loss, variables))
    return [tf.stack(column) for column in zip(*rows)]


@pytest.mark.parametrize("layers", [slice(None), ["out"], ["h", "out"]], ids=str)
def test_equals_a_loop_of_single_example_tapes(layers):
    model, (x, y) = mlp(), batch()
    variables = trainable_variables(model, layers)
    got = per_example_gradients(model, layers, LOSS, x, y)
    want = loop(model, variables, x, y)
    assert [g.shape for g in got] == [(64, *v.shape) for v in variables]
    for g, w in zip(got, want):
        # pfor's batched kernels against one example at a time: other sums, float32
        np.testing.assert_allclose(g.numpy(), w.numpy(), **FLOAT32)


def test_the_mean_of_per_example_gradients_is_the_batch_gradient():
    model, (x, y) = mlp(), batch()
    variables = trainable_variables(model, ["out"])
    with tf.GradientTape() as t:
        loss = LOSS(y, model(x, training=False))
    for g, w in zip(per_example_gradients(model, ["out"], LOSS, x, y),
                    t.gradient(loss, variables)):
        # a mean over 64 float32 gradients, summed in another order than the batch loss
        np.testing.assert_allclose(tf.reduce_mean(g, 0).numpy(), w.numpy(), **FLOAT32_LONG)


def test_mismatched_batch_is_refused():
    model, (x, y) = mlp(), batch()
    with pytest.raises(ValueError, match=r"one target per example\. Received: x of shape "
                                         r"\(64, 10\) and y of shape \(10,\)"):
        per_example_gradients(model, ["out"], LOSS, x, y[:10])


def test_inside_tf_function_and_without_retracing():
    model, (x, y) = mlp(), batch()
    eager = per_example_gradients(model, ["out"], LOSS, x, y)
    graph = tf.function(lambda x, y: per_example_gradients(model, ["out"], LOSS, x, y))(x, y)
    for a, b in zip(eager, graph):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **FLOAT32)  # grappler may fuse ops
    for i in range(8):
        per_example_gradients(model, ["out"], LOSS, x + i, y)
    (compiled,) = COMPILED.values(model)
    assert compiled.experimental_get_tracing_count() == 1


def test_many_models_do_not_read_as_retracing(caplog):
    x, y = batch(8)
    with caplog.at_level("WARNING"):
        for _ in range(7):
            per_example_gradients(mlp(), ["out"], LOSS, x, y)
    assert "retracing" not in caplog.text


def test_the_compiled_cache_does_not_keep_the_model_alive():
    import gc
    import weakref

    m = mlp()
    x, y = batch(8)
    per_example_gradients(m, ["out"], LOSS, x, y)
    assert COMPILED.entries(m) == 1
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is None
