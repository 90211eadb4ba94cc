"""The loss, metrics and optimizer as compile takes them (tapelab/fine_tuning/compile_like.py),
each against compile + fit: names, plain functions, and mixed precision's loss scaling."""

import fit_peer as peer
import keras
import numpy as np
import pytest
import tensorflow as tf
from test_loop import HEAD, data, model
from tolerance import FLOAT16, assert_variables_close

from tapelab import fine_tune


def test_a_plain_loss_function_gets_compiles_rank_matching_and_cast():
    x, _ = peer.digits_like()
    y = (x[:, 0] > 0).astype("int64")  # shape (n,), integers; the output is (n, 1)

    def mse(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))

    result = peer.pair({}, make=peer.one_output, layers=["out"], metrics=(), data=(x, y),
                  compile_loss=mse, tune_loss=mse)
    peer.assert_same(*result)


def test_string_loss_and_optimizer_as_compile_accepts_them():
    x, y = peer.digits_like()
    ref = peer.frozen_copy()
    ref.compile("sgd", "sparse_categorical_crossentropy")
    fit_h = ref.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    ours = peer.model()
    h = fine_tune(ours, peer.HEAD, (x, y), "sparse_categorical_crossentropy", "sgd", epochs=2,
                  batch_size=16, shuffle=False, verbose=0)
    peer.assert_same(fit_h, ref, h, ours)


def test_an_unknown_loss_name_is_refused():
    with pytest.raises(ValueError, match=r"Received: loss_fn='sparse_crossentropy'"):
        fine_tune(peer.model(), peer.HEAD, peer.digits_like(), "sparse_crossentropy", "sgd", verbose=0)


def tiny(y_true, y_pred):
    """A loss whose float16 gradients underflow to 0 unless the loss is scaled first."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y_true, y_pred) * 1e-6


def test_mixed_float16_wraps_a_plain_optimizer_as_compile_does():
    """With small gradients, fit moved the head kernel by 0.036 and fine_tune by exactly 0.0:
    compile wraps the optimizer in LossScaleOptimizer, and so must fine_tune. Four batches,
    each step's update as fit's; a second call goes on with the same loss scale."""
    x, y = data(64)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        ours, ref, untouched = model(), model(), model()
        opt = keras.optimizers.SGD(3e4)
        h = fine_tune(ours, HEAD, (x, y), tiny, opt, epochs=1, batch_size=16, shuffle=False,
                      verbose=0)
        for layer in ref.layers:
            layer.trainable = layer.name in HEAD
        ref.compile(keras.optimizers.SGD(3e4), tiny, jit_compile=False)
        hf = ref.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
        assert isinstance(ref.optimizer, keras.optimizers.LossScaleOptimizer)
        assert_variables_close(ours, ref, FLOAT16)
        np.testing.assert_allclose(h.history["loss"], hf.history["loss"], **FLOAT16)
        moved = np.abs(ours.get_layer("head").kernel.numpy()
                       - untouched.get_layer("head").kernel.numpy())
        assert moved.max() > 1e-3
        from tapelab.fine_tuning import compile_like

        wrapper = compile_like.optimizer(opt, ours)
        assert isinstance(wrapper, keras.optimizers.LossScaleOptimizer)
        assert wrapper is compile_like.optimizer(opt, ours)  # kept: its loss scale goes on
        assert int(wrapper.iterations) == int(ref.optimizer.iterations)  # the same steps applied
    finally:
        keras.mixed_precision.set_global_policy("float32")
