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


# --- training=True changes nothing; dict and tuple inputs and targets (#18) --------------------


def sequence_model():
    """BatchNormalization over 5 time steps: a batch of one still has real statistics."""
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((5, 3)), keras.layers.Dense(8, activation="relu", name="h"),
                             keras.layers.BatchNormalization(name="bn"),
                             keras.layers.Dropout(0.3, name="drop"),
                             keras.layers.GlobalAveragePooling1D(name="pool"),
                             keras.layers.Dense(4, name="out")], name="seq")


def state(model):
    return [v.numpy().copy() for v in model.variables]


def restore(model, values):
    for v, value in zip(model.variables, values):
        v.assign(value)


def test_training_true_leaves_every_variable_as_it_was():
    model = sequence_model()
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 5, 3)).astype("float32"), np.arange(6) % 4
    before = state(model)
    layers = ["h", "bn", "out"]
    got = per_example_gradients(model, layers, LOSS, x, y, training=True)
    for v, value in zip(model.variables, before):  # moving statistics, the seed state
        np.testing.assert_array_equal(v.numpy(), value, err_msg=v.path)
    # the reference: one raw tape per example in training mode, the state put back after each
    variables, rows = trainable_variables(model, layers), []
    for i in range(len(x)):
        with tf.GradientTape() as t:
            loss = LOSS(y[i:i + 1], model(x[i:i + 1], training=True))
        rows.append(t.gradient(loss, variables))
        restore(model, before)
    for g, w in zip(got, [tf.stack(column) for column in zip(*rows)]):
        np.testing.assert_allclose(g.numpy(), w.numpy(), **FLOAT32)  # pfor against a loop
    again = per_example_gradients(model, layers, LOSS, x, y, training=True)
    for a, b in zip(got, again):  # the same state, so the same Dropout mask: the same answer
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    inside = tf.function(lambda x, y: per_example_gradients(model, layers, LOSS, x, y,
                                                            training=True))(x, y)
    for v, value in zip(model.variables, before):  # inside the user's tf.function too
        np.testing.assert_array_equal(v.numpy(), value, err_msg=v.path)
    for a, b in zip(got, inside):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **FLOAT32)


def two_inputs(dict_io):
    keras.utils.set_random_seed(2)
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    h = keras.layers.Dense(4, activation="tanh", name="h")(keras.layers.Concatenate()([a, b]))
    p, q = keras.layers.Dense(2, name="p")(h), keras.layers.Dense(1, name="q")(h)
    if dict_io:
        return keras.Model({"a": a, "b": b}, {"p": p, "q": q})
    return keras.Model((a, b), p)


MSE = keras.losses.MeanSquaredError()


def two_losses(y_true, y_pred):
    return MSE(y_true["p"], y_pred["p"]) + 3.0 * MSE(y_true["q"], y_pred["q"])


@pytest.mark.parametrize("dict_io", [False, True], ids=["tuple x", "dict x and y"])
def test_a_two_input_model_equals_a_loop_of_single_example_tapes(dict_io):
    model, rng = two_inputs(dict_io), np.random.default_rng(2)
    xa, xb = rng.normal(size=(7, 3)).astype("float32"), rng.normal(size=(7, 2)).astype("float32")
    yp, yq = rng.normal(size=(7, 2)).astype("float32"), rng.normal(size=(7, 1)).astype("float32")
    x, y, loss_fn = ({"a": xa, "b": xb}, {"p": yp, "q": yq}, two_losses) if dict_io else (
        (xa, xb), yp, MSE)
    got = per_example_gradients(model, ["h", "p"], loss_fn, x, y)
    variables, rows = trainable_variables(model, ["h", "p"]), []
    for i in range(7):
        one = tf.nest.map_structure(lambda t, i=i: t[i:i + 1], (x, y))
        with tf.GradientTape() as t:
            loss = loss_fn(one[1], model(one[0], training=False))
        rows.append(t.gradient(loss, variables))
    assert [g.shape for g in got] == [(7, *v.shape) for v in variables]
    for g, w in zip(got, [tf.stack(column) for column in zip(*rows)]):
        np.testing.assert_allclose(g.numpy(), w.numpy(), **FLOAT32)  # pfor against a loop
    for i in range(3):  # new values, one trace
        per_example_gradients(model, ["h", "p"], loss_fn,
                              tf.nest.map_structure(lambda t, i=i: t + i, x), y)
    (compiled,) = COMPILED.values(model)
    assert compiled.experimental_get_tracing_count() == 1


def test_every_leaf_needs_one_example_per_target():
    model, rng = two_inputs(True), np.random.default_rng(2)
    x = {"a": rng.normal(size=(7, 3)).astype("float32"), "b": np.zeros((6, 2), "float32")}
    y = {"p": np.zeros((7, 2), "float32"), "q": np.zeros((7, 1), "float32")}
    with pytest.raises(ValueError, match=r"one target per example\. Received: x of shapes "
                                         r"\{'a': \(7, 3\), 'b': \(6, 2\)\} and y of shapes "
                                         r"\{'p': \(7, 2\), 'q': \(7, 1\)\}"):
        per_example_gradients(model, ["p"], two_losses, x, y)
    with pytest.raises(ValueError, match=r"Received: x of shapes \{'a': \(7, 3\), 'b': \(7, 2\)\}"
                                         r" and y of shapes \{'p': \(7, 2\), 'q': \(\)\}"):
        per_example_gradients(model, ["p"], two_losses, {**x, "b": x["a"][:, :2]}, {**y, "q": 0.0})
    with pytest.raises(TypeError, match=r"`x` must be a tensor or array, or a dict or tuple of "
                                        r"them .* Received: x, a list that is not one array"):
        per_example_gradients(model, ["p"], two_losses, [x["a"], x["b"]], y)
    with pytest.raises(ValueError, match=r"Received: x of shapes \{\} and y"):
        per_example_gradients(model, ["p"], two_losses, {}, y)
    assert COMPILED.entries(model) == 0  # refused before anything was compiled
