"""Child processes for tests/fine_tuning (run as a script; pytest only imports it).

    python loop_child.py resume CKPT_DIR OUT.npz [KILL_AT_STEP]   fine_tune, checkpoint_dir
    python loop_child.py fit CKPT_DIR OUT.npz [KILL_AT_STEP]      fit + BackupAndResume
    python loop_child.py mirrored OUT.json
"""

import functools
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

if sys.argv[1] == "mirrored":  # two logical CPUs, set up before TF starts its runtime
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras

import tapelab

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
HEAD = ["neck", "drop", "head"]


def data(n=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6)).astype("float32"), rng.integers(0, 3, n).astype("int64")


def model(dropout=0.3):
    keras.utils.set_random_seed(1)
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(16, use_bias=False, name="body"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.Dense(8, activation="relu", name="neck",
                           kernel_regularizer=keras.regularizers.L2(0.01)),
        keras.layers.Dropout(dropout, name="drop"),
        keras.layers.Dense(3, name="head"),
    ])


class KillAt(keras.callbacks.Callback):
    """Say KILL-ME at training step ``step`` (counting from 1), then wait to be killed."""

    def __init__(self, step):
        super().__init__()
        self.step, self.seen = step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            print("KILL-ME", flush=True)
            time.sleep(120)


def resume(directory, out, kill_at=None):
    """fine_tune, 4 epochs of 4 steps; with kill_at, wait to be killed at that step."""
    steps = [0]

    def hook():
        steps[0] += 1
        if steps[0] == kill_at:
            print("KILL-ME", flush=True)
            time.sleep(120)
        return np.float32(0)

    def loss_fn(y_true, y_pred):  # the same function in every run: a checkpoint compares it
        return LOSS(y_true, y_pred) + tf.reshape(tf.py_function(hook, [], tf.float32), [])

    m = model()
    history = tapelab.fine_tune(m, HEAD, data(), loss_fn, keras.optimizers.Adam(0.01),
                                epochs=4, batch_size=16, checkpoint_dir=directory, verbose=0)
    np.savez(out, *[v.numpy() for v in m.variables], loss=np.array(history.history["loss"]))


def fit(directory, out, kill_at=None):
    """Keras fit with tapelab.BackupAndResume, 4 epochs of 4 steps, Dropout and Adam."""
    m = model()
    m.compile(keras.optimizers.Adam(0.01), LOSS)
    x, y = data()
    callbacks = [KillAt(kill_at)] if kill_at is not None else []
    history = m.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0,
                    callbacks=[*callbacks, tapelab.BackupAndResume(directory)])
    np.savez(out, *[v.numpy() for v in m.variables], *[v.numpy() for v in m.optimizer.variables],
             epochs=np.array(history.epoch), loss=np.array(history.history["loss"]))


def mirrored(out):
    """Without Dropout: each replica draws its own random masks, unlike one device."""
    global model
    model = functools.partial(model, dropout=0.0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x, y = data()
    one = model()
    h1 = tapelab.fine_tune(one, HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=3,
                           batch_size=16, verbose=0)
    with strategy.scope():
        two = model()
        opt = keras.optimizers.Adam(0.01)
    traces = []

    def loss_fn(y_true, y_pred):  # a plain function that calls a Keras Loss inside
        traces.append(tf.executing_eagerly())
        return LOSS(y_true, y_pred)

    h2 = tapelab.fine_tune(two, HEAD, (x, y), loss_fn, opt, epochs=3, batch_size=16,
                           strategy=strategy, verbose=0)
    h3 = tapelab.fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=3,
                           batch_size=16, verbose=0)  # fresh model: no strategy involved
    with strategy.scope():
        three = model()
        opt3 = keras.optimizers.Adam(0.01)
    h4 = tapelab.fine_tune(three, HEAD, (x, y), LOSS, opt3, epochs=3, batch_size=16,
                           strategy=strategy, verbose=0)  # the Loss object itself
    # SGD too: Adam's step barely changes when every gradient doubles, SGD's doubles
    sgd_one = model()
    tapelab.fine_tune(sgd_one, HEAD, (x, y), LOSS, keras.optimizers.SGD(0.1), epochs=3,
                      batch_size=16, verbose=0)
    with strategy.scope():
        sgd_two = model()
        sgd_opt = keras.optimizers.SGD(0.1)
    tapelab.fine_tune(sgd_two, HEAD, (x, y), lambda t, p: LOSS(t, p), sgd_opt, epochs=3,
                      batch_size=16, strategy=strategy, verbose=0)
    # metrics and validation under the strategy, against one device (which equals fit:
    # tests/test_loop_fit.py)
    xv, yv = x[:20], y[:20]
    keywords = {"epochs": 2, "batch_size": 16, "verbose": 0, "metrics": ["accuracy"],
                "validation_data": (xv, yv)}
    h_one_v = tapelab.fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01),
                                **keywords)
    with strategy.scope():
        five = model()
        opt5 = keras.optimizers.Adam(0.01)
    h_two_v = tapelab.fine_tune(five, HEAD, (x, y), LOSS, opt5, strategy=strategy, **keywords)
    errors = {}
    for name, call in {
        "outside_scope": lambda: tapelab.fine_tune(model(), HEAD, (x, y), LOSS,
                                                   keras.optimizers.Adam(0.01), strategy=strategy),
        "no_strategy": lambda: tapelab.fine_tune(two, HEAD, (x, y), LOSS, opt),
    }.items():
        try:
            call()
        except ValueError as e:
            errors[name] = str(e)
    result = {
        "replicas": strategy.num_replicas_in_sync,
        "max_diff": max(float(np.abs(a.numpy() - b.numpy()).max())
                        for a, b in zip(one.variables, two.variables)),
        "max_diff_loss_object": max(float(np.abs(a.numpy() - b.numpy()).max())
                                    for a, b in zip(one.variables, three.variables)),
        "max_diff_sgd": max(float(np.abs(a.numpy() - b.numpy()).max())
                            for a, b in zip(sgd_one.variables, sgd_two.variables)),
        "loss_one": h1.history["loss"], "loss_two": h2.history["loss"],
        "loss_fresh": h3.history["loss"], "loss_object": h4.history["loss"],
        "graph_calls": traces.count(False), "errors": errors,
        "validated_one": h_one_v.history, "validated_two": h_two_v.history,
    }
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    if sys.argv[1] in ("resume", "fit"):
        run = resume if sys.argv[1] == "resume" else fit
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else None)
    else:
        mirrored(sys.argv[2])
