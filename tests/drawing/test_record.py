"""What a drawing records (tapelab/drawing/record.py), against the peer: each node's value
against a forward run, each gradient against tape.gradient(target, that intermediate) computed
independently with a raw tape, and the cuts against explain_none's causes."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT32

import tapelab
from tapelab.drawing.record import record


def by_name(recording):
    return {n.name: n for n in recording.nodes}


def assert_node(node, value, grad):
    np.testing.assert_allclose(node.value, np.asarray(value), **FLOAT32)
    if grad is None:
        assert node.grad is None, node.name
    else:
        np.testing.assert_allclose(node.grad, np.asarray(grad), **FLOAT32)


def test_the_seed_function_node_by_node():
    x = tf.constant(5.0)
    with tf.GradientTape(persistent=True) as t:  # the same intermediates, by hand
        t.watch(x)
        p = x ** 2
        m = 2 * x
        a = p + m
        y = a + 1
    nodes = by_name(record(lambda x: x**2 + 2*x + 1, (x,)))
    assert list(nodes) == ["x", "pow", "mul", "add", "add_1"]
    for name, tensor in zip(nodes, (x, p, m, a, y)):
        assert_node(nodes[name], tensor, t.gradient(y, tensor))
    assert float(nodes["x"].grad) == 12.0  # 2x + 2, not the seed's 6.0
    assert nodes["add_1"].target and nodes["pow"].args == ["x", "2.0"]


def test_variables_constants_stop_gradient_and_integers_as_the_tape_sees_them():
    v, c = tf.Variable(2.0), tf.constant(3.0)
    frozen = tf.Variable(4.0, trainable=False)

    def g(x):
        return (x ** 2 + v * x + tf.stop_gradient(x) * c
                + tf.cast(tf.cast(x, tf.int32), tf.float32) + frozen * x)

    x = tf.constant(5.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        sg = tf.stop_gradient(x)
        m1 = sg * c
        cast = tf.cast(tf.cast(x, tf.int32), tf.float32)
        y = x ** 2 + v * x + m1 + cast + frozen * x
    recording = record(g, (x,))
    nodes = by_name(recording)
    assert_node(nodes["x"], x, t.gradient(y, x))  # 2x + v + frozen = 16
    assert_node(nodes["Variable"], 2.0, t.gradient(y, v))
    assert_node(nodes["StopGradient"], sg, t.gradient(y, sg))  # None: not recorded
    assert_node(nodes["mul_1"], m1, t.gradient(y, m1))  # None: from unrecorded inputs
    assert_node(nodes["Cast_1"], cast, t.gradient(y, cast))
    frozen_node = next(n for n in recording.nodes if n.op == "variable" and not n.recorded)
    assert frozen_node.note == "trainable=False"  # found through the closure, named
    assert {(c.source, c.target, c.cause) for c in recording.cuts} == {
        ("x", "StopGradient", "stop_gradient"), ("x", "Cast", "integer_path")}
    captured = next(n for n in recording.nodes if n.kind == "captured")
    assert captured.note == "not watched" and not captured.recorded


def causes_drawn(recording):
    """The causes a drawing shows: its cuts, and its unwatched or frozen sources."""
    causes = {c.cause for c in recording.cuts}
    for n in recording.nodes:
        if n.kind == "source" and n.note == "not watched":
            causes.add("not_watched")
        if n.note == "trainable=False":
            causes.add("non_trainable_variable")
        if n.note == "fn never reads it":
            causes.add("not_connected")
    return causes


def cases():
    v = tf.Variable(2.0)
    frozen = tf.Variable(3.0, trainable=False)
    image = tf.Variable(tf.random.uniform((1, 2, 2, 3), seed=1))
    return [
        ("stop_gradient", lambda x: tf.stop_gradient(x) * 3.0, tf.constant(2.0), True),
        ("integer_path", lambda x: tf.cast(tf.argmax(x), tf.float32), tf.constant([1.0, 3.0]),
         True),
        ("variable_assign", lambda x: (v.assign(x * 2.0), v * 3.0)[1], tf.constant(1.0), True),
        ("numpy_round_trip", lambda w: tf.constant(w.numpy() ** 2), tf.Variable(2.0), True),
        ("not_watched", lambda x: x * x, tf.constant(3.0), False),
        ("non_trainable_variable", lambda w: w * w, frozen, True),
        ("no_gradient_registered", lambda im: tf.reduce_sum(tf.image.adjust_contrast(im, 2.0)),
         image, True),
    ]


@pytest.mark.parametrize("cause, fn, source, watch", cases(), ids=[c[0] for c in cases()])
def test_the_cuts_drawn_are_the_causes_explain_none_names(cause, fn, source, watch):
    recording = record(fn, (source,), None if watch else ())
    named = {f.cause for f in tapelab.explain_none(fn, source)}
    assert named == {cause}
    assert causes_drawn(recording) == named


def test_a_keras_model_with_a_loss_op_by_op_against_its_layers():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(3, activation="relu", name="hidden"),
                              keras.layers.Dense(2, name="out")])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x, y = tf.random.stateless_normal((2, 4), seed=(1, 2)), tf.constant([0, 1])
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        hidden = model.layers[0](x)
        logits = model.layers[1](hidden)
        loss = loss_fn(y, logits)
    nodes = by_name(record(lambda x: loss_fn(y, model(x)), (x,)))
    assert_node(nodes["Relu"], hidden, t.gradient(loss, hidden))
    assert_node(nodes["out_1/BiasAdd"], logits, t.gradient(loss, logits))
    assert_node(nodes["hidden/kernel"], model.layers[0].kernel,
                t.gradient(loss, model.layers[0].kernel))
    assert_node(nodes["x"], x, t.gradient(loss, x))
    target = next(n for n in nodes.values() if n.target)
    assert_node(target, loss, 1.0)


def test_a_second_order_graph_is_the_backward_ops_of_the_inner_tape():
    x = tf.constant(2.0)
    recording = record(lambda x: tapelab.grad(lambda x: x**3)(x), (x,))
    nodes = by_name(recording)
    assert [n.op for n in recording.nodes] == ["source", "Pow", "Mul"]
    assert all(n.note == "backward op" for n in recording.nodes[1:])
    assert_node(nodes["x"], 2.0, 12.0)  # d/dx 3x^2 = 6x
    assert_node(nodes["Pow"], 4.0, 3.0)  # x^2, and d(3 x^2)/d(x^2) = 3
    assert nodes["Pow"].args == ["x", "2.0"]  # 3 - 1, folded from constants
    assert_node(recording.nodes[-1], 12.0, 1.0)


def test_a_fn_that_returns_no_tensor_is_refused():
    with pytest.raises(TypeError, match="`fn` must return a tensor"):
        record(lambda x: None, (tf.constant(1.0),))


def test_an_unrecorded_target_still_has_gradient_one_as_the_tape_gives():
    x = tf.constant(3.0)
    with tf.GradientTape() as t:  # nothing watched: y is not recorded
        y = x * x
    recording = record(lambda x: x * x, (x,), watch=())
    target = recording.nodes[-1]
    assert not target.recorded
    assert_node(target, 9.0, t.gradient(y, y))  # 1.0
    assert recording.nodes[0].grad is None


def raw_gradients(fn, *sources):
    with tf.GradientTape() as t:
        for s in sources:
            if not isinstance(s, tf.Variable):
                t.watch(s)
        y = fn(*sources)
    return t.gradient(y, list(sources))


@pytest.mark.parametrize("fn", [
    lambda x: x * x if x > 0 else -x,  # a Python if on a tensor: no trace
    lambda x: x * 2.0 + tf.constant(x.numpy() ** 2, tf.float32),  # a NumPy round trip
], ids=["python_if", "numpy_beside_a_path"])
def test_a_fn_that_cannot_be_traced_gets_the_eager_tapes_gradients(fn):
    x = tf.Variable(3.0)  # watched by a plain tape too, so explain_none finds no None
    recording = record(fn, (x,))
    nodes = by_name(recording)
    assert_node(nodes["x"], x.numpy(), raw_gradients(fn, x)[0])
    assert recording.cuts == [] and tapelab.explain_none(fn, x) == []  # no cause invented
    assert float(nodes["target"].grad) == 1.0


def test_custom_gradients_are_drawn_as_the_tape_applies_them():
    @tf.custom_gradient
    def no_gradient(a):
        return a * 2.0, lambda dy: None

    @tf.custom_gradient
    def straight_through(a):
        return tf.round(a), lambda dy: dy

    x = tf.constant(2.3)
    blocked = by_name(record(lambda x: no_gradient(x), (x,)))
    assert blocked["x"].grad is None and raw_gradients(lambda x: no_gradient(x), x)[0] is None
    passed = by_name(record(lambda x: straight_through(x) * 3.0, (x,)))
    assert float(passed["x"].grad) == float(raw_gradients(
        lambda x: straight_through(x) * 3.0, x)[0]) == 3.0
    assert passed["IdentityN"].note == "custom gradient"
    assert float(passed["IdentityN"].grad) == 3.0  # the straight-through output's gradient


def test_an_op_whose_gradient_is_none_is_a_cut_explain_none_cannot_explain():
    fn = lambda x: tf.round(x) * 2.0
    recording = record(fn, (tf.constant(2.3),))
    assert [(c.source, c.target, c.cause) for c in recording.cuts] == [("x", "Round", "unknown")]
    assert [f.cause for f in tapelab.explain_none(fn, tf.constant(2.3))] == ["unknown"]


def test_drawing_changes_no_variable_and_says_when_fn_does():
    v = tf.Variable(1.0)

    def fn(x):
        first = v * 2.0
        v.assign_add(x)
        return first + v * 3.0

    recording = record(fn, (tf.constant(2.0),))
    assert float(v) == 1.0  # fn ran, and v was put back
    assert "fn changes Variable while it runs" in recording.note
    model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(name="bn")])
    mean = model.get_layer("bn").moving_mean
    before = mean.numpy().copy()
    record(lambda x: tf.reduce_sum(model(x, training=True)), (tf.ones((2, 3)) * 5.0,))
    np.testing.assert_array_equal(mean.numpy(), before)


def test_comparisons_are_not_cuts_and_integer_sources_say_integer_dtype():
    where = record(lambda x: tf.where(x > 0.0, x * x, -x), (tf.constant(2.0),))
    assert where.cuts == [] and float(by_name(where)["x"].grad) == 4.0
    assert "bool: no gradient" in by_name(where)["Greater"].note
    counted = record(lambda x, n: x * tf.cast(n, tf.float32), (tf.constant(2.0), tf.constant(3)))
    n = by_name(counted)["n"]
    assert not n.recorded and "integer_dtype" in n.note and n.grad is None


def test_unconnected_sources_and_constant_targets_are_said():
    nodes = by_name(record(lambda x, y: x * 2.0, (tf.constant(1.0), tf.constant(2.0))))
    assert nodes["y"].grad is None and nodes["y"].note == "not connected to the target"
    alone = record(lambda x: tf.constant(4.0), (tf.constant(1.0),))
    target = alone.nodes[-1]
    assert target.target and float(target.value) == 4.0 and "not connected" in target.note
    with pytest.raises(TypeError, match=r"`fn` must return a tensor.*Received: int 3"):
        record(lambda x: 3, (tf.constant(1.0),))
