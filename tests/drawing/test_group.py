"""One node per layer and a long graph collapsed (tapelab/drawing/group.py): a group keeps its
output's value and gradient, its weights, and the cuts inside it; a collapse keeps the head."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT32

from tapelab.drawing.group import by_scope, collapse
from tapelab.drawing.record import record


@pytest.fixture(scope="module")
def mlp():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(8, activation="relu", name="first"),
                              keras.layers.Dense(8, activation="tanh", name="second"),
                              keras.layers.Dense(3, name="logits")])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x, y = tf.random.stateless_normal((5, 4), seed=(3, 4)), tf.constant([0, 1, 2, 1, 0])
    return model, loss_fn, x, y


def test_a_three_layer_mlp_is_one_node_per_layer(mlp):
    model, loss_fn, x, y = mlp
    grouped = by_scope(record(lambda x: loss_fn(y, model(x)), (x,)))
    names = [n.name for n in grouped.nodes]
    assert names == ["x", "first", "second", "logits", "captured_0",
                     "sparse_categorical_crossentropy"]
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        a = model.layers[0](x)
        b = model.layers[1](a)
        loss = loss_fn(y, model.layers[2](b))
    second = grouped.nodes[2]
    np.testing.assert_allclose(second.value, b.numpy(), **FLOAT32)
    np.testing.assert_allclose(second.grad, t.gradient(loss, b).numpy(), **FLOAT32)
    assert second.note == "weights: kernel, bias" and second.ops == 3
    assert grouped.nodes[-1].target


def test_expand_draws_a_layer_op_by_op(mlp):
    model, loss_fn, x, y = mlp
    grouped = by_scope(record(lambda x: loss_fn(y, model(x)), (x,)), expand=("second",))
    names = [n.name for n in grouped.nodes]
    assert "second" not in names and "Tanh" in names and "first" in names


def test_a_cut_inside_a_group_stays_visible():
    def fn(x):
        with tf.name_scope("block"):
            return tf.stop_gradient(x * 2.0) + x * 3.0

    grouped = by_scope(record(fn, (tf.constant(1.0),)))
    (block,) = [n for n in grouped.nodes if n.kind == "group"]
    assert block.note == "cut inside: stop_gradient"  # x * 2 -> StopGradient, both inside
    assert grouped.cuts == []


def test_the_ops_of_a_gradient_taken_inside_fn_are_never_grouped():
    import tapelab

    recording = by_scope(record(lambda x: tapelab.grad(lambda x: x**3)(x), (2.0,)))
    assert [n.kind for n in recording.nodes] == ["source", "op", "op"]


def test_a_long_graph_keeps_its_head_and_says_what_it_folded():
    def chain(x):
        for _ in range(30):
            x = tf.sin(x) * 1.5
        return x

    full = record(chain, (tf.constant(0.3),))
    assert len(full.nodes) == 61
    short = collapse(full, 20)
    assert len(short.nodes) == 20
    # the source stays (what the gradient is of); the 42 nodes after it are folded
    assert short.nodes[0].name == "x" and short.nodes[0].grad is not None
    assert short.nodes[1].kind == "collapsed" and short.nodes[1].name == "42 earlier nodes"
    assert short.nodes[1].inputs == ["x"]
    assert short.nodes[-1].target and short.nodes[-1].name == full.nodes[-1].name
    assert short.note.startswith("61 nodes: the first 42 after the sources are drawn as one.")
    assert short.nodes[2].inputs == ["42 earlier nodes"]


@pytest.mark.slow
def test_resnet50_is_drawn_by_layer_with_its_head_and_a_note():
    import tapelab

    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    x, y = tf.random.stateless_normal((1, 32, 32, 3), seed=(5, 6)), tf.constant([3])
    d = tapelab.draw(lambda x: loss_fn(y, model(x)), x)
    assert len(d.nodes) <= 50
    names = [n.name for n in d.nodes]
    assert names[-3:] == ["predictions", "captured_0", "sparse_categorical_crossentropy"]
    assert "avg_pool" in names and "conv5_block3_out" in names
    assert d.nodes[0].name == "x" and d.nodes[0].grad is not None  # the source stays
    assert d.nodes[1].kind == "collapsed" and "are drawn as one" in d.note
