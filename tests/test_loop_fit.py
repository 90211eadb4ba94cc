"""fine_tune's fit keywords against their peer: Keras `fit` with the other layers frozen.

Each case builds one model twice from one seed. One copy trains with
`fine_tune`; on the other the layers outside the selection get `trainable=False`
(Keras's own recipe), then `compile` + `fit` with the same keywords and
`shuffle=False`. The History (every key, every epoch) and every variable must
agree within FLOAT32 (tests/tolerance.py: fit's graph runs the same math in
another op order). Errors are compared with the error `fit` gives.
"""

import csv
import glob
import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT32, assert_variables_close

from tapelab import fine_tune

HEAD = ["neck", "head"]


def digits_like(n=96, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype("int64") + (x[:, 1] > 1)
    return x, y.astype("int64")


def model(seed=1):
    """Body (Dense + BN, frozen: inference mode) -> neck (L2) -> head: fit's semantics
    for frozen BatchNormalization and for regularisers both matter."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="relu", name="body"),
        keras.layers.BatchNormalization(name="bn_body"),
        keras.layers.Dense(8, activation="relu", name="neck",
                           kernel_regularizer=keras.regularizers.L2(1e-3)),
        keras.layers.Dense(3, name="head"),
    ], name="m")


def frozen_copy(make=model, layers=HEAD):
    m = make()
    for layer in m.layers:
        layer.trainable = layer.name in layers
    return m


LOSS = "sparse_categorical_crossentropy_logits"


def loss():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def pair(fit_kwargs, tune_kwargs=None, make=model, layers=HEAD, lr=0.05, metrics=("accuracy",),
         data=None, compile_loss=None, tune_loss=None):
    """(fit's history and model, fine_tune's history and model) on the same inputs."""
    x, y = digits_like() if data is None else data
    ref = frozen_copy(make, layers)
    ref.compile(keras.optimizers.SGD(lr), compile_loss or loss(), metrics=list(metrics))
    fit_kwargs = {"batch_size": 16, "epochs": 3, "shuffle": False, "verbose": 0, **fit_kwargs}
    fit_data = fit_kwargs.pop("data", None)
    if fit_data is None:
        fit_history = ref.fit(x, y, **fit_kwargs)
    else:
        fit_history = ref.fit(fit_data, **fit_kwargs)
    ours = make()
    kwargs = {**fit_kwargs, **(tune_kwargs or {})}
    tune_data = kwargs.pop("data", None) or (fit_data if fit_data is not None else (x, y))
    history = fine_tune(ours, layers, tune_data, tune_loss or loss(), keras.optimizers.SGD(lr),
                        metrics=list(metrics), **kwargs)
    return fit_history, ref, history, ours


def assert_same(fit_history, ref, history, ours):
    assert sorted(history.history) == sorted(fit_history.history)
    for key, values in fit_history.history.items():
        np.testing.assert_allclose(history.history[key], values, **FLOAT32, err_msg=key)
    assert history.epoch == fit_history.epoch
    assert_variables_close(ours, ref, FLOAT32)


def test_validation_data_and_metrics_give_fits_history_and_weights():
    xv, yv = digits_like(40, seed=5)
    result = pair({"validation_data": (xv, yv)})
    assert sorted(result[2].history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert_same(*result)


def test_validation_split_holds_out_the_last_part_as_fit_does():
    assert_same(*pair({"validation_split": 0.25}))


def test_validation_freq_validates_on_the_same_epochs():
    xv, yv = digits_like(40, seed=5)
    fit_h, ref, h, ours = pair({"validation_data": (xv, yv), "validation_freq": 2, "epochs": 4})
    assert len(h.history["val_loss"]) == 2 and len(h.history["loss"]) == 4
    assert_same(fit_h, ref, h, ours)
    assert_same(*pair({"validation_data": (xv, yv), "validation_freq": [1, 3], "epochs": 3}))


def test_validation_dataset_with_sample_weights():
    xv, yv = digits_like(40, seed=5)
    wv = np.linspace(0.5, 2.0, 40).astype("float32")
    val = tf.data.Dataset.from_tensor_slices((xv, yv, wv)).batch(16)
    assert_same(*pair({"validation_data": val}))


def test_class_weight_and_sample_weight_as_fit():
    assert_same(*pair({"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}}))
    w = np.linspace(0.1, 2.0, 96).astype("float32")
    assert_same(*pair({"sample_weight": w}))


def test_a_dataset_of_x_y_sample_weight_triples():
    x, y = digits_like()
    w = np.linspace(0.1, 2.0, 96).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(16)
    assert_same(*pair({"data": ds}, {"batch_size": 16}))


def test_initial_epoch_starts_there_as_fit_does():
    assert_same(*pair({"initial_epoch": 2, "epochs": 4}))


def test_steps_per_epoch_on_a_repeated_dataset_continues_the_stream():
    x, y = digits_like()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
    fit_h, ref, h, ours = pair({"data": ds, "steps_per_epoch": 4, "epochs": 3})
    assert_same(fit_h, ref, h, ours)


def test_steps_per_epoch_on_arrays_cuts_epochs_at_the_end_of_the_data_as_fit_does():
    # 96 examples in batches of 16: 6 batches; 4 per epoch -> 4, 2 (with fit's warning), 4
    with pytest.warns(UserWarning, match="ran out of data"):
        assert_same(*pair({"steps_per_epoch": 4, "epochs": 3}))


def callbacks_pair(make_callbacks, epochs=8, lr=0.05, **kw):
    xv, yv = digits_like(40, seed=5)
    return pair({"validation_data": (xv, yv), "epochs": epochs, "callbacks": make_callbacks()},
                {"callbacks": make_callbacks()}, lr=lr, **kw)


def test_early_stopping_restores_the_best_weights_at_the_same_epoch():
    def make():
        return [keras.callbacks.EarlyStopping("val_loss", patience=1, restore_best_weights=True)]
    fit_h, ref, h, ours = callbacks_pair(make, epochs=30, lr=0.5)
    assert len(h.epoch) < 30  # it stopped early
    assert_same(fit_h, ref, h, ours)


def test_learning_rate_callbacks_set_the_same_rates():
    def make():
        return [keras.callbacks.LearningRateScheduler(lambda e, lr: lr * 0.5),
                keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.1, patience=0,
                                                  min_delta=10.0)]
    fit_h, ref, h, ours = callbacks_pair(make, epochs=4)
    assert "learning_rate" in h.history
    assert_same(fit_h, ref, h, ours)


def test_terminate_on_nan_stops_at_the_same_batch():
    def make():
        return [keras.callbacks.TerminateOnNaN()]
    def diverged():
        m = model()
        m.get_layer("head").bias.assign([np.nan] * 3)  # every loss is NaN
        return m
    fit_h, _, h, _ = pair({"epochs": 3, "callbacks": make()}, {"callbacks": make()},
                          make=diverged, metrics=())
    assert len(h.epoch) == len(fit_h.epoch) == 1
    assert np.isnan(h.history["loss"][0]) and np.isnan(fit_h.history["loss"][0])


def test_csv_logger_writes_the_same_file(tmp_path):
    files = iter([tmp_path / "fit.csv", tmp_path / "ours.csv"])

    def make():
        return [keras.callbacks.CSVLogger(str(next(files)))]
    callbacks_pair(make, epochs=3)
    read = [list(csv.reader((tmp_path / name).read_text().splitlines()))
            for name in ("fit.csv", "ours.csv")]
    assert read[0][0] == read[1][0]  # the same columns
    np.testing.assert_allclose(np.array(read[1][1:], float), np.array(read[0][1:], float),
                               **FLOAT32)


def test_model_checkpoint_saves_the_best_model(tmp_path):
    def make():
        return [keras.callbacks.ModelCheckpoint(str(tmp_path / "best.weights.h5"),
                                                monitor="val_loss", save_best_only=True,
                                                save_weights_only=True)]
    xv, yv = digits_like(40, seed=5)
    ours = model()
    h = fine_tune(ours, HEAD, digits_like(), loss(), keras.optimizers.SGD(0.05), epochs=4,
                  batch_size=16, validation_data=(xv, yv), callbacks=make(), verbose=0)
    best = int(np.argmin(h.history["val_loss"]))
    loaded = model()
    loaded.load_weights(str(tmp_path / "best.weights.h5"))
    if best == 3:  # the last epoch was the best: the file holds the final weights
        assert_variables_close(loaded, ours, FLOAT32)
    assert os.path.getsize(tmp_path / "best.weights.h5") > 0


def test_tensorboard_writes_the_epoch_scalars(tmp_path):
    xv, yv = digits_like(40, seed=5)
    h = fine_tune(model(), HEAD, digits_like(), loss(), keras.optimizers.SGD(0.05), epochs=2,
                  batch_size=16, validation_data=(xv, yv), metrics=["accuracy"], verbose=0,
                  callbacks=[keras.callbacks.TensorBoard(str(tmp_path))])
    scalars = {}
    for path in glob.glob(str(tmp_path / "**" / "events.out.tfevents.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if not value.tag.startswith("epoch_"):
                    continue  # the graph and the model's config, not scalars
                number = tf.make_ndarray(value.tensor) if value.HasField("tensor") else \
                    value.simple_value
                scalars.setdefault((os.path.basename(os.path.dirname(path)), value.tag),
                                   []).append(float(number))
    np.testing.assert_allclose(scalars[("train", "epoch_loss")], h.history["loss"], **FLOAT32)
    np.testing.assert_allclose(scalars[("validation", "epoch_accuracy")],
                               h.history["val_accuracy"], **FLOAT32)


def test_stop_training_set_by_a_callback_ends_the_run():
    class StopAfterTwo(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = epoch == 1

    h = fine_tune(model(), HEAD, digits_like(), loss(), keras.optimizers.SGD(0.05), epochs=5,
                  batch_size=16, callbacks=[StopAfterTwo()], verbose=0)
    assert h.epoch == [0, 1]


def test_hooks_come_in_fits_order():
    hooks = [name for name in dir(keras.callbacks.Callback)
             if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end")]

    def recorder(name):
        def hook(self, *args, **kwargs):
            self.calls.append(name)
        return hook

    Record = type("Record", (keras.callbacks.Callback,),  # every hook overridden, as a
                  {name: recorder(name) for name in hooks})  # callback that uses them

    xv, yv = digits_like(20, seed=5)
    runs = []
    for trainer in ("fit", "fine_tune"):
        rec = Record()
        rec.calls = []
        if trainer == "fit":
            m = frozen_copy()
            m.compile(keras.optimizers.SGD(0.05), loss())
            m.fit(*digits_like(32), batch_size=16, epochs=2, validation_data=(xv, yv),
                  callbacks=[rec], verbose=0, shuffle=False)
        else:
            fine_tune(model(), HEAD, digits_like(32), loss(), keras.optimizers.SGD(0.05),
                      epochs=2, batch_size=16, validation_data=(xv, yv), callbacks=[rec],
                      verbose=0)
        runs.append(rec.calls)
    assert runs[0] == runs[1]


def test_the_progress_bar_shows_metrics_and_validation(capsys):
    xv, yv = digits_like(40, seed=5)
    fine_tune(model(), HEAD, digits_like(), loss(), keras.optimizers.SGD(0.05), epochs=1,
              batch_size=16, validation_data=(xv, yv), metrics=["accuracy"], verbose=1)
    out = capsys.readouterr().out
    for name in ("accuracy:", "loss:", "val_accuracy:", "val_loss:"):
        assert name in out


# --- fit's input rules --------------------------------------------------------------


def one_output():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="hidden"),
                             keras.layers.Dense(1, name="out")], name="reg")


def test_a_plain_loss_function_gets_compiles_rank_matching_and_cast():
    x, _ = digits_like()
    y = (x[:, 0] > 0).astype("int64")  # shape (n,), integers; the output is (n, 1)

    def mse(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))

    result = pair({}, make=one_output, layers=["out"], metrics=(), data=(x, y),
                  compile_loss=mse, tune_loss=mse)
    assert_same(*result)


def test_string_loss_and_optimizer_as_compile_accepts_them():
    x, y = digits_like()
    ref = frozen_copy()
    ref.compile("sgd", "sparse_categorical_crossentropy")
    fit_h = ref.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    ours = model()
    h = fine_tune(ours, HEAD, (x, y), "sparse_categorical_crossentropy", "sgd", epochs=2,
                  batch_size=16, shuffle=False, verbose=0)
    assert_same(fit_h, ref, h, ours)


def two_inputs():
    keras.utils.set_random_seed(4)
    a, b = keras.Input((6,), name="a"), keras.Input((2,), name="b")
    h = keras.layers.Concatenate()([keras.layers.Dense(4, name="da")(a), b])
    return keras.Model([a, b], keras.layers.Dense(3, name="head")(h), name="two")


def test_x_as_a_list_for_a_multi_input_model():
    x, y = digits_like()
    xb = np.ones((96, 2), "float32")
    ref = frozen_copy(two_inputs, ["head"])
    ref.compile(keras.optimizers.SGD(0.05), loss())
    fit_h = ref.fit([x, xb], y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    ours = two_inputs()
    h = fine_tune(ours, ["head"], ([x, xb], y), loss(), keras.optimizers.SGD(0.05), epochs=2,
                  batch_size=16, shuffle=False, verbose=0)
    assert_same(fit_h, ref, h, ours)


def test_python_lists_of_numbers_are_refused_as_fit_refuses_them():
    m = model()
    before = [v.numpy().copy() for v in m.variables]
    ref = frozen_copy()
    ref.compile("sgd", loss())
    x, y = [[1.0] * 6] * 4, [0, 1, 2, 0]
    with pytest.raises(ValueError, match="Unrecognized data type"):
        ref.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"`x` must be a NumPy array.*Received: x=\[\[1\.0"):
        fine_tune(m, HEAD, (x, y), loss(), keras.optimizers.SGD(0.05), verbose=0)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, m.variables))


def test_a_dataset_that_can_be_iterated_once_warns_as_fit_and_keeps_the_history():
    x, y = digits_like()

    def once():
        batches = iter([(x[i:i + 16], y[i:i + 16]) for i in range(0, 96, 16)])
        return tf.data.Dataset.from_generator(
            lambda: batches, output_signature=(tf.TensorSpec([None, 6], tf.float32),
                                               tf.TensorSpec([None], tf.int64)))
    with pytest.warns(UserWarning, match="ran out of data"):
        h = fine_tune(model(), HEAD, once(), loss(), keras.optimizers.SGD(0.05), epochs=3,
                      verbose=0)
    assert len(h.history["loss"]) == 1 and np.isfinite(h.history["loss"][0])


def test_an_infinite_dataset_needs_steps_per_epoch_and_nothing_changes():
    x, y = digits_like()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
    m = model()
    before = [v.numpy().copy() for v in m.variables]
    for cache in (False, True):
        with pytest.raises(ValueError, match=r"`steps_per_epoch` must be given for an infinite"):
            fine_tune(m, ["head"], ds, loss(), keras.optimizers.SGD(0.05), verbose=0,
                      cache_features=cache)
    with pytest.raises(ValueError, match=r"needs a finite Dataset"):
        fine_tune(m, ["head"], ds, loss(), keras.optimizers.SGD(0.05), verbose=0,
                  cache_features=True, steps_per_epoch=3)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, m.variables))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"validation_freq": 0}, ValueError, r"`validation_freq` must be an integer >= 1"),
    ({"validation_split": 1.0}, ValueError, r"`validation_split` must be a float in \[0, 1\)"),
    ({"class_weight": [1.0, 2.0]}, ValueError, r"`class_weight` must be a dict"),
    ({"class_weight": {0: 1.0}, "sample_weight": np.ones(96)}, ValueError,
     "cannot be used at the same time"),
    ({"callbacks": keras.callbacks.History()}, TypeError, "must be a list of keras.callbacks"),
    ({"metrics": "accuracy"}, TypeError, r"Use metrics=\['accuracy'\]"),
    ({"steps_per_epoch": 0}, ValueError, r"`steps_per_epoch` must be an integer >= 1"),
    ({"initial_epoch": -1}, ValueError, r"`initial_epoch` must be an integer >= 0"),
])
def test_bad_keywords_are_refused_before_anything_changes(kwargs, error, message):
    m = model()
    before = [v.numpy().copy() for v in m.variables]
    with pytest.raises(error, match=message):
        fine_tune(m, HEAD, digits_like(), loss(), keras.optimizers.SGD(0.05), verbose=0,
                  **kwargs)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, m.variables))


def test_an_unknown_loss_name_is_refused():
    with pytest.raises(ValueError, match=r"Received: loss_fn='sparse_crossentropy'"):
        fine_tune(model(), HEAD, digits_like(), "sparse_crossentropy", "sgd", verbose=0)


# --- cache_features -----------------------------------------------------------------


def preprocessing_model():
    """A body that starts with plain ops, as keras.applications' preprocess_input."""
    keras.utils.set_random_seed(6)
    inp = keras.Input((6,))
    h = inp / 127.5 - 1.0  # TrueDivide and Subtract nodes, not layers
    h = keras.layers.Dense(8, activation="relu", name="body")(h)
    return keras.Model(inp, keras.layers.Dense(3, name="head")(h), name="pre")


def test_cache_features_cuts_a_graph_with_plain_ops_and_equals_fit():
    xv, yv = digits_like(40, seed=5)
    result = pair({"validation_data": (xv, yv)}, {"cache_features": True},
                  make=preprocessing_model, layers=["head"])
    assert_same(*result)


def test_cache_features_warns_about_training_only_layers_in_the_body():
    keras.utils.set_random_seed(7)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="body"),
                          keras.layers.Dropout(0.5, name="drop"),
                          keras.layers.GaussianNoise(0.1, name="noise"),
                          keras.layers.Dense(3, name="head")])
    with pytest.warns(UserWarning, match=r"'drop' \(Dropout\), 'noise' \(GaussianNoise\)"):
        fine_tune(m, ["head"], digits_like(), loss(), "sgd", cache_features=True, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no such layer: no warning
        fine_tune(model(), HEAD, digits_like(), loss(), "sgd", cache_features=True,
                  verbose=0)


@pytest.mark.slow
def test_cache_features_streams_a_dataset_and_keeps_only_the_features():
    """A 300 MiB input made batch by batch: the cache's peak memory is its features
    (a few KiB), not the input (``list(dataset)`` held it all: 311 MiB measured)."""
    import subprocess
    import sys
    from pathlib import Path

    child = Path(__file__).parent / "cache_memory_child.py"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, str(child)], env=env, check=True, timeout=600,
                         capture_output=True, text=True).stdout.split()
    growth, size = float(out[0]), float(out[1])
    assert size == 300.0
    assert growth < 60, f"peak memory grew by {growth} MiB while caching a {size} MiB input"


def test_validation_steps_start_each_validation_pass_at_the_start_as_fit_does():
    xv, yv = digits_like(40, seed=5)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(8)
    assert_same(*pair({"validation_data": val, "validation_steps": 3}))
    assert_same(*pair({"validation_data": val.repeat(), "validation_steps": 3}))
    assert_same(*pair({"validation_data": (xv, yv), "validation_steps": 2,
                       "validation_batch_size": 8, "epochs": 4}))
    result = pair({"validation_data": val.repeat(), "validation_steps": 3},
                  {"cache_features": True})  # the validation batches are cached once
    assert_same(*result)


def several_outputs():
    keras.utils.set_random_seed(8)
    inp = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu", name="neck")(inp)
    return keras.Model(inp, {"cls": keras.layers.Dense(3, name="cls")(h),
                             "reg": keras.layers.Dense(1, name="reg")(h)}, name="multi")


def test_several_outputs_report_each_outputs_loss_as_fit():
    x, y = digits_like()
    targets = {"cls": y, "reg": x[:, 2:3]}
    losses = {"cls": loss(), "reg": "mse"}
    metrics = {"cls": ["accuracy"], "reg": ["mae"]}
    layers = ["neck", "cls", "reg"]
    ref = frozen_copy(several_outputs, layers)
    ref.compile(keras.optimizers.SGD(0.05), losses, metrics=metrics)
    # validation batches of equal size: Keras weights its per-output loss trackers by
    # the static batch size of each trace (None once a shorter batch retraces), so
    # only equal batches make that weighting irrelevant
    fit_h = ref.fit(x, targets, batch_size=16, epochs=2, shuffle=False, verbose=0,
                    validation_split=0.25, validation_batch_size=8)
    ours = several_outputs()
    h = fine_tune(ours, layers, (x, targets), losses, keras.optimizers.SGD(0.05), epochs=2,
                  batch_size=16, shuffle=False, verbose=0, metrics=metrics,
                  validation_split=0.25, validation_batch_size=8)
    assert "cls_loss" in h.history and "val_reg_loss" in h.history
    assert_same(fit_h, ref, h, ours)


def test_fits_defaults_epochs_0_and_batch_size_none_and_float_class_keys():
    x, y = digits_like()
    h = fine_tune(model(), HEAD, (x, y), loss(), "sgd", epochs=0, verbose=0)
    assert h.history == {} and h.epoch == []
    assert_same(*pair({"batch_size": None}, metrics=()))
    assert_same(*pair({"class_weight": {0.0: 1.0, 1.0: 3.0, 2.0: 0.5}}))


def test_a_first_step_that_fails_at_run_time_changes_nothing():
    m = model()
    opt = keras.optimizers.Adam(0.01)
    before = [v.numpy().copy() for v in m.variables]
    x, y = digits_like()
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)):
        fine_tune(m, HEAD, (x, y), loss(), opt, sample_weight=np.ones((96, 3), "float32"),
                  verbose=0)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, m.variables))
    assert int(opt.iterations) == 0
