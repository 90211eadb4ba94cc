"""The private Keras/TF attributes tapelab reads exist in the installed Keras and TF.

A future Keras that renames one fails here, with the attribute's name, rather
than with a traceback inside a training loop (tapelab/_keras_internals.py).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tapelab import _keras_internals as internals


@pytest.mark.parametrize("attribute, owner", internals.examples(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_each_private_attribute_exists_in_the_installed_keras(attribute, owner):
    assert hasattr(owner, attribute), (
        f"{type(owner).__name__} has no attribute {attribute!r} in Keras {keras.__version__} "
        f"/ TF {tf.__version__}: update tapelab/_keras_internals.py")


@pytest.mark.parametrize("module, name", internals.FUNCTIONS, ids=lambda v: v)
def test_each_private_function_exists_in_the_installed_keras(module, name):
    import importlib

    assert hasattr(importlib.import_module(module), name), (
        f"{module} has no {name!r} in Keras {keras.__version__}: update "
        "tapelab/_keras_internals.py")


def test_every_listed_attribute_is_checked():
    assert sorted(a for a, _ in internals.examples()) == sorted(internals.ATTRIBUTES)


def test_each_function_reads_what_it_says():
    dense = keras.layers.Dense(2, name="inner")
    seq = keras.Sequential([keras.Input((3,)), dense])
    graph = internals.functional_graph(seq)
    assert graph is not None and 0 in internals.nodes_by_depth(graph)
    assert internals.functional_graph(dense) is None  # a plain layer has no graph
    opt = keras.optimizers.SGD(0.1)
    assert not internals.optimizer_variable_keys(opt)  # not built yet: knows no variable
    opt.build(seq.trainable_variables)
    keys = internals.optimizer_variable_keys(opt)
    assert {internals.optimizer_key(opt, v) for v in seq.trainable_variables} == set(keys)
    assert internals.in_multi_worker_mode(tf.distribute.get_strategy()) is False

    class Holder(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.a = keras.layers.Dense(1, name="a")

        def call(self, x):
            return self.a(x)

    holder = Holder()
    holder(np.zeros((1, 2), "float32"))
    assert [layer.name for layer in internals.sub_layers(holder)] == ["a"]
