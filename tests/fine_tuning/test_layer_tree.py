"""The layer tree of a nested model (tapelab/fine_tuning/layer_tree.py): the walk, paths,
the nesting rule and lookups by name or path."""

import keras
import pytest

from tapelab.fine_tuning.layer_tree import by_name, children, walk, within


class Block(keras.layers.Layer):
    """A custom layer that holds two Dense layers as attributes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = keras.layers.Dense(3, name="inner")
        self.outer = keras.layers.Dense(2, name="outer")

    def call(self, x):
        return self.outer(self.inner(x))


def nested():
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="conv"),
                             Block(name="block")], name="base")
    shared = keras.layers.Dense(2, name="shared")
    inp = keras.Input((4,))
    return keras.Model(inp, shared(shared(base(inp))), name="net"), base


def test_the_walk_lists_each_layer_once_parents_first_with_its_path():
    model, base = nested()
    layers, paths = walk(model)
    names = [paths[id(layer)] for layer in layers
             if not isinstance(layer, keras.layers.InputLayer)]
    assert names == ["base", "base/conv", "base/block", "base/block/inner", "base/block/outer",
                     "shared"]  # parents first; "shared", used twice, listed once
    assert [c.name for c in children(base.get_layer("block"))] == ["inner", "outer"]


def test_within_is_the_one_nesting_rule():
    assert within("base/block/inner", "base") and within("base", "base")
    assert not within("base2/conv", "base") and not within("base", "base/conv")


def test_lookup_by_name_path_and_the_errors_that_name_what_exists():
    model, base = nested()
    layers, paths = walk(model)
    assert by_name(model, "inner", layers, paths) is base.get_layer("block").inner
    assert by_name(model, "base/block/outer", layers, paths) is base.get_layer("block").outer
    assert by_name(model, "net/shared", layers, paths) is model.get_layer("shared")
    with pytest.raises(ValueError, match=r"Did you mean 'inner'\?"):
        by_name(model, "innr", layers, paths)
    with pytest.raises(ValueError, match=r"path 'base/nope' has no layer 'nope' inside "
                                         r"'base'\. Received: 'base/nope'\. Layer names there"):
        by_name(model, "base/nope", layers, paths)
