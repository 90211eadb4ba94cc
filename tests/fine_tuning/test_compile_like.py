"""The loss, metrics and optimizer as compile takes them (tapelab/fine_tuning/compile_like.py),
each against compile + fit: names, plain functions, and mixed precision's loss scaling."""

import fit_peer as peer
import keras
import numpy as np
import pytest
import tensorflow as tf
from test_loop import HEAD, data, model
from tolerance import FLOAT16, assert_variables_close

from tapelab import fine_tune, fine_tune_step


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


@pytest.mark.parametrize("kwargs, match", [
    ({"optimizer": keras.optimizers.Adam}, (r"`optimizer` must be an optimizer object or name, "
                                           r"not a class\. Received: the class Adam")),
    ({"metrics": ["acuracy"]}, (r"`metrics` must be metric names that model.compile accepts.*"
                               r"Received: metrics='acuracy'")),
    ({"metrics": [keras.metrics.AUC]}, r"not classes\. Received: the class AUC\. Create one: AUC\(\)"),
    ({"loss_fn": keras.losses.MeanSquaredError}, r"`loss_fn` must be a loss object, not a class"),
])
def test_classes_and_misspelt_names_are_refused_before_anything_changes(kwargs, match):
    x, y = data()
    m = model()
    opt = keras.optimizers.SGD(0.1)
    args = {"optimizer": opt, "loss_fn": keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), **kwargs}
    with pytest.raises(TypeError if "class" in match else ValueError, match=match):
        fine_tune(m, HEAD, (x, y), args["loss_fn"], args["optimizer"], verbose=0,
                  metrics=kwargs.get("metrics"))
    assert not opt.built
    with pytest.raises(TypeError, match=r"must be an optimizer object, not a class"):
        fine_tune_step(m, HEAD, args["loss_fn"], x, y, keras.optimizers.Adam)


def test_a_loss_dict_may_leave_an_output_without_a_loss_as_compile_allows():
    inp = keras.Input((4,))
    shared = keras.layers.Dense(3, name="shared")(inp)
    m = keras.Model(inp, {"a": keras.layers.Dense(1, name="a")(shared),
                          "b": keras.layers.Dense(1, name="b")(shared)})
    x = np.ones((8, 4), "float32")
    y = {"a": np.zeros((8, 1), "float32"), "b": np.zeros((8, 1), "float32")}
    h = fine_tune(m, ["shared", "a"], (x, y), {"a": "mse", "b": None}, "sgd", verbose=0)
    assert len(h.history["loss"]) == 1
