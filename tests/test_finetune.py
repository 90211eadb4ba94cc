"""trainable_variables and fine_tune_step, on real Keras 3 models."""

import itertools
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

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


# --- trainable_variables -----------------------------------------------------------


def test_selection_by_slice_names_indices_and_layers_in_model_order():
    m = small_model()
    head = m.get_layer("head")
    expected = ["small/body/kernel", "small/body/bias", "small/head/kernel", "small/head/bias"]
    for selection in (["head", "body"], [3, 0], [head, "body"], ["body", -1, head]):
        assert [v.path for v in trainable_variables(m, selection)] == expected
    assert [v.path for v in trainable_variables(m, slice(-1, None))] == expected[2:]
    assert [v.path for v in trainable_variables(m, "head")] == expected[2:]


def test_variables_are_the_models_own_objects():
    m = small_model()
    got = trainable_variables(m, ["head"])
    assert all(any(v is w for w in m.trainable_variables) for v in got)


def test_shared_weights_are_listed_once():
    shared = keras.layers.Dense(2, name="shared")
    inp = keras.Input((2,))
    out = keras.layers.Add(name="add")([shared(inp), shared(inp)])
    m = keras.Model(inp, out)
    assert len(trainable_variables(m, slice(None))) == 2


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"Received: 'haed'\. Did you mean 'head'\?"):
        trainable_variables(small_model(), ["haed"])


def test_unknown_name_lists_existing_names_when_nothing_is_close():
    with pytest.raises(ValueError, match=r"Received: 'zzz'\. Layer names in this model: 'body', "
                                         r"'drop', 'neck', 'head'\."):
        trainable_variables(small_model(), ["zzz"])


def test_index_out_of_range():
    with pytest.raises(ValueError, match=r"index must be in \[-4, 3\] .* Received: 7"):
        trainable_variables(small_model(), [7])


def test_foreign_layer_is_refused():
    other = keras.layers.Dense(2, name="elsewhere")
    with pytest.raises(ValueError, match=r"not part of model 'small' \(at any depth\)\. Received: 'elsewhere' \(Dense\)"):
        trainable_variables(small_model(), [other])


def test_bad_selection_types():
    with pytest.raises(TypeError, match=r"Received: 2\.5 of type float"):
        trainable_variables(small_model(), [2.5])
    with pytest.raises(TypeError, match="must be a Keras model"):
        trainable_variables(object(), ["head"])


def test_empty_selection():
    with pytest.raises(ValueError, match="selects no layer"):
        trainable_variables(small_model(), slice(10, None))


def test_no_trainable_variable_says_why_for_each_layer():
    m = small_model()
    m.get_layer("neck").trainable = False
    with pytest.raises(ValueError, match=r"'drop' \(Dropout\) has no weights; 'neck' \(Dense\) "
                                         r"has trainable=False\. Select layers with weights"):
        trainable_variables(m, ["drop", "neck"])


def test_weightless_layers_in_a_valid_selection_are_reported():
    m = small_model()
    with pytest.warns(SelectionWarning, match=r"1 of the 3 selected .* 'drop' \(Dropout\) has "
                                              r"no weights\."):
        got = trainable_variables(m, ["drop", "neck", "head"])
    assert len(got) == 4


def test_resnet50_head_via_slice_is_exactly_the_predictions_layer():
    model = keras.applications.ResNet50(weights=None)
    with pytest.warns(SelectionWarning) as record:
        got = trainable_variables(model, slice(-3, None))
    assert [v.path for v in got] == ["predictions/kernel", "predictions/bias"]
    message = str(record[0].message)
    assert "2 of the 3 selected layers" in message
    assert "'conv5_block3_out' (Activation) has no weights" in message
    assert "'avg_pool' (GlobalAveragePooling2D) has no weights" in message


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


def test_non_scalar_loss_is_refused():
    x, y = data()

    def per_example(y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)

    with pytest.raises(ValueError, match=r"scalar loss\. Received: a loss of shape \(32,\)"):
        fine_tune_step(small_model(), ["head"], per_example, x, y, keras.optimizers.SGD(0.1))


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


# --- nested selection ----------------------------------------------------------------


def nested():
    keras.utils.set_random_seed(2)
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="d1"),
                             keras.layers.BatchNormalization(name="bn"),
                             keras.layers.Dense(8, name="d2")], name="base")
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(3, name="head")(base(inputs, training=False))
    return keras.Model(inputs, outputs, name="outer")


def test_nested_layers_by_path_object_and_unique_name():
    m = nested()
    d2 = m.get_layer("base").get_layer("d2")
    for selection in (["base/d2", "head"], [d2, "head"], ["d2", "head"], ["outer/base/d2", -1]):
        got = tapelab_paths(trainable_variables(m, selection))
        assert got == ["d2/kernel", "d2/bias", "head/kernel", "head/bias"], selection


def tapelab_paths(variables):
    return [v.path.split("/", 1)[-1] if v.path.startswith("base/") else v.path for v in variables]


def test_whole_nested_model_by_name_covers_its_layers_once():
    m = nested()
    from tapelab import select_layers
    base = m.get_layer("base")
    assert select_layers(m, ["base/d1", "base", base.get_layer("bn")]) == [base]
    got = trainable_variables(m, ["base", "base/d2"])
    assert [id(v) for v in got] == [id(v) for v in base.trainable_variables]
    assert len(got) == 6  # d1 (2), bn gamma/beta (2), d2 (2): flat, no duplicates


def test_unknown_path_lists_close_names_at_the_right_level():
    with pytest.raises(ValueError, match=r"path 'base/d3' has no layer 'd3' inside 'base'\. "
                                         r"Received: 'base/d3'\. Layer names there: 'd1', 'bn', 'd2'\."):
        trainable_variables(nested(), ["base/d3"])
    with pytest.raises(ValueError, match=r"path 'bsae/d2' has no layer 'bsae' inside model "
                                         r"'outer'\. .*Did you mean 'base'\?"):
        trainable_variables(nested(), ["bsae/d2"])


def test_a_name_used_twice_at_depth_asks_for_a_path():
    keras.utils.set_random_seed(0)
    a = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="fc")], name="a")
    b = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="fc")], name="b")
    inputs = keras.Input((2,))
    m = keras.Model(inputs, b(a(inputs)), name="twice")
    with pytest.raises(ValueError, match=r"occurs 2 times .* Received: 'fc'\. Select one by its "
                                         r"path: 'a/fc', 'b/fc'\."):
        trainable_variables(m, ["fc"])
    assert trainable_variables(m, ["b/fc"]) == b.get_layer("fc").trainable_variables


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
    with pytest.raises(TypeError, match=rf"must return a scalar tensor .* Received: "
                                        rf"{type(value).__name__} .*carries no gradient"):
        fine_tune_step(m, ["head"], lambda y, p: value, *data(), keras.optimizers.SGD(0.1))
    assert all(v.tobytes() == before[p].tobytes() for p, v in snapshot(m.variables).items())


def test_errors_leave_flags_and_batchnorm_statistics_as_they_were():
    m = nested()
    base = m.get_layer("base")
    base.get_layer("d1").trainable = False  # a user's own flag must survive
    flags = [layer.trainable for layer in (m, base, *base.layers, m.get_layer("head"))]
    before = snapshot(m.variables)
    x, y = data()

    def per_example(y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)

    with pytest.raises(ValueError, match="scalar loss"):
        fine_tune_step(m, ["outer/base", "head"], per_example, x, y, keras.optimizers.SGD(0.1))
    assert flags == [layer.trainable for layer in (m, base, *base.layers, m.get_layer("head"))]
    assert all(v.tobytes() == before[p].tobytes() for p, v in snapshot(m.variables).items())


def test_selected_batchnorm_statistics_are_restored_after_an_error():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(name="bn"),
                          keras.layers.Dense(3, name="head")], name="bnm")
    before = snapshot(m.variables)
    with pytest.raises(TypeError, match="scalar tensor"):
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
