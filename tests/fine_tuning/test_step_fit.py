"""fine_tune_step against its peer: Keras `fit` with the other layers at trainable=False.

Each case builds the same model twice from one seed. One copy is trained with
`fine_tune_step`; on the other, the layers outside the selection get
`trainable = False` (Keras's own recipe), then `compile` + `fit` on the same
batch with `shuffle=False`. Every variable of the two models (weights, BatchNorm
statistics, optimizer-independent seed counters) must agree within the tolerance
of the arithmetic (tests/tolerance.py): FLOAT32 for float32 models, where fit's
graph runs the same math in another op order, and FLOAT16 under mixed_float16.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT16, FLOAT32, assert_variables_close

from tapelab import fine_tune_step
from tapelab.fine_tuning.layer_tree import walk

pytestmark = pytest.mark.filterwarnings("ignore::tapelab.SelectionWarning")  # Dropout selected

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def batch(n=16, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (np.arange(n) % classes).astype("int64")
    return x, y


def mlp(seed=1, reg_body=None, reg_head=None, drop_seed=None):
    """body -> BN -> Dropout -> neck -> BN -> Dropout -> head: BN and Dropout on both sides.

    A Dense layer that feeds a BatchNormalization has no bias (use_bias=False), as
    in real networks: BN removes the batch mean, so that bias's true gradient is
    exactly 0 and what the tape returns is round-off, which Adam (g / |g|) would
    blow up to a full step of either sign, in fit and here alike.
    """
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="relu", name="body", kernel_regularizer=reg_body,
                           use_bias=False),
        keras.layers.BatchNormalization(name="bn_body"),
        keras.layers.Dropout(0.3, name="drop_body", seed=drop_seed),
        keras.layers.Dense(8, activation="relu", name="neck", use_bias=False),
        keras.layers.BatchNormalization(name="bn_neck"),
        keras.layers.Dropout(0.3, name="drop_neck", seed=drop_seed),
        keras.layers.Dense(3, name="head", kernel_regularizer=reg_head),
    ], name="mlp")


def flags(model):
    layers, _ = walk(model)
    return [layer.trainable for layer in layers] + [v.trainable for v in model.variables]


def fit_reference(model, frozen, optimizer, x, y, steps, loss=LOSS):
    """Keras's answer: freeze `frozen` (layer objects), compile, fit one batch per step."""
    for layer in frozen:
        layer.trainable = False
    model.compile(optimizer=optimizer, loss=loss, jit_compile=False)
    return model.fit(x, y, batch_size=len(x), epochs=steps, shuffle=False, verbose=0)


def run_both(make, selection, frozen, make_opt, steps=2, x_y=None, loss=LOSS, tolerance=FLOAT32):
    """`frozen(model)`: the layers Keras's recipe sets to trainable=False."""
    x, y = x_y or batch()
    ours, theirs = make(), make()
    before = flags(ours)
    opt = make_opt()
    losses = [float(fine_tune_step(ours, selection, loss, x, y, opt)) for _ in range(steps)]
    assert flags(ours) == before  # the user's trainable flags are back
    history = fit_reference(theirs, frozen(theirs), make_opt(), x, y, steps, loss)
    assert_variables_close(ours, theirs, tolerance)
    np.testing.assert_allclose(losses, history.history["loss"], **tolerance)  # fit's loss too
    return ours, losses


SELECTED = ["neck", "bn_neck", "drop_neck", "head"]
FROZEN = ["body", "bn_body", "drop_body"]


def frozen_body(model):
    return [model.get_layer(name) for name in FROZEN]


@pytest.mark.parametrize("make_opt", [
    lambda: keras.optimizers.SGD(0.1, momentum=0.9),
    lambda: keras.optimizers.Adam(0.01),
], ids=["sgd-momentum", "adam"])
def test_batchnorm_and_dropout_on_both_sides_equal_fit(make_opt):
    run_both(lambda: mlp(drop_seed=7), SELECTED, frozen_body, make_opt)


def test_dropout_without_explicit_seed_equals_fit_under_the_global_seed():
    run_both(mlp, SELECTED, frozen_body, lambda: keras.optimizers.SGD(0.1))


def test_regularisers_count_only_on_selected_layers_as_in_fit():
    def make():
        return mlp(reg_body=keras.regularizers.L2(1.0), reg_head=keras.regularizers.L2(1.0),
                   drop_seed=3)

    _, losses = run_both(make, SELECTED, frozen_body, lambda: keras.optimizers.SGD(0.05),
                         steps=1)
    # the loss fit minimises holds the head's L2 term, and not the body's
    fresh = make()
    head_l2 = float(tf.reduce_sum(fresh.get_layer("head").kernel ** 2))
    body_l2 = float(tf.reduce_sum(fresh.get_layer("body").kernel ** 2))
    x, y = batch()
    with_head = float(fine_tune_step(make(), ["head"], LOSS, x, y, keras.optimizers.SGD(0.0),
                                     training=False))
    data_only = float(LOSS(y, fresh(x, training=False)))
    assert head_l2 > 0.5 and body_l2 > 0.5 and losses[0] > head_l2
    np.testing.assert_allclose(with_head, data_only + head_l2, **FLOAT32)


def test_frozen_weights_are_bit_identical_and_selected_batchnorm_trains():
    x, y = batch()
    m = mlp(drop_seed=5)
    outside = {w.path: w.numpy().copy() for n in FROZEN for w in m.get_layer(n).weights}
    bn_before = m.get_layer("bn_neck").moving_mean.numpy().copy()
    fine_tune_step(m, SELECTED, LOSS, x, y, keras.optimizers.SGD(0.1))
    for w in (w for n in FROZEN for w in m.get_layer(n).weights):
        assert w.numpy().tobytes() == outside[w.path].tobytes(), w.path
    assert not np.array_equal(m.get_layer("bn_neck").moving_mean.numpy(), bn_before)


def test_training_false_keeps_selected_batchnorm_statistics():
    x, y = batch()
    m = mlp(drop_seed=5)
    bn_before = m.get_layer("bn_neck").moving_mean.numpy().copy()
    fine_tune_step(m, SELECTED, LOSS, x, y, keras.optimizers.SGD(0.1), training=False)
    np.testing.assert_array_equal(m.get_layer("bn_neck").moving_mean.numpy(), bn_before)


@pytest.fixture
def mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_mixed_float16_with_loss_scale_optimizer_equals_fit(mixed_precision):
    def make_opt():
        return keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1))

    # float16 activations: fit and the tape round them in other orders, and which CPU
    # kernel runs them changes the digits (4.9e-5 on an AVX-512 machine, updates of 0.1)
    model, _ = run_both(lambda: mlp(drop_seed=2), SELECTED, frozen_body, make_opt, steps=2,
                        tolerance=FLOAT16)
    assert model.get_layer("head").compute_dtype == "float16"
    # the update has fit's size, not 1/32768 of it
    fresh = mlp(drop_seed=2)
    moved = np.abs(model.get_layer("head").kernel.numpy() - fresh.get_layer("head").kernel.numpy())
    assert moved.max() > 1e-3


def tiny(y_true, y_pred):
    """A loss whose float16 gradients underflow to 0 unless the loss is scaled first."""
    return LOSS(y_true, y_pred) * 1e-6


def test_mixed_float16_with_a_plain_optimizer_is_loss_scaled_as_compile_does(mixed_precision):
    """compile wraps a plain optimizer in LossScaleOptimizer under mixed_float16; the step
    did not, so small float16 gradients underflowed and the head did not move at all."""
    model, _ = run_both(lambda: mlp(drop_seed=2), SELECTED, frozen_body,
                        lambda: keras.optimizers.SGD(3e4), steps=2, loss=tiny,
                        tolerance=FLOAT16)
    fresh = mlp(drop_seed=2)
    moved = np.abs(model.get_layer("head").kernel.numpy() - fresh.get_layer("head").kernel.numpy())
    assert moved.max() > 1e-3  # fit's update, not an underflowed 0


@pytest.mark.slow  # MobileNetV2
def test_mobilenetv2_tail_with_batchnorm_in_and_out_equals_fit():
    """The issue's own case: slice(-6, None) holds Conv_1_bn; the body has 50 more."""
    def make():
        keras.utils.set_random_seed(0)
        return keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=10)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 32, 32, 3)).astype("float32")
    y = np.array([0, 1, 2, 3])
    loss = keras.losses.SparseCategoricalCrossentropy()
    run_both(make, slice(-6, None), lambda model: model.layers[:-6], lambda: keras.optimizers.SGD(0.1), steps=1,
             x_y=(x, y), loss=loss)


def nested(seed=4):
    """The transfer-learning guide's shape: a base model called inside an outer model."""
    keras.utils.set_random_seed(seed)
    base = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="relu", name="d1", use_bias=False),
        keras.layers.BatchNormalization(name="bn1"),
        keras.layers.Dense(8, activation="relu", name="d2", use_bias=False),
        keras.layers.BatchNormalization(name="bn2"),
    ], name="base")
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(3, name="head")(base(inputs))
    return keras.Model(inputs, outputs, name="outer")


def test_nested_selection_by_path_equals_fit():
    x, y = batch()
    ours, theirs = nested(), nested()
    before = flags(ours)
    opt = keras.optimizers.SGD(0.1, momentum=0.9)
    for _ in range(2):
        fine_tune_step(ours, ["base/d2", "base/bn2", "head"], LOSS, x, y, opt)
    assert flags(ours) == before
    base = theirs.get_layer("base")
    fit_reference(theirs, [base.get_layer("d1"), base.get_layer("bn1")],
                  keras.optimizers.SGD(0.1, momentum=0.9), x, y, steps=2)
    assert_variables_close(ours, theirs, FLOAT32)


def test_whole_nested_model_selected_by_name_equals_fit():
    x, y = batch()
    ours, theirs = nested(), nested()
    fine_tune_step(ours, ["base"], LOSS, x, y, keras.optimizers.Adam(0.01))
    fit_reference(theirs, [theirs.get_layer("head")], keras.optimizers.Adam(0.01), x, y, 1)
    assert_variables_close(ours, theirs, FLOAT32)
