"""The peer of fine_tune's fit keywords: Keras `fit` with the other layers frozen (helpers).

``pair`` builds one model twice from one seed. One copy trains with `fine_tune`;
on the other the layers outside the selection get `trainable=False` (Keras's own
recipe), then `compile` + `fit` with the same keywords and `shuffle=False`.
``assert_same`` checks the History (every key, every epoch) and every variable
within FLOAT32 (tests/tolerance.py: fit's graph runs the same math in another op
order). The tests that use them sit with the module each keyword is handled in
(test_epochs.py, test_inputs.py, test_batches.py, test_compile_like.py, ...).
"""


import keras
import numpy as np
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


def callbacks_pair(make_callbacks, epochs=8, lr=0.05, **kw):
    xv, yv = digits_like(40, seed=5)
    return pair({"validation_data": (xv, yv), "epochs": epochs, "callbacks": make_callbacks()},
                {"callbacks": make_callbacks()}, lr=lr, **kw)


# --- fit's input rules --------------------------------------------------------------


def one_output():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="hidden"),
                             keras.layers.Dense(1, name="out")], name="reg")


def two_inputs():
    keras.utils.set_random_seed(4)
    a, b = keras.Input((6,), name="a"), keras.Input((2,), name="b")
    h = keras.layers.Concatenate()([keras.layers.Dense(4, name="da")(a), b])
    return keras.Model([a, b], keras.layers.Dense(3, name="head")(h), name="two")


# --- cache_features -----------------------------------------------------------------


