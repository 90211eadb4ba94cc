"""fit's input rules (tapelab/fine_tuning/inputs.py): what data and its keywords may be,
each against fit on the same inputs, and bad input refused before the first step."""

import fit_peer as peer
import keras
import numpy as np
import pytest
import tensorflow as tf
from test_loop import HEAD, LOSS, data, model, values

from tapelab import fine_tune


def test_validation_split_holds_out_the_last_part_as_fit_does():
    peer.assert_same(*peer.pair({"validation_split": 0.25}))


def test_validation_dataset_with_sample_weights():
    xv, yv = peer.digits_like(40, seed=5)
    wv = np.linspace(0.5, 2.0, 40).astype("float32")
    val = tf.data.Dataset.from_tensor_slices((xv, yv, wv)).batch(16)
    peer.assert_same(*peer.pair({"validation_data": val}))


def test_class_weight_and_sample_weight_as_fit():
    peer.assert_same(*peer.pair({"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}}))
    w = np.linspace(0.1, 2.0, 96).astype("float32")
    peer.assert_same(*peer.pair({"sample_weight": w}))


def test_a_dataset_of_x_y_sample_weight_triples():
    x, y = peer.digits_like()
    w = np.linspace(0.1, 2.0, 96).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(16)
    peer.assert_same(*peer.pair({"data": ds}, {"batch_size": 16}))


def test_x_as_a_list_for_a_multi_input_model():
    x, y = peer.digits_like()
    xb = np.ones((96, 2), "float32")
    ref = peer.frozen_copy(peer.two_inputs, ["head"])
    ref.compile(keras.optimizers.SGD(0.05), peer.loss())
    fit_h = ref.fit([x, xb], y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    ours = peer.two_inputs()
    h = fine_tune(ours, ["head"], ([x, xb], y), peer.loss(), keras.optimizers.SGD(0.05), epochs=2,
                  batch_size=16, shuffle=False, verbose=0)
    peer.assert_same(fit_h, ref, h, ours)


def test_python_lists_of_numbers_are_refused_as_fit_refuses_them():
    m = peer.model()
    before = [v.numpy().copy() for v in m.variables]
    ref = peer.frozen_copy()
    ref.compile("sgd", peer.loss())
    x, y = [[1.0] * 6] * 4, [0, 1, 2, 0]
    with pytest.raises(ValueError, match="Unrecognized data type"):
        ref.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"`x` must be a NumPy array.*Received: x=\[\[1\.0"):
        fine_tune(m, peer.HEAD, (x, y), peer.loss(), keras.optimizers.SGD(0.05), verbose=0)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, m.variables))


def test_fits_defaults_epochs_0_and_batch_size_none_and_float_class_keys():
    x, y = peer.digits_like()
    h = fine_tune(peer.model(), peer.HEAD, (x, y), peer.loss(), "sgd", epochs=0, verbose=0)
    assert h.history == {} and h.epoch == []
    peer.assert_same(*peer.pair({"batch_size": None}, metrics=()))
    peer.assert_same(*peer.pair({"class_weight": {0.0: 1.0, 1.0: 3.0, 2.0: 0.5}}))


def test_validation_data_that_does_not_fit_the_model_is_refused_before_step_one():
    """It trained a full epoch, then failed "in user code: ... distribute.py"."""
    x, y = data()
    m, opt = model(), keras.optimizers.SGD(0.1)
    before = values(m)
    for validation in ((np.zeros((10, 5), "float32"), np.zeros(10, "int64")),
                       tf.data.Dataset.from_tensor_slices((np.zeros((10, 5), "float32"),
                                                           np.zeros(10, "int64"))).batch(5)):
        with pytest.raises(ValueError, match=r"`validation_data` does not fit the model: .*"
                                             r"Received: inputs of shape \(None, 5\); model "
                                             r"'net' takes \(None, 6\)\. Nothing was trained"):
            fine_tune(m, HEAD, (x, y), LOSS, opt, verbose=0, validation_data=validation)
    assert all(np.array_equal(a, b) for a, b in zip(before, values(m)))
    assert not opt.built


@pytest.mark.parametrize("weights", [np.ones((50, 2), "float32"), np.ones((50, 3, 1), "float32")])
def test_sample_weights_of_another_shape_are_refused_before_step_one(weights):
    """(n, 2) weights for y of shape (n,) gave a raw InvalidArgumentError at run time."""
    x, y = data()
    m, opt = model(), keras.optimizers.SGD(0.1)
    with pytest.raises(ValueError, match=r"`sample_weight` must give one weight per example "
                                         r"\(shape \(n,\)\), or per element of y \(a shape that "
                                         rf"y's \(50,\) starts with\)\. Received: sample_weight "
                                         rf"of shape \(50, {weights.shape[1]}"):
        fine_tune(m, HEAD, (x, y), LOSS, opt, verbose=0, sample_weight=weights)
    assert not opt.built


def test_sample_weights_of_shape_n_or_n_1_are_fine():
    x, y = data()
    for weights in (np.ones(50, "float32"), np.ones((50, 1), "float32")):
        fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.SGD(0.1), verbose=0,
                  sample_weight=weights)


def test_validation_targets_that_do_not_fit_the_loss_are_refused_before_step_one():
    """One-hot validation labels for a sparse loss: epoch 1 trained, then a raw Keras error."""
    x, y = data()
    m, opt = model(), keras.optimizers.SGD(0.1)
    before = values(m)
    with pytest.raises(ValueError, match=r"`validation_data`'s targets do not fit the loss and "
                                         r"the model's outputs: .*Received: targets of shape "
                                         r"\(None, 3\), for outputs of shape \(None, 3\)"):
        fine_tune(m, HEAD, (x, y), LOSS, opt, verbose=0,
                  validation_data=(x, np.eye(3, dtype="float32")[y]))
    assert all(np.array_equal(a, b) for a, b in zip(before, values(m)))
    assert not opt.built


def test_training_data_that_does_not_fit_is_refused_in_words_before_step_one():
    x, y = data()
    m, opt = model(), keras.optimizers.SGD(0.1)
    before = values(m)
    with pytest.raises(ValueError, match=r"^`data` does not fit the model, its loss or its "
                                         r"metrics: .*Received: batches of shapes \[\(None, 5\), "
                                         r"\(None,\)\].*Nothing was trained"):
        fine_tune(m, HEAD, (x[:, :5], y), LOSS, opt, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, values(m)))
    assert not opt.built


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sample_weight": np.array(["a"] * 50)}, TypeError, r"`sample_weight` must hold numbers"),
    ({"validation_data": (np.zeros((4, 6), "float32"), np.zeros(4, "int64"),
                          np.ones((4, 2), "float32"))},
     ValueError, r"`validation_data's sample_weight` must give one weight per example"),
    ({"class_weight": {0: "x"}}, ValueError, r"to weight \(a finite number >= 0\)"),
    ({"class_weight": {0: float("nan"), 1: 1.0}}, ValueError, r"`class_weight` must be a dict"),
    ({"class_weight": {0: None}}, ValueError, r"`class_weight` must be a dict"),
])
def test_weights_that_are_not_numbers_are_refused_naming_where_they_were(kwargs, error, match):
    x, y = data()
    m, opt = model(), keras.optimizers.SGD(0.1)
    with pytest.raises(error, match=match):
        fine_tune(m, HEAD, (x, y), LOSS, opt, verbose=0, **kwargs)
    assert not opt.built


def test_an_infinite_validation_dataset_asks_for_validation_steps():
    x, y = data()
    val = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat()
    with pytest.raises(ValueError, match=r"^`validation_steps` must be given for an infinite "
                                         r"`validation_data` Dataset.*Pass validation_steps="):
        fine_tune(model(), HEAD, (x, y), LOSS, "sgd", verbose=0, validation_data=val)
