"""Speed of the function transforms, each against the obvious alternative, in one process.

Run:  .venv/bin/python benchmarks/bench_transforms.py
Goals (issue "Function transforms"): hvp at least 20x faster than hessian(f, x) @ v
(n = 1000); per_example_gradients at least 100x faster than an eager loop of
single-example tapes (MLP 10-32-4, batch 64), both after the first (tracing) call.
The three hvp nestings (reverse over reverse, forward over reverse, reverse over
forward) are timed raw, eagerly and inside tf.function, to choose hvp's; notebook 09
measures their memory too.
"""

import keras
import numpy as np
import tensorflow as tf
from bench_core import interleaved, row, start
from references import hvp_forward_over_reverse

import tapelab


def hvp_rows(repeats):
    n = 1000
    gen = tf.random.Generator.from_seed(0)
    w = gen.normal((n, n)) / np.sqrt(n)
    x, v = gen.normal((n,)), gen.normal((n,))

    def f(x):
        return tf.reduce_sum(tf.tanh(tf.linalg.matvec(w, x)) ** 2)

    def reverse_over_reverse(x, v):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = f(x)
            g = inner.gradient(y, x)
        return outer.gradient(g, x, output_gradients=v)

    def forward_over_reverse(x, v):
        with tf.autodiff.ForwardAccumulator(x, v) as acc:
            with tf.GradientTape() as t:
                t.watch(x)
                y = f(x)
            g = t.gradient(y, x)
        return acc.jvp(g)

    def reverse_over_forward(x, v):
        with tf.GradientTape() as t:
            t.watch(x)
            with tf.autodiff.ForwardAccumulator(x, v) as acc:
                y = f(x)
            directional = acc.jvp(y)
        return t.gradient(directional, x)

    rr_graph, fr_graph, rf_graph = (tf.function(fn) for fn in (
        reverse_over_reverse, forward_over_reverse, reverse_over_forward))
    times = interleaved({
        "rr": lambda: reverse_over_reverse(x, v), "fr": lambda: forward_over_reverse(x, v),
        "rf": lambda: reverse_over_forward(x, v),
        "rr_graph": lambda: rr_graph(x, v), "fr_graph": lambda: fr_graph(x, v),
        "rf_graph": lambda: rf_graph(x, v),
        "hvp": lambda: tapelab.hvp(f, x, v),
        "fr_helper": lambda: hvp_forward_over_reverse(f, x, v),
        "hessian_v": lambda: tf.linalg.matvec(tapelab.hessian(f, x), v),
    }, repeats, 3)
    row("hvp: reverse-over-reverse vs forward-over-reverse, eager", times["rr"], times["fr"])
    row("hvp: reverse-over-reverse vs forward-over-reverse, tf.function",
        times["rr_graph"], times["fr_graph"])
    row("hvp: reverse-over-reverse vs reverse-over-forward, eager", times["rr"], times["rf"])
    row("hvp: reverse-over-reverse vs reverse-over-forward, tf.function",
        times["rr_graph"], times["rf_graph"])
    ratio = row("tapelab.hvp vs hessian(f, x) @ v, n = 1000", times["hvp"], times["hessian_v"],
                goal=1 / 20)
    print(f"{'':<58} hvp is {1 / ratio:.0f}x faster (goal: 20x)")
    return ratio


def per_example_row(repeats):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(4)])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 10)).astype("float32")
    y = np.arange(64) % 4
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    variables = model.trainable_variables

    def loop():
        grads = []
        for i in range(len(x)):
            with tf.GradientTape() as t:
                loss = loss_fn(y[i:i + 1], model(x[i:i + 1]))
            grads.append(t.gradient(loss, variables))
        return grads

    def helper():
        return tapelab.per_example_gradients(model, slice(None), loss_fn, x, y)

    times = interleaved({"helper": helper, "loop": loop}, max(3, repeats // 3),
                        {"helper": 20, "loop": 1})
    ratio = row("per_example_gradients vs eager loop of 64 tapes", times["helper"],
                times["loop"], goal=1 / 100)
    print(f"{'':<58} per_example_gradients is {1 / ratio:.0f}x faster (goal: 100x)")
    return ratio


def main():
    repeats = start(__doc__)
    r1 = hvp_rows(repeats)
    r2 = per_example_row(repeats)
    print("all goals met" if r1 <= 1 / 20 and r2 <= 1 / 100 else "GOAL MISSED")


if __name__ == "__main__":
    main()
