"""Structures (tapelab/_trees.py, JAX's pytrees) in every transform: nested dicts, tuples and
lists in, the same structure out, each against a raw tape on the flattened leaves."""

import collections

import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT32

import tapelab

P = {"layer": [tf.constant([0.5, -1.0]), (tf.constant(2.0),)], "bias": tf.constant([0.1, 0.3])}


def f(p):
    (w, (s,)), b = p["layer"], p["bias"]
    return tf.reduce_sum(tf.tanh(w * s + b) ** 2)


def raw_gradient(fn, p):
    leaves = tf.nest.flatten(p)
    with tf.GradientTape() as t:
        t.watch(leaves)
        y = fn(tf.nest.pack_sequence_as(p, leaves))
    return tf.nest.pack_sequence_as(p, t.gradient(y, leaves))


def assert_same_tree(ours, theirs, tolerance=FLOAT32):
    tf.nest.assert_same_structure(ours, theirs)
    assert type(ours["layer"]) is list and type(ours["layer"][1]) is tuple
    for a, b in zip(tf.nest.flatten(ours), tf.nest.flatten(theirs)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **tolerance)


def test_grad_and_value_and_gradient_return_the_structure():
    want = raw_gradient(f, P)
    assert_same_tree(tapelab.grad(f)(P), want)
    value, g = tapelab.value_and_gradient(f, P)
    assert_same_tree(g, want)
    np.testing.assert_allclose(float(value), float(f(P)), **FLOAT32)


def test_jvp_takes_structured_tangents_and_outputs():
    tangent = tf.nest.map_structure(tf.ones_like, P)
    _out, t = tapelab.jvp(lambda p: {"y": f(p), "z": p["bias"] * 2.0}, (P,), (tangent,))
    g = raw_gradient(f, P)
    directional = sum(float(tf.reduce_sum(a)) for a in tf.nest.flatten(g))
    np.testing.assert_allclose(float(t["y"]), directional, **FLOAT32)
    np.testing.assert_allclose(t["z"].numpy(), [2.0, 2.0], **FLOAT32)


def test_vjp_takes_structured_outputs_and_cotangents():
    _out, vjp_fn = tapelab.vjp(lambda p: (f(p), [p["bias"] ** 2]), P)
    (g,) = vjp_fn((tf.constant(1.0), [tf.constant([1.0, 0.0])]))
    want = raw_gradient(lambda p: f(p) + p["bias"][0] ** 2, P)
    assert_same_tree(g, want)


def test_hvp_and_hessian_of_a_structure():
    v = tf.nest.map_structure(lambda x: tf.fill(tf.shape(x), 0.5), P)
    leaves = tf.nest.flatten(P)
    with tf.GradientTape() as outer:
        outer.watch(leaves)
        with tf.GradientTape() as inner:
            inner.watch(leaves)
            y = f(tf.nest.pack_sequence_as(P, leaves))
        g = inner.gradient(y, leaves)
    want = outer.gradient(g, leaves, output_gradients=tf.nest.flatten(v))
    assert_same_tree(tapelab.hvp(f, P, v), tf.nest.pack_sequence_as(P, want))
    H = tapelab.hessian(f)(P)
    # H["bias"]["bias"] is the block of d2f / d bias d bias
    with tf.GradientTape() as outer:
        outer.watch(leaves)
        with tf.GradientTape() as inner:
            inner.watch(leaves)
            y = f(tf.nest.pack_sequence_as(P, leaves))
        gb = inner.gradient(y, leaves[0])  # "bias" sorts first
    np.testing.assert_allclose(H["bias"]["bias"].numpy(), outer.jacobian(gb, leaves[0]).numpy(),
                               **FLOAT32)


def test_dict_subclasses_and_namedtuples_keep_their_class():
    Pair = collections.namedtuple("Pair", "a b")
    p = collections.OrderedDict(w=tf.constant(1.0), pair=Pair(tf.constant(2.0), 3.0))
    g = tapelab.grad(lambda p: p["w"] * p["pair"].a * p["pair"].b)(p)
    assert type(g) is collections.OrderedDict and type(g["pair"]) is Pair
    assert (float(g["w"]), float(g["pair"].a), float(g["pair"].b)) == (6.0, 3.0, 2.0)


@pytest.mark.parametrize("tangent, error, match", [
    ({"bias": tf.ones(2)}, TypeError, r"`tangents\[0\]` must have the structure of its primal"),
    (tf.nest.map_structure(lambda x: tf.cast(tf.ones_like(x), tf.float64), P), TypeError,
     r"`tangents\[0\]`\['bias'\] must have its primal's dtype, float32\. Received: float64"),
    ({"bias": tf.ones(3), "layer": [tf.ones(2), (tf.ones(()),)]}, ValueError,
     r"`tangents\[0\]`\['bias'\] must have its primal's shape, \(2,\)\. Received: shape \(3,\)"),
])
def test_a_tangent_of_another_structure_dtype_or_shape_is_refused(tangent, error, match):
    with pytest.raises(error, match=match):
        tapelab.jvp(f, (P,), (tangent,))


def test_an_empty_structure_or_a_bad_leaf_is_refused_naming_its_place():
    with pytest.raises(TypeError, match=r"Source 0 must hold at least one value"):
        tapelab.grad(lambda p: tf.constant(1.0))({})
    with pytest.raises(TypeError, match=r"0\['b'\]"):
        tapelab.grad(lambda p: p["a"])({"a": 1.0, "b": "text"})
