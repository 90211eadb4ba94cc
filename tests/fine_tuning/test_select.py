"""Layer selections (tapelab/fine_tuning/select.py): slices, names, paths and Layer
objects, at any depth, resolved to layers and trainable variables."""

import warnings

import keras
import pytest
from test_step import nested, small_model

from tapelab import SelectionWarning, select_layers, trainable_variables


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
    with pytest.raises(ValueError, match=r"1 has no weights: 'drop' \(Dropout\)\. 'neck' "
                                         r"\(Dense\) has trainable=False\. Select layers with "
                                         r"weights"):
        trainable_variables(m, ["drop", "neck"])


def test_a_weightless_layer_selected_by_name_is_named_in_the_error():
    """It said "1 has no weights (Flatten)": name the layer the user selected."""
    m = keras.Sequential([keras.Input((2, 2)), keras.layers.Flatten(name="noweights"),
                          keras.layers.Dense(1, name="out")])
    with pytest.raises(ValueError, match=r"1 has no weights: 'noweights' \(Flatten\)\."):
        trainable_variables(m, ["noweights"])


def test_weightless_layers_in_a_valid_selection_are_reported():
    m = small_model()
    with pytest.warns(SelectionWarning, match=r"1 of the 3 selected layers are skipped: 1 has "
                                              r"no weights \(Dropout\)\.$"):
        got = trainable_variables(m, ["drop", "neck", "head"])
    assert len(got) == 4


def test_weightless_layers_are_reported_once_per_selection_in_one_line():
    m = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=3)
    with pytest.warns(SelectionWarning) as record:
        trainable_variables(m, m.layers[100:])
    message = str(record[0].message)
    assert "\n" not in message and len(record) == 1
    weightless = sum(not layer.weights for layer in m.layers[100:])
    assert f"{weightless} have no weights (" in message
    assert "Activation x" in message and "Add x" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same selection again: no second warning
        trainable_variables(m, m.layers[100:])
    with pytest.warns(SelectionWarning):  # another selection: its own warning
        trainable_variables(m, m.layers[150:])


def test_layers_frozen_by_an_ancestor_name_it_and_the_fix():
    keras.utils.set_random_seed(0)
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="d1"),
                             keras.layers.Dense(8, name="d2")], name="base_model")
    m = keras.Sequential([keras.Input((4,)), base, keras.layers.Dense(2, name="head")])
    base.trainable = False  # left from phase 1
    with pytest.raises(ValueError, match=r"2 are frozen because the layer 'base_model' that "
                                         r"holds them has trainable=False .*set "
                                         r"model\.get_layer\('base_model'\)\.trainable = True"):
        trainable_variables(m, ["base_model/d1", "base_model/d2"])
    with pytest.warns(SelectionWarning, match=r"2 of the 3 selected layers are skipped: 2 are "
                                              r"frozen because the layer 'base_model'"):
        got = trainable_variables(m, ["base_model/d1", "base_model/d2", "head"])
    assert [id(v) for v in got] == [id(v) for v in m.get_layer("head").weights]


def test_resnet50_head_via_slice_is_exactly_the_predictions_layer():
    model = keras.applications.ResNet50(weights=None)
    with pytest.warns(SelectionWarning) as record:
        got = trainable_variables(model, slice(-3, None))
    assert [v.path for v in got] == ["predictions/kernel", "predictions/bias"]
    message = str(record[0].message)
    assert message == ("2 of the 3 selected layers are skipped: 2 have no weights "
                       "(Activation, GlobalAveragePooling2D).")


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
