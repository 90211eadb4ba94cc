"""Exercises of notebook 05: what a layer selection trains, and a step that trains the head only.

>>> print(count_trainable(2))
Right. The last three layers hold 2 variables: the head's kernel and bias; Dropout and Activation hold none.
"""

import keras
import numpy as np
import tensorflow as tf

import tapelab
from tapelab.exercises.verdict import call, no_answer, not_yet, number, raised, right


def _dense(units, name, seed):
    # initial weights from their own seed: the learner's global random state is untouched
    return keras.layers.Dense(units, name=name,
                              kernel_initializer=keras.initializers.GlorotUniform(seed=seed))


def model(seed=0, dropout=True):
    """The exercises' model: hidden, dropout (unless ``dropout=False``), activation, head."""
    return keras.Sequential([
        keras.Input((8,)),
        _dense(4, "hidden", seed),
        *([keras.layers.Dropout(0.5, seed=seed, name="drop")] if dropout else []),
        keras.layers.Activation("relu", name="act"),
        _dense(3, "head", seed + 1),
    ], name="exercise_model")


def count_trainable(answer):
    """Exercise 1: how many variables does ``slice(-3, None)`` (the last three layers) of
    :func:`model` train?"""
    if answer is None:
        return no_answer("the number of variables, an int")
    value = number(answer)
    if value is None:
        return not_yet(f"`answer` must be a number. Received: {answer!r}.")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tapelab.SelectionWarning)
        real = len(tapelab.trainable_variables(model(), slice(-3, None)))
    if value == real:
        return right(f"The last three layers hold {real} variables: the head's kernel and "
                     "bias; Dropout and Activation hold none.")
    if value == 3:
        return not_yet("That counts layers, or every variable (Dropout keeps a random "
                       "seed's state, which nothing trains). Count the trainable weights: "
                       "which of the three layers hold any?")
    if value == 4:
        return not_yet("That counts hidden's variables too: slice(-3, None) starts at the "
                       "third layer from the end.")
    return not_yet("List the last three layers and their weights (layer.weights): a Dense "
                   "layer has a kernel and a bias.")


def loss_fn(y, pred):
    return tf.reduce_mean((y - pred) ** 2)


def batch():
    x = tf.random.stateless_normal((16, 8), seed=(1, 2))
    y = tf.random.stateless_normal((16, 3), seed=(3, 4))
    return x, y


def head_step(step):
    """Exercise 2: ``step(model, x, y, optimizer)`` runs one training step of
    :func:`loss_fn` that changes only the layer ``head`` of ``model(dropout=False)``, in a
    plain ``tf.GradientTape`` loop. Checked against ``tapelab.fine_tune_step`` and every
    weight."""
    if step is None:
        return no_answer("a function step(model, x, y, optimizer)")
    x, y = batch()
    mine, peer = model(dropout=False), model(dropout=False)
    before = [w.numpy().copy() for w in mine.weights]
    _, error = call(step, mine, x, y, keras.optimizers.SGD(0.1))
    if error is not None:
        return not_yet(f"step(...) raised {raised(error)}.")
    tapelab.fine_tune_step(peer, ["head"], loss_fn, x, y, keras.optimizers.SGD(0.1))
    names = [w.path for w in mine.weights]
    moved = [n for n, b, w in zip(names, before, mine.weights) if not np.array_equal(b, w)]
    body = [n for n in moved if "head" not in n]
    if body:
        return not_yet(f"The body changed ({', '.join(body)}): the step must differentiate "
                       "and apply only the head's variables.")
    if not moved:
        return not_yet("No weight changed: compute the loss inside the tape, take its "
                       "gradient and give it to optimizer.apply_gradients.")
    for n, a, b in zip(names, mine.weights, peer.weights):
        if not np.allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6):
            return not_yet(f"{n} differs from one step of fine_tune_step: use the optimizer "
                           "passed in, and nb05.loss_fn of the model's output, as the "
                           "exercise says.")
    return right("Only the head moved, and exactly as tapelab.fine_tune_step moves it.")
