"""fine_tune, the compiled loop, against its peers: fine_tune_step batch by batch, and Keras fit.

Every comparison checks every variable of the model (weights, BatchNormalization
statistics, Dropout seed counters) and the loss history.
"""

import collections
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tolerance import EXACT, FLOAT16, FLOAT32, FLOAT32_LONG, assert_variables_close

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


def test_traced_once_for_all_epochs_and_the_short_last_batch():
    x, y = data(50)  # batches of 16, 16, 16, 2
    traces = []

    def loss_fn(y_true, y_pred):
        traces.append(tf.executing_eagerly())
        return LOSS(y_true, y_pred)

    fine_tune(model(), HEAD, (x, y), loss_fn, keras.optimizers.SGD(0.01), epochs=3,
              batch_size=16, verbose=0)
    assert traces == [False]  # one trace, no eager call


def test_shuffle_order_is_fixed_by_seed_and_epoch():
    assert not np.array_equal(order(50, 0, 0), order(50, 0, 1))
    assert np.array_equal(order(50, 3, 2), order(50, 3, 2))
    assert sorted(order(50, 0, 0)) == list(range(50))
    x, y = data()
    runs = [fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.SGD(0.05), epochs=2,
                      batch_size=16, seed=s, verbose=0).history["loss"] for s in (0, 0, 1)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_history_is_a_keras_history_of_epoch_means():
    x, y = data()
    h = fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.SGD(0.01), epochs=2,
                  batch_size=16, verbose=0)
    assert isinstance(h, keras.callbacks.History)
    assert list(h.history) == ["loss"] and len(h.history["loss"]) == 2
    assert h.params == {"verbose": 0, "epochs": 2, "steps": 4, "initial_epoch": 0}


def test_a_dataset_of_batches_equals_the_same_arrays_unshuffled():
    x, y = data()
    a, b = model(), model()
    fine_tune(a, HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=2, batch_size=16,
              shuffle=False, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    fine_tune(b, HEAD, ds, LOSS, keras.optimizers.Adam(0.01), epochs=2, verbose=0)
    assert_variables_close(a, b, EXACT)  # the same compiled step on the same batches


def test_verbose_1_shows_a_progress_bar_and_0_prints_nothing(capsys):
    x, y = data()
    fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.SGD(0.01), epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.SGD(0.01), epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "2/2" in out and "loss:" in out


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


# --- cache_features ---------------------------------------------------------


@pytest.mark.parametrize("source", ["arrays", "dataset"])
def test_cached_features_equal_the_uncached_run(source):
    x, y = data()
    head = ["head"]  # body, BN, Dropout, neck... frozen: Dropout off in both? no: see below
    keras.utils.set_random_seed(1)
    inp = keras.Input((6,))
    h = keras.layers.Dense(16, name="body")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Activation("relu", name="relu")(h)
    h2 = keras.layers.Dense(8, activation="relu", name="neck")(h)
    both = keras.layers.Concatenate(name="cat")([h, h2])
    out = keras.layers.Dense(3, name="head")(keras.layers.Activation("tanh", name="t")(both))
    a = keras.Model(inp, out)
    b = keras.models.clone_model(a)
    b.set_weights(a.get_weights())
    arg = (x, y) if source == "arrays" else tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    ha = fine_tune(a, head, arg, LOSS, keras.optimizers.Adam(0.01), epochs=3, batch_size=16,
                   verbose=0, cache_features=True)
    hb = fine_tune(b, head, arg, LOSS, keras.optimizers.Adam(0.01), epochs=3, batch_size=16,
                   verbose=0)
    # the body runs once on the whole input, not per batch: other sums, amplified by Adam
    assert_variables_close(a, b, FLOAT32_LONG)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], **FLOAT32_LONG)


def test_cache_features_refuses_a_selection_that_is_not_a_head_before_any_change():
    x, y = data()
    m = model()
    opt = keras.optimizers.SGD(0.1)
    before = values(m)
    with pytest.raises(ValueError, match=r"layer 'bn_body' \(BatchNormalization\) holds 4 "
                                         r"weight\(s\), is not selected, and runs after "
                                         r"the selected layer 'body'"):
        fine_tune(m, ["body", "head"], (x, y), LOSS, opt, cache_features=True, verbose=0)
    assert all(np.array_equal(u, v) for u, v in zip(before, values(m)))
    assert not opt.built


def test_cache_features_needs_a_layer_graph():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2, name="d")

        def call(self, x):
            return self.d(x)

    m = Sub()
    m(np.zeros((1, 6), "float32"))
    with pytest.raises(ValueError, match="needs a functional or Sequential model"):
        fine_tune(m, ["d"], data(), LOSS, keras.optimizers.SGD(0.1), cache_features=True)


def test_cache_features_prints_the_cache_size(capsys):
    x, y = data()
    fine_tune(model(), ["head"], (x, y), LOSS, keras.optimizers.SGD(0.1), cache_features=True)
    assert "Cached the frozen body's features: 1.6 KiB" in capsys.readouterr().out  # 50 x 8 x 4 B


# --- checkpoints (the kill -9 test is in test_fine_tune_processes.py) -------


def test_resume_continues_where_the_checkpoint_stopped(tmp_path):
    x, y = data()
    a, b, c = model(), model(), model()
    full = fine_tune(a, HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=4, verbose=0)
    fine_tune(b, HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=2, verbose=0,
              checkpoint_dir=tmp_path)
    resumed = fine_tune(c, HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=4,
                        verbose=0, checkpoint_dir=tmp_path)
    # the same compiled step from the same restored values: bit for bit
    assert_variables_close(a, c, EXACT)
    assert resumed.history["loss"] == full.history["loss"] and resumed.epoch == [0, 1, 2, 3]
    assert resumed.params["initial_epoch"] == 2
    again = fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=4,
                      verbose=0, checkpoint_dir=tmp_path)  # all done: nothing to train
    assert again.history == full.history


def listing(path):
    return {f: os.path.getmtime(os.path.join(path, f)) for f in sorted(os.listdir(path))}


@pytest.mark.parametrize("case, match", [
    ("wider", (r"its model variables differ at #6 \(neck/kernel\): \[\[16, 8\], "
               r"'float32'\] there, \[\[16, 9\], 'float32'\] here")),
    ("selection", "it holds 5 selected variables, this run has 2"),
    ("optimizer", "it was written with optimizer Adam, this run has SGD"),
])
def test_a_checkpoint_that_does_not_fit_is_refused_and_nothing_changes(tmp_path, case, match):
    x, y = data()
    fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=1, verbose=0,
              checkpoint_dir=tmp_path)
    files = listing(tmp_path)
    m, layers, opt = model(), HEAD, keras.optimizers.Adam(0.01)
    if case == "wider":
        keras.utils.set_random_seed(1)
        m = keras.models.clone_model(m, clone_function=lambda layer: (
            keras.layers.Dense(9, use_bias=False, name="neck") if layer.name == "neck"
            else layer.__class__.from_config(layer.get_config())))
    elif case == "selection":
        layers = ["head"]
    else:
        opt = keras.optimizers.SGD(0.01)
    before = values(m)
    with pytest.raises(ValueError, match=match):
        fine_tune(m, layers, (x, y), LOSS, opt, epochs=3, verbose=0, checkpoint_dir=tmp_path)
    assert listing(tmp_path) == files
    assert all(np.array_equal(u, v) for u, v in zip(before, values(m)))


def test_a_directory_of_other_checkpoints_is_refused(tmp_path):
    v = tf.Variable(1.0)
    tf.train.CheckpointManager(tf.train.Checkpoint(v=v), tmp_path, 1).save()
    with pytest.raises(ValueError, match="it was not written by tapelab.fine_tune"):
        fine_tune(model(), HEAD, data(), LOSS, keras.optimizers.SGD(0.1), verbose=0,
                  checkpoint_dir=tmp_path)


# --- bad input: a clear error, nothing changed ------------------------------


@pytest.mark.parametrize("kwargs, data_, error, match", [
    ({}, (np.zeros((5, 6), "float32"), np.zeros(4, "int64")), ValueError,
     "must have the same number of examples. Received: x: 5, y: 4"),
    ({}, (np.zeros((0, 6), "float32"), np.zeros(0, "int64")), ValueError,
     "at least one example. Received: 0 examples"),
    ({}, tf.data.Dataset.from_tensor_slices((np.zeros((0, 6), "float32"),
                                             np.zeros(0, "int64"))).batch(4),
     ValueError, "at least one batch. Received: an empty Dataset"),
    ({}, tf.data.Dataset.from_tensor_slices((np.zeros((4, 6), "float32"), np.zeros(4, "int64")))
     .batch(2).filter(lambda a, b: False), ValueError, "yielded none"),
    ({"epochs": -1}, None, ValueError, r"`epochs` must be an integer >= 0. Received: epochs=-1"),
    ({"batch_size": 2.5}, None, ValueError, r"`batch_size` must be an integer >= 1"),
    ({"verbose": 3}, None, ValueError, r"`verbose` must be 'auto', 0, 1 or 2"),
    ({"strategy": "mirrored"}, None, TypeError, "must be a tf.distribute.Strategy"),
    ({}, [np.zeros((4, 6))], TypeError, r"\(x, y\) or \(x, y, sample_weight\).*Received: list of length 1"),
])
def test_bad_input_is_refused_before_anything_changes(kwargs, data_, error, match):
    m = model()
    opt = keras.optimizers.SGD(0.1)
    before = values(m)
    with pytest.raises(error, match=match):
        fine_tune(m, HEAD, data() if data_ is None else data_, LOSS, opt, **{"verbose": 0, **kwargs})
    assert all(np.array_equal(u, v) for u, v in zip(before, values(m)))
    assert int(opt.iterations) == 0


def test_a_second_call_with_the_same_arguments_does_not_trace_again():
    x, y = data()
    # a deque, not a list: the compile cache reads the lists a loss_fn closes over,
    # and a list that grows is a changed value, so a new trace on each call
    traces = collections.deque()

    def loss_fn(y_true, y_pred):
        traces.append(tf.executing_eagerly())
        return LOSS(y_true, y_pred)

    m, opt = model(), keras.optimizers.SGD(0.01)
    for _ in range(3):  # one epoch per call, as a notebook would
        fine_tune(m, HEAD, (x, y), loss_fn, opt, verbose=0)
    assert list(traces) == [False]
    fine_tune(m, HEAD, (x, y), loss_fn, keras.optimizers.SGD(0.01), verbose=0)
    assert list(traces) == [False, False]  # another optimizer: another step


def test_a_new_keras_loss_object_with_the_same_config_does_not_retrace():
    x, y = data()
    m, opt = model(), keras.optimizers.SGD(0.01)
    calls = []
    real = keras.losses.SparseCategoricalCrossentropy.call

    def counting(self, y_true, y_pred):
        calls.append(tf.executing_eagerly())
        return real(self, y_true, y_pred)

    keras.losses.SparseCategoricalCrossentropy.call = counting
    try:
        for from_logits in (True, True, False):
            fine_tune(m, HEAD, (x, y), keras.losses.SparseCategoricalCrossentropy(
                from_logits=from_logits), opt, verbose=0)
    finally:
        keras.losses.SparseCategoricalCrossentropy.call = real
    assert calls == [False, False]  # the second call reused the first trace; the third did not


def test_the_compiled_step_cache_does_not_keep_the_model_alive():
    import gc
    import weakref

    m = model()
    fine_tune(m, ["head"], data(), LOSS, keras.optimizers.SGD(0.01), verbose=0,
              cache_features=True)
    fine_tune(m, HEAD, data(), LOSS, keras.optimizers.SGD(0.01), verbose=0)
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is None


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
