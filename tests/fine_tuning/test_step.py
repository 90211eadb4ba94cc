"""fine_tune_step (tapelab/fine_tuning/step.py), on real Keras 3 models."""

import itertools
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from tolerance import EXACT

from tapelab import SelectionWarning, fine_tune_step, trainable_variables


def small_model():
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu", name="body"),
            keras.layers.Dropout(0.5, name="drop"),
            keras.layers.Dense(8, activation="relu", name="neck"),
            keras.layers.Dense(3, name="head"),
        ],
        name="small",
    )


def data(n=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0).astype("int64")
    return x, y


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def snapshot(variables):
    return {v.path: np.array(v.numpy(), copy=True) for v in variables}


# --- fine_tune_step ----------------------------------------------------------------


def test_step_matches_a_hand_written_tape_and_optimizer():
    x, y = data()
    m1, m2 = small_model(), small_model()
    opt1, opt2 = keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)
    loss = fine_tune_step(m1, ["neck", "head"], LOSS, x, y, opt1, training=False)

    chosen = m2.get_layer("neck").trainable_variables + m2.get_layer("head").trainable_variables
    with tf.GradientTape(watch_accessed_variables=False) as t:
        t.watch([v.value for v in chosen])
        ref_loss = LOSS(y, m2(x, training=False))
    opt2.apply_gradients(zip(t.gradient(ref_loss, chosen), chosen))

    assert float(loss) == float(ref_loss)
    for a, b in zip(m1.weights, m2.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_unselected_variables_are_bit_identical_and_selected_ones_move():
    x, y = data()
    m = small_model()
    frozen = [v for layer in ("body", "neck") for v in m.get_layer(layer).weights]
    before, head_before = snapshot(frozen), snapshot(m.get_layer("head").weights)
    opt = keras.optimizers.Adam(0.01)
    for _ in range(3):
        fine_tune_step(m, ["head"], LOSS, x, y, opt)
    for path, value in snapshot(frozen).items():
        assert value.tobytes() == before[path].tobytes(), path
    for path, value in snapshot(m.get_layer("head").weights).items():
        assert not np.array_equal(value, head_before[path]), path


def test_loss_goes_down_over_a_few_steps():
    x, y = data(64)
    m = small_model()
    opt = keras.optimizers.SGD(0.2)
    losses = [float(fine_tune_step(m, slice(-2, None), LOSS, x, y, opt, training=False))
              for _ in range(15)]
    assert losses[-1] < 0.8 * losses[0]
    # a loss near 1 that stalls may move by float32 round-off (1e-7) in either direction
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(losses))


def test_returns_the_scalar_loss_tensor():
    x, y = data()
    loss = fine_tune_step(small_model(), ["head"], LOSS, x, y, keras.optimizers.SGD(0.1))
    assert isinstance(loss, tf.Tensor) and loss.shape == ()


def test_tape_records_only_the_selected_variables(monkeypatch):
    """A head-only step must not record the body: that is what keeps it cheap."""
    x, y = data()
    m = small_model()
    seen = []

    class Spy(tf.GradientTape):  # a real tape that also reports what it watched
        def gradient(self, target, sources, *args, **kwargs):
            seen.extend(v.name for v in self.watched_variables())
            return super().gradient(target, sources, *args, **kwargs)

    monkeypatch.setattr(tf, "GradientTape", Spy)
    fine_tune_step(m, ["head"], LOSS, x, y, keras.optimizers.SGD(0.1))
    assert sorted(seen) == ["small/head/bias:0", "small/head/kernel:0"]


def test_optimizer_built_for_other_variables_is_refused_before_any_change():
    x, y = data()
    m = small_model()
    opt = keras.optimizers.SGD(0.1)
    fine_tune_step(m, ["head"], LOSS, x, y, opt)
    before = snapshot(m.weights)
    with pytest.raises(ValueError, match=r"already built for a different selection of this model.*"
                                         r"small/neck/kernel.*Create a new optimizer"):
        fine_tune_step(m, ["neck", "head"], LOSS, x, y, opt)
    assert all(v.tobytes() == before[p].tobytes() for p, v in snapshot(m.weights).items())
    fine_tune_step(m, ["neck", "head"], LOSS, x, y, keras.optimizers.SGD(0.1))  # the fix


def test_per_layer_apply_on_one_optimizer_fails_in_raw_keras():
    """Why fine_tune_step makes ONE apply_gradients call (the seed's loop fails)."""
    m = small_model()
    opt = keras.optimizers.SGD(0.1)
    head, neck = m.get_layer("head"), m.get_layer("neck")
    opt.apply_gradients(zip([tf.zeros_like(v) for v in head.trainable_variables],
                            head.trainable_variables))
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply_gradients(zip([tf.zeros_like(v) for v in neck.trainable_variables],
                                neck.trainable_variables))


def test_missing_gradient_raises_before_anything_changes():
    x, y = data()
    # a layer whose output is not used in the loss: a two-output model, loss on one
    inp = keras.Input((4,))
    hidden = keras.layers.Dense(8, name="h")(inp)
    used = keras.layers.Dense(3, name="used")(hidden)
    unused = keras.layers.Dense(3, name="unused")(hidden)
    two = keras.Model(inp, {"used": used, "unused": unused}, name="two")
    before = snapshot(two.weights)

    def loss_on_used(y_true, outputs):
        return LOSS(y_true, outputs["used"])

    opt = keras.optimizers.SGD(0.1)
    with pytest.raises(ValueError, match=r"no gradient: unused/kernel, unused/bias\. "
                                         r"Nothing was updated"):
        fine_tune_step(two, ["used", "unused"], loss_on_used, x, y, opt)
    assert all(v.tobytes() == before[p].tobytes() for p, v in snapshot(two.weights).items())


def test_a_per_example_loss_is_averaged_as_compile_averages_it():
    x, y = data()

    def per_example(y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)

    a, b = small_model(), small_model()
    b.set_weights(a.get_weights())
    la = fine_tune_step(a, ["head"], per_example, x, y, keras.optimizers.SGD(0.1))
    lb = fine_tune_step(b, ["head"], LOSS, x, y, keras.optimizers.SGD(0.1))
    # the same ops in the same order: the batch mean, as fit's LossFunctionWrapper takes it
    np.testing.assert_allclose(float(la), float(lb), **EXACT)
    for va, vb in zip(a.weights, b.weights):
        np.testing.assert_allclose(va.numpy(), vb.numpy(), **EXACT)


def test_not_an_optimizer():
    x, y = data()
    with pytest.raises(TypeError, match="must be a Keras 3 optimizer.*Received: str"):
        fine_tune_step(small_model(), ["head"], LOSS, x, y, "sgd")


def test_training_flag_reaches_the_model():
    x, y = data()
    m = small_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SelectionWarning)
        a = fine_tune_step(m, ["head"], LOSS, x, y, keras.optimizers.SGD(0.0), training=False)
        b = fine_tune_step(m, ["head"], LOSS, x, y, keras.optimizers.SGD(0.0), training=True)
    assert float(a) == float(LOSS(y, m(x, training=False)))
    assert float(a) != float(b)  # Dropout active only with training=True


# --- clear errors, before anything changes ---------------------------------------------


def test_unbuilt_models_are_named_as_such():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.head = keras.layers.Dense(3, name="head")

        def call(self, x):
            return self.head(x)

    no_input = keras.Sequential([keras.layers.Dense(3, name="head")], name="no_input")
    for m in (Sub(), no_input):
        with pytest.raises(ValueError, match=r"is not built yet.*Received: unbuilt .*Build it "
                                             r"first: call it once on a batch \(model\(x\[:1\]\)\)"
                                             r", or start a Sequential model with keras\.Input"):
            fine_tune_step(m, ["head"], LOSS, *data(), keras.optimizers.SGD(0.1))
    built = Sub()
    built(np.zeros((1, 4), "float32"))  # the fix
    fine_tune_step(built, ["head"], LOSS, *data(), keras.optimizers.SGD(0.1))


@pytest.mark.parametrize("value", [1.21, np.float32(1.21)], ids=["python-float", "numpy-scalar"])
def test_a_loss_that_is_not_a_tensor_says_what_was_received(value):
    m = small_model()
    before = snapshot(m.variables)
    with pytest.raises(TypeError, match=rf"must return a tensor .* Received: "
                                        rf"{type(value).__name__} .*carries no gradient"):
        fine_tune_step(m, ["head"], lambda y, p: value, *data(), keras.optimizers.SGD(0.1))
    assert all(v.tobytes() == before[p].tobytes() for p, v in snapshot(m.variables).items())


def nested():
    keras.utils.set_random_seed(2)
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="d1"),
                             keras.layers.BatchNormalization(name="bn"),
                             keras.layers.Dense(8, name="d2")], name="base")
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(3, name="head")(base(inputs, training=False))
    return keras.Model(inputs, outputs, name="outer")


def test_errors_leave_flags_and_batchnorm_statistics_as_they_were():
    m = nested()
    base = m.get_layer("base")
    base.get_layer("d1").trainable = False  # a user's own flag must survive
    flags = [layer.trainable for layer in (m, base, *base.layers, m.get_layer("head"))]
    before = snapshot(m.variables)
    x, y = data()

    with pytest.raises(TypeError, match="must return a tensor"):
        fine_tune_step(m, ["outer/base", "head"], lambda y, p: 0.5, x, y,
                       keras.optimizers.SGD(0.1))
    assert flags == [layer.trainable for layer in (m, base, *base.layers, m.get_layer("head"))]
    assert all(v.tobytes() == before[p].tobytes() for p, v in snapshot(m.variables).items())


def test_selected_batchnorm_statistics_are_restored_after_an_error():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(name="bn"),
                          keras.layers.Dense(3, name="head")], name="bnm")
    before = snapshot(m.variables)
    with pytest.raises(TypeError, match="must return a tensor"):
        fine_tune_step(m, ["bn", "head"], lambda y, p: 0.5, *data(), keras.optimizers.SGD(0.1))
    assert all(v.tobytes() == before[p].tobytes() for p, v in snapshot(m.variables).items())
    fine_tune_step(m, ["bn", "head"], LOSS, *data(), keras.optimizers.SGD(0.1))
    assert snapshot(m.variables)["bnm/bn/moving_mean"].tobytes() != before[
        "bnm/bn/moving_mean"].tobytes()  # a good step does train it


def test_selection_warning_points_at_the_callers_line():
    x, y = data()
    with pytest.warns(SelectionWarning) as record:
        fine_tune_step(small_model(), ["drop", "head"], LOSS, x, y, keras.optimizers.SGD(0.1))
    assert record[0].filename == __file__
    with pytest.warns(SelectionWarning) as record:
        trainable_variables(small_model(), ["drop", "head"])
    assert record[0].filename == __file__


def test_optimizer_from_another_model_says_another_model():
    x, y = data()
    opt = keras.optimizers.SGD(0.1)
    fine_tune_step(small_model(), ["head"], LOSS, x, y, opt)
    other = small_model()
    before = snapshot(other.weights)
    with pytest.raises(ValueError, match=r"already used to train another model.*none of them in "
                                         r"model 'small'\. Create a new optimizer for this model"):
        fine_tune_step(other, ["head"], LOSS, x, y, opt)
    assert all(v.tobytes() == before[p].tobytes() for p, v in snapshot(other.weights).items())


def test_a_loss_dict_that_leaves_out_an_output_names_that_output():
    """{"a": "mse"} for outputs a and b said only "check that the selected layers are used"."""
    inp = keras.Input((4,))
    shared = keras.layers.Dense(3, name="shared")(inp)
    m = keras.Model(inp, {"a": keras.layers.Dense(1, name="a")(shared),
                          "b": keras.layers.Dense(1, name="b")(shared)})
    x = np.ones((8, 4), "float32")
    y = {"a": np.zeros((8, 1), "float32"), "b": np.zeros((8, 1), "float32")}
    opt = keras.optimizers.SGD(0.1)
    before = [v.numpy().copy() for v in m.variables]
    with pytest.raises(ValueError, match=r"no gradient: b/kernel, b/bias\. Nothing was updated\. "
                                         r"The loss gives no loss to output\(s\) 'b' \(loss_fn "
                                         r"has no entry for them\)"):
        fine_tune_step(m, ["a", "b"], {"a": "mse"}, x, y, opt)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, m.variables))
