"""Exercises of notebook 08: the gentle stage's selection, and a learning rate picked on a
validation set.

>>> print(gentle_selection(None))
No answer yet: set `answer` to a layer selection (a list of layer names), then run the cell again.
"""

import warnings

import keras
import numpy as np

import tapelab
from tapelab.exercises.verdict import no_answer, not_yet, number, raised, right

CANDIDATES = (1.0, 0.1, 0.01, 0.001)  # the learning rates of exercise 2


def digits_cnn(head="head_b"):
    """Notebook 08's network: two convolutions, each followed by BatchNormalization."""
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(32, 3, padding="same", use_bias=False, name="conv1"),
        keras.layers.BatchNormalization(momentum=0.9, name="bn1"),
        keras.layers.Activation("relu", name="relu1"),
        keras.layers.MaxPooling2D(name="pool1"),
        keras.layers.Conv2D(64, 3, padding="same", use_bias=False, name="conv2"),
        keras.layers.BatchNormalization(momentum=0.9, name="bn2"),
        keras.layers.Activation("relu", name="relu2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(5, name=head),
    ])


def gentle_selection(answer):
    """Exercise 1: the selection of the gentle second stage: the body adapts (both
    convolutions) with the head, and every BatchNormalization stays in inference mode."""
    if answer is None:
        return no_answer("a layer selection (a list of layer names)")
    model = digits_cnn()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", tapelab.SelectionWarning)
            chosen = tapelab.trainable_variables(model, answer)
    except (TypeError, ValueError, IndexError) as exc:
        return not_yet(f"tapelab cannot resolve that selection: {raised(exc)}")
    layers = {v.path.split("/")[-2] for v in chosen}
    if layers & {"bn1", "bn2"}:
        return not_yet("A selected BatchNormalization trains: it normalises with each "
                       "batch's statistics and moves its moving statistics. Leave it out.")
    missing = sorted({"conv1", "conv2", "head_b"} - layers)
    if missing:
        return not_yet(f"{', '.join(missing)} would stay frozen: the second stage lets the "
                       "body's convolutions adapt along with the head.")
    return right("The convolutions and the head train; bn1 and bn2, left out, stay frozen "
                 "in inference mode (with fine_tune and with fit alike).")


def _data():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 1))
    x = rng.normal(size=(300, 6)).astype("float32")
    y = (np.tanh(x @ w) + 0.1 * rng.normal(size=(300, 1))).astype("float32")
    return (x[:200], y[:200]), (x[200:], y[200:])


def stage_two(learning_rate):
    """Train a small network from scratch, every layer, for 8 epochs with
    ``Adam(learning_rate)``, validating on held-out data. Returns the
    ``keras.callbacks.History``. (Its initial weights come from their own seeds: the
    learner's random state is untouched.)"""
    (x, y), validation = _data()
    init = keras.initializers.GlorotUniform
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(16, activation="tanh", name="body", kernel_initializer=init(1)),
        keras.layers.Dense(1, name="head", kernel_initializer=init(2)),
    ], name="stage_two_model")
    return tapelab.fine_tune(model, slice(None), (x, y), "mse",
                             keras.optimizers.Adam(learning_rate), epochs=8, batch_size=20,
                             shuffle=False, verbose=0, validation_data=validation)


def pick_learning_rate(answer):
    """Exercise 2: of :data:`CANDIDATES`, the learning rate whose run of :func:`stage_two`
    reaches the lowest validation loss."""
    if answer is None:
        return no_answer("one of nb08.CANDIDATES, picked on the validation loss")
    value = number(answer)
    if value is None or not any(np.isclose(value, c) for c in CANDIDATES):
        return not_yet(f"`answer` must be one of {CANDIDATES}. Received: {answer!r}.")
    runs = {c: stage_two(c).history for c in CANDIDATES}
    best = min(CANDIDATES, key=lambda c: min(runs[c]["val_loss"]))
    if np.isclose(value, best):
        return right("It reaches the lowest validation loss of the four runs; a larger rate "
                     "overshoots, a smaller one has not got there in 8 epochs.")
    if value > best:
        return not_yet("That rate is too large: its steps overshoot. Compare the lowest "
                       "val_loss of each candidate's History.")
    return not_yet("Run nb08.stage_two(lr) for each candidate and compare the lowest "
                   "val_loss in each History.")
