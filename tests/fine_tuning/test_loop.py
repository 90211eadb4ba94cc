"""fine_tune, the compiled loop, against its peers: fine_tune_step batch by batch, and Keras fit.

Every comparison checks every variable of the model (weights, BatchNormalization
statistics, Dropout seed counters) and the loss history.
"""


import keras
import numpy as np
import pytest
from tolerance import FLOAT16, FLOAT32, assert_variables_close

from tapelab import fine_tune, fine_tune_step
from tapelab.fine_tuning.batches import order

pytestmark = pytest.mark.filterwarnings("ignore::tapelab.SelectionWarning")

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def data(n=50, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    return x, rng.integers(0, classes, n).astype("int64")


def model(seed=1):
    """BN and Dropout before the selection, BN, Dropout and L2 inside it."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6,))
    h = keras.layers.Dense(16, use_bias=False, name="body")(inp)
    h = keras.layers.BatchNormalization(name="bn_body")(h)
    h = keras.layers.Activation("relu", name="relu")(h)
    h = keras.layers.Dropout(0.2, name="drop_body")(h)
    h = keras.layers.Dense(8, use_bias=False, name="neck",
                           kernel_regularizer=keras.regularizers.L2(0.01))(h)
    h = keras.layers.BatchNormalization(name="bn_neck")(h)
    h = keras.layers.Dropout(0.3, name="drop_neck")(h)
    out = keras.layers.Dense(3, name="head")(h)
    return keras.Model(inp, out, name="net")


HEAD = ["neck", "bn_neck", "drop_neck", "head"]


def values(m):
    return [v.numpy() for v in m.variables]


def by_steps(m, x, y, epochs, batch_size, optimizer, shuffle=False, seed=0):
    """The reference: fine_tune_step on each batch, and fit's epoch means."""
    means = []
    for epoch in range(epochs):
        idx = order(len(x), seed, epoch, shuffle)
        total = 0.0
        for i in range(0, len(x), batch_size):
            b = idx[i:i + batch_size]
            total += float(fine_tune_step(m, HEAD, LOSS, x[b], y[b], optimizer)) * len(b)
        means.append(total / len(x))
    return means


@pytest.mark.parametrize("shuffle", [False, True])
def test_equals_fine_tune_step_batch_by_batch(shuffle):
    x, y = data()
    a, b = model(), model()
    h = fine_tune(a, HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=3,
                  batch_size=16, shuffle=shuffle, seed=7, verbose=0)
    ref = by_steps(b, x, y, 3, 16, keras.optimizers.Adam(0.01), shuffle=shuffle, seed=7)
    # compiled against eager: the same math, but grappler may fuse or reorder ops
    assert_variables_close(a, b, FLOAT32)
    np.testing.assert_allclose(h.history["loss"], ref, **FLOAT32)


def freeze_all_but(m, names):
    for layer in m.layers:
        layer.trainable = layer.name in names


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_equals_keras_fit_with_the_other_layers_frozen(opt):
    x, y = data()
    make = {"sgd": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
            "adam": lambda: keras.optimizers.Adam(0.01)}[opt]
    a, b = model(), model()
    h = fine_tune(a, HEAD, (x, y), LOSS, make(), epochs=3, batch_size=16, shuffle=False,
                  verbose=0)
    freeze_all_but(b, HEAD)
    b.compile(make(), LOSS, jit_compile=False)
    hf = b.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    # fit's own graph: the same math in another op order
    assert_variables_close(a, b, FLOAT32)
    np.testing.assert_allclose(h.history["loss"], hf.history["loss"], **FLOAT32)
    assert h.epoch == hf.epoch == [0, 1, 2]


def test_mixed_precision_equals_keras_fit():
    x, y = data()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        a, b = model(), model()
        h = fine_tune(a, HEAD, (x, y), LOSS, keras.optimizers.LossScaleOptimizer(
            keras.optimizers.SGD(0.05)), epochs=2, batch_size=16, shuffle=False, verbose=0)
        freeze_all_but(b, HEAD)
        b.compile(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.05)), LOSS,
                  jit_compile=False)
        hf = b.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    # float16 activations: one rounding is 5e-4 of a value, whichever kernel ran it
    assert_variables_close(a, b, FLOAT16)
    np.testing.assert_allclose(h.history["loss"], hf.history["loss"], **FLOAT16)


def test_flags_are_restored_and_frozen_weights_do_not_move():
    x, y = data()
    m = model()
    m.get_layer("body").trainable = False  # a user's own flag survives
    flags = [layer.trainable for layer in m.layers]
    before = {id(w): w.numpy() for w in m.weights}
    fine_tune(m, HEAD, (x, y), LOSS, keras.optimizers.SGD(0.05), epochs=2, verbose=0)
    assert [layer.trainable for layer in m.layers] == flags
    for layer in m.layers:  # selected: all move (bn_neck's statistics too); others: none
        for w in layer.weights:
            moved = not np.array_equal(before[id(w)], w.numpy())
            assert moved == (layer.name in HEAD), w.path


def test_a_selected_layer_the_loss_does_not_use_is_refused_before_any_update():
    x, y = data()
    inp = keras.Input((6,))
    out = keras.layers.Dense(3, name="head")(inp)
    side = keras.layers.Dense(2, name="side")(inp)  # an output the loss never sees
    m = keras.Model(inp, [out, side])
    opt = keras.optimizers.SGD(0.1)
    before = values(m)
    with pytest.raises(ValueError, match="does not depend on these selected variables, so "
                                         "they got no gradient: side/kernel, side/bias"):
        fine_tune(m, ["head", "side"], (x, y), lambda t, p: LOSS(t, p[0]), opt, verbose=0)
    assert all(np.array_equal(u, v) for u, v in zip(before, values(m)))
    assert int(opt.iterations) == 0
    assert all(layer.trainable for layer in m.layers)
