"""fine_tune's compiled steps (tapelab/fine_tuning/compiled.py): traced once, reused only
when the call is certainly the same, and never keeping the model alive."""

import collections

import keras
import tensorflow as tf
from test_loop import HEAD, LOSS, data, model

from tapelab import fine_tune


def test_traced_once_for_all_epochs_and_the_short_last_batch():
    x, y = data(50)  # batches of 16, 16, 16, 2
    traces = []

    def loss_fn(y_true, y_pred):
        traces.append(tf.executing_eagerly())
        return LOSS(y_true, y_pred)

    fine_tune(model(), HEAD, (x, y), loss_fn, keras.optimizers.SGD(0.01), epochs=3,
              batch_size=16, verbose=0)
    assert traces == [False]  # one trace, no eager call


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
