"""Every warning tapelab raises points at the user's line (tapelab/_user_warnings.py).

``stacklevel`` was counted by hand (3, 4, or 3+1), and the "ran out of data" warning
pointed into tapelab's own epochs.py. Each case below calls tapelab on one line of
this file, inside ``recording()``, and checks that Python reports that very line.
"""

import contextlib
import inspect
import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tapelab
from tapelab import BackupAndResume, fine_tune

HERE = os.path.abspath(__file__)
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@contextlib.contextmanager
def recording(category, match):
    """Record the warnings of the block; those of ``category`` whose message holds ``match``
    must all come from this file, at the line after the ``with`` (the call under test)."""
    at = inspect.currentframe().f_back.f_back.f_lineno + 1
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        yield
    found = [(os.path.abspath(w.filename), w.lineno) for w in records
             if issubclass(w.category, category) and match in str(w.message)]
    assert found, [str(w.message)[:80] for w in records]
    assert set(found) == {(HERE, at)}, found


def data(n=48):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 3, n)


def model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name="body"),
                             keras.layers.Dropout(0.5, name="drop"),
                             keras.layers.Dense(3, name="head")])


SKIPPED = (tapelab.SelectionWarning, "selected layers are skipped")


def test_selection_warning_from_each_helper():
    x, y = data()
    with recording(*SKIPPED):
        tapelab.trainable_variables(model(), ["drop", "head"])
    with recording(*SKIPPED):
        tapelab.fine_tune_step(model(), ["drop", "head"], LOSS, x, y, keras.optimizers.SGD(0.1))
    with recording(*SKIPPED):
        fine_tune(model(), ["drop", "head"], (x, y), LOSS, "sgd", verbose=0)
    with recording(*SKIPPED):
        tapelab.per_example_gradients(model(), ["drop", "head"], LOSS, x, y)


def test_inside_a_users_tf_function_the_warning_points_at_the_call_of_it():
    x, y = data()
    m, opt = model(), keras.optimizers.SGD(0.1)
    step = tf.function(lambda: tapelab.fine_tune_step(m, ["drop", "head"], LOSS, x, y, opt))
    with recording(*SKIPPED):
        step()  # autograph's generated frames and TF's are skipped


def test_tape_skips_a_non_float_variable():
    v, n = tf.Variable(1.0), tf.Variable(3)
    with recording(UserWarning, "skips 1 variable(s) that are not floating"):  # noqa: SIM117
        with tapelab.tape(watch=[v, n]):  # through contextlib's __enter__
            pass


def test_check_gradient_in_float16_and_the_deprecated_tape_attribute():
    x16 = tf.constant([1.0, 2.0], tf.float16)
    with recording(UserWarning, "source 0 is float16"):
        tapelab.check_gradient(lambda t: tf.reduce_sum(t * t), x16)
    check = tapelab.check_gradient(lambda t: tf.reduce_sum(t * t), tf.constant([1.0, 2.0]))
    with recording(DeprecationWarning, "GradientCheck.tape is deprecated"):
        _ = check.tape


def test_fine_tune_warnings_about_the_data():
    x, y = data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(48, seed=0).batch(16)
    with recording(UserWarning, "these layers of it do nothing in training"):
        fine_tune(model(), ["head"], (x, y), LOSS, "sgd", verbose=0, cache_features=True)
    with recording(UserWarning, "gives other values on each pass"):
        fine_tune(model(), ["head"], ds, LOSS, "sgd", verbose=0, cache_features=True)
    with recording(UserWarning, "Your input ran out of data"):
        fine_tune(model(), ["head"], (x, y), LOSS, "sgd", verbose=0, epochs=2, steps_per_epoch=5)
    with recording(UserWarning, "Your input ran out of data"):
        fine_tune(model(), ["head"], ds, LOSS, "sgd", verbose=0, epochs=2, steps_per_epoch=5)


def test_checkpoint_warnings_through_fine_tune(tmp_path):
    x, y = data()
    fine_tune(model(), ["head"], (x, y), LOSS, "sgd", verbose=0, epochs=2,
              checkpoint_dir=tmp_path)
    with recording(UserWarning, "more than epochs=1"):
        fine_tune(model(), ["head"], (x, y), LOSS, "sgd", verbose=0, checkpoint_dir=tmp_path)
    with recording(UserWarning, "restores the optimizer with learning_rate"):
        fine_tune(model(), ["head"], (x, y), LOSS, keras.optimizers.SGD(0.5), verbose=0,
                  epochs=3, checkpoint_dir=tmp_path)
    (tmp_path / "checkpoint").unlink()
    with recording(UserWarning, "index file 'checkpoint' is missing"):
        fine_tune(model(), ["head"], (x, y), LOSS, "sgd", verbose=0, epochs=3,
                  checkpoint_dir=tmp_path)


class Poison(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        logs["loss"] = float("nan")


def test_checkpoint_warnings_through_fit(tmp_path):
    x, y = data()
    m = model()
    m.compile(keras.optimizers.SGD(0.1), LOSS)
    m.fit(x, y, epochs=2, verbose=0, callbacks=[BackupAndResume(tmp_path / "a")])
    with recording(UserWarning, "more than epochs=1"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[BackupAndResume(tmp_path / "a")])
    with recording(RuntimeWarning, "is not finite. Training stopped"):
        m.fit(x, y, epochs=2, verbose=0, callbacks=[Poison(), BackupAndResume(tmp_path / "b")])


@pytest.mark.parametrize("module", ["tapelab", "keras", "tensorflow"])
def test_the_frames_of_tapelab_keras_and_tensorflow_are_skipped(module):
    from tapelab import _user_warnings

    package = os.path.dirname(os.path.abspath(__import__(module).__file__)) + os.sep
    assert package in _user_warnings.library_prefixes()
