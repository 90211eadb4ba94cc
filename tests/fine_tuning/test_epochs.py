"""fine_tune's epochs (tapelab/fine_tuning/epochs.py): the History, the progress bar, and
fit's callbacks in fit's order, each against fit itself."""

import csv
import glob
import os

import fit_peer as peer
import keras
import numpy as np
import pytest
import tensorflow as tf
from test_loop import HEAD, LOSS, data, model
from tolerance import FLOAT32, assert_variables_close

from tapelab import fine_tune


def test_history_is_a_keras_history_of_epoch_means():
    x, y = data()
    h = fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.SGD(0.01), epochs=2,
                  batch_size=16, verbose=0)
    assert isinstance(h, keras.callbacks.History)
    assert list(h.history) == ["loss"] and len(h.history["loss"]) == 2
    assert h.params == {"verbose": 0, "epochs": 2, "steps": 4, "initial_epoch": 0}


def test_verbose_1_shows_a_progress_bar_and_0_prints_nothing(capsys):
    x, y = data()
    fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.SGD(0.01), epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.SGD(0.01), epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "2/2" in out and "loss:" in out


def test_validation_data_and_metrics_give_fits_history_and_weights():
    xv, yv = peer.digits_like(40, seed=5)
    result = peer.pair({"validation_data": (xv, yv)})
    assert sorted(result[2].history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    peer.assert_same(*result)


def test_validation_freq_validates_on_the_same_epochs():
    xv, yv = peer.digits_like(40, seed=5)
    fit_h, ref, h, ours = peer.pair({"validation_data": (xv, yv), "validation_freq": 2, "epochs": 4})
    assert len(h.history["val_loss"]) == 2 and len(h.history["loss"]) == 4
    peer.assert_same(fit_h, ref, h, ours)
    peer.assert_same(*peer.pair({"validation_data": (xv, yv), "validation_freq": [1, 3], "epochs": 3}))


def test_initial_epoch_starts_there_as_fit_does():
    peer.assert_same(*peer.pair({"initial_epoch": 2, "epochs": 4}))


def test_early_stopping_restores_the_best_weights_at_the_same_epoch():
    def make():
        return [keras.callbacks.EarlyStopping("val_loss", patience=1, restore_best_weights=True)]
    fit_h, ref, h, ours = peer.callbacks_pair(make, epochs=30, lr=0.5)
    assert len(h.epoch) < 30  # it stopped early
    peer.assert_same(fit_h, ref, h, ours)


def test_learning_rate_callbacks_set_the_same_rates():
    def make():
        return [keras.callbacks.LearningRateScheduler(lambda e, lr: lr * 0.5),
                keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.1, patience=0,
                                                  min_delta=10.0)]
    fit_h, ref, h, ours = peer.callbacks_pair(make, epochs=4)
    assert "learning_rate" in h.history
    peer.assert_same(fit_h, ref, h, ours)


def test_terminate_on_nan_stops_at_the_same_batch():
    def make():
        return [keras.callbacks.TerminateOnNaN()]
    def diverged():
        m = peer.model()
        m.get_layer("head").bias.assign([np.nan] * 3)  # every loss is NaN
        return m
    fit_h, _, h, _ = peer.pair({"epochs": 3, "callbacks": make()}, {"callbacks": make()},
                          make=diverged, metrics=())
    assert len(h.epoch) == len(fit_h.epoch) == 1
    assert np.isnan(h.history["loss"][0]) and np.isnan(fit_h.history["loss"][0])


def test_csv_logger_writes_the_same_file(tmp_path):
    files = iter([tmp_path / "fit.csv", tmp_path / "ours.csv"])

    def make():
        return [keras.callbacks.CSVLogger(str(next(files)))]
    peer.callbacks_pair(make, epochs=3)
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
    xv, yv = peer.digits_like(40, seed=5)
    ours = peer.model()
    h = fine_tune(ours, peer.HEAD, peer.digits_like(), peer.loss(), keras.optimizers.SGD(0.05), epochs=4,
                  batch_size=16, validation_data=(xv, yv), callbacks=make(), verbose=0)
    best = int(np.argmin(h.history["val_loss"]))
    loaded = peer.model()
    loaded.load_weights(str(tmp_path / "best.weights.h5"))
    if best == 3:  # the last epoch was the best: the file holds the final weights
        assert_variables_close(loaded, ours, FLOAT32)
    assert os.path.getsize(tmp_path / "best.weights.h5") > 0


def test_tensorboard_writes_the_epoch_scalars(tmp_path):
    xv, yv = peer.digits_like(40, seed=5)
    h = fine_tune(peer.model(), peer.HEAD, peer.digits_like(), peer.loss(), keras.optimizers.SGD(0.05), epochs=2,
                  batch_size=16, validation_data=(xv, yv), metrics=["accuracy"], verbose=0,
                  callbacks=[keras.callbacks.TensorBoard(str(tmp_path))])
    scalars = {}
    for path in glob.glob(str(tmp_path / "**" / "events.out.tfevents.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if not value.tag.startswith("epoch_"):
                    continue  # the graph and the peer.model's config, not scalars
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

    h = fine_tune(peer.model(), peer.HEAD, peer.digits_like(), peer.loss(), keras.optimizers.SGD(0.05), epochs=5,
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

    xv, yv = peer.digits_like(20, seed=5)
    runs = []
    for trainer in ("fit", "fine_tune"):
        rec = Record()
        rec.calls = []
        if trainer == "fit":
            m = peer.frozen_copy()
            m.compile(keras.optimizers.SGD(0.05), peer.loss())
            m.fit(*peer.digits_like(32), batch_size=16, epochs=2, validation_data=(xv, yv),
                  callbacks=[rec], verbose=0, shuffle=False)
        else:
            fine_tune(peer.model(), peer.HEAD, peer.digits_like(32), peer.loss(), keras.optimizers.SGD(0.05),
                      epochs=2, batch_size=16, validation_data=(xv, yv), callbacks=[rec],
                      verbose=0)
        runs.append(rec.calls)
    assert runs[0] == runs[1]


def test_the_progress_bar_shows_metrics_and_validation(capsys):
    xv, yv = peer.digits_like(40, seed=5)
    fine_tune(peer.model(), peer.HEAD, peer.digits_like(), peer.loss(), keras.optimizers.SGD(0.05), epochs=1,
              batch_size=16, validation_data=(xv, yv), metrics=["accuracy"], verbose=1)
    out = capsys.readouterr().out
    for name in ("accuracy:", "loss:", "val_accuracy:", "val_loss:"):
        assert name in out


def test_validation_steps_start_each_validation_pass_at_the_start_as_fit_does():
    xv, yv = peer.digits_like(40, seed=5)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(8)
    peer.assert_same(*peer.pair({"validation_data": val, "validation_steps": 3}))
    peer.assert_same(*peer.pair({"validation_data": val.repeat(), "validation_steps": 3}))
    peer.assert_same(*peer.pair({"validation_data": (xv, yv), "validation_steps": 2,
                       "validation_batch_size": 8, "epochs": 4}))
    result = peer.pair({"validation_data": val.repeat(), "validation_steps": 3},
                  {"cache_features": True})  # the validation batches are cached once
    peer.assert_same(*result)


def several_outputs():
    keras.utils.set_random_seed(8)
    inp = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu", name="neck")(inp)
    return keras.Model(inp, {"cls": keras.layers.Dense(3, name="cls")(h),
                             "reg": keras.layers.Dense(1, name="reg")(h)}, name="multi")


def test_several_outputs_report_each_outputs_loss_as_fit():
    x, y = peer.digits_like()
    targets = {"cls": y, "reg": x[:, 2:3]}
    losses = {"cls": peer.loss(), "reg": "mse"}
    metrics = {"cls": ["accuracy"], "reg": ["mae"]}
    layers = ["neck", "cls", "reg"]
    ref = peer.frozen_copy(several_outputs, layers)
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
    peer.assert_same(fit_h, ref, h, ours)


def test_a_first_step_that_fails_at_run_time_changes_nothing():
    m = peer.model()
    opt = keras.optimizers.Adam(0.01)
    before = [v.numpy().copy() for v in m.variables]
    x, y = peer.digits_like()
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)):
        fine_tune(m, peer.HEAD, (x, y), peer.loss(), opt, sample_weight=np.ones((96, 3), "float32"),
                  verbose=0)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, m.variables))
    assert int(opt.iterations) == 0
