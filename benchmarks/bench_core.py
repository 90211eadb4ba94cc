"""Speed of tapelab's helpers against the same work done by hand, in one process.

Run:  .venv/bin/python benchmarks/bench_core.py
Each row prints the median time of both sides and their ratio (helper / reference).
Goals (issue "tapelab core"): both ratios <= 1.15; eager grad, jvp and vjp within
1.10 of the same tape by hand (issue "The JAX Autodiff Cookbook on tapelab").
"""

import argparse
import statistics
import time
import warnings

import keras
import numpy as np
import tensorflow as tf
from results import record

import tapelab


def interleaved(fns, repeats, number):
    """Time several functions in alternation, so drifts in machine load hit all alike.

    ``number``: calls per sample, one int for all, or a dict per name (a 1 ms call
    needs more calls per sample than a 100 ms one to rise above timer noise).
    """
    for fn in fns.values():
        fn()
    calls = number if isinstance(number, dict) else dict.fromkeys(fns, number)
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(calls[name]):
                fn()
            samples[name].append((time.perf_counter() - start) / calls[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def row(label, helper_s, ref_s, goal=None):
    ratio = helper_s / ref_s
    verdict = "" if goal is None else ("  ok" if ratio <= goal else f"  OVER {goal}x")
    print(f"{label:<58} {helper_s * 1e3:9.3f} ms {ref_s * 1e3:9.3f} ms {ratio:6.2f}x{verdict}")
    record(label, helper_s, ref_s, goal)  # benchmarks/results.json, for the book's speed page
    return ratio


def bench_value_and_gradient(repeats):
    def f(x):
        return x**2 + 2 * x + 1

    x = tf.constant(5.0)

    def raw():
        with tf.GradientTape() as t:
            t.watch(x)
            y = f(x)
        return y, t.gradient(y, x)

    def helper():
        return tapelab.value_and_gradient(f, x)

    times = interleaved({"helper": helper, "raw": raw}, repeats, 200)
    return row("value_and_gradient vs raw tape, x**2 + 2*x + 1", times["helper"],
               times["raw"], goal=1.15)


def bench_transforms_eager(repeats):
    """Eager grad, jvp and vjp against the same tape by hand (issue: within 10%)."""
    w = tf.constant(np.random.default_rng(0).normal(size=(64, 64)), tf.float32)
    x, v = tf.ones(64), tf.fill([64], 0.5)

    def f(x):
        return tf.reduce_sum(tf.tanh(tf.linalg.matvec(w, x)) ** 2)

    def raw_grad():
        with tf.GradientTape() as t:
            t.watch(x)
            y = f(x)
        return t.gradient(y, x)

    def raw_jvp():
        with tf.autodiff.ForwardAccumulator(x, v) as acc:
            y = f(x)
        return y, acc.jvp(y)

    def raw_vjp():
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            y = f(x)
        return t.gradient(y, x, output_gradients=tf.constant(1.0))

    g = tapelab.grad(f)
    times = interleaved({
        "grad": lambda: g(x), "raw_grad": raw_grad,
        "jvp": lambda: tapelab.jvp(f, (x,), (v,)), "raw_jvp": raw_jvp,
        "vjp": lambda: tapelab.vjp(f, x)[1](tf.constant(1.0)), "raw_vjp": raw_vjp,
    }, repeats, 100)
    return max(row(f"eager {name} vs raw tape, sum(tanh(W x)**2), n = 64", times[name],
                   times[f"raw_{name}"], goal=1.10) for name in ("grad", "jvp", "vjp"))


def bench_fine_tune(repeats):
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None)
    x = tf.random.normal((8, 224, 224, 3))
    y = tf.constant(np.arange(8) % 1000)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    opt = keras.optimizers.SGD(1e-3)
    head = slice(-3, None)

    def forward():
        return model(x, training=False)

    def step():
        return tapelab.fine_tune_step(model, head, loss_fn, x, y, opt)

    seed_opt = keras.optimizers.SGD(1e-3)
    head_vars = tapelab.trainable_variables(model, head)

    def seed_tape():  # the seed's default tape: watches every trainable variable
        with tf.GradientTape() as t:
            loss = loss_fn(y, model(x, training=False))
        grads = t.gradient(loss, head_vars)
        seed_opt.apply_gradients(zip(grads, head_vars))

    times = interleaved({"forward": forward, "step": step, "seed": seed_tape}, repeats, 1)
    ratio = row("fine_tune_step (ResNet50, batch 8, head) vs forward pass",
                times["step"], times["forward"], goal=1.15)
    row("seed default tape (watches all) vs forward pass", times["seed"], times["forward"])
    return ratio


def bench_graph_step(repeats):
    keras.utils.set_random_seed(0)
    x = tf.random.normal((64, 32))
    y = tf.constant(np.arange(64) % 10)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def make():
        return keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, activation="relu"),
                                 keras.layers.Dense(64, activation="relu"),
                                 keras.layers.Dense(10, name="head")])

    eager_model, graph_model = make(), make()
    eager_opt, graph_opt = keras.optimizers.SGD(1e-3), keras.optimizers.SGD(1e-3)

    def eager():
        return tapelab.fine_tune_step(eager_model, ["head"], loss_fn, x, y, eager_opt)

    graph = tf.function(
        lambda: tapelab.fine_tune_step(graph_model, ["head"], loss_fn, x, y, graph_opt))
    times = interleaved({"graph": graph, "eager": eager}, repeats, 20)
    return row("fine_tune_step in tf.function vs eager (small MLP)", times["graph"],
               times["eager"])


def start(doc):
    """Parse --repeats, quiet SelectionWarning, print the header; return the repeats."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    warnings.simplefilter("ignore", tapelab.SelectionWarning)
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"median of {args.repeats} interleaved runs")
    print(f"{'':<58} {'helper':>12} {'reference':>12} {'ratio':>7}")
    return args.repeats


def main():
    repeats = start(__doc__)
    r1 = bench_value_and_gradient(repeats)
    r3 = bench_transforms_eager(repeats)
    r2 = bench_fine_tune(repeats)
    bench_graph_step(repeats)
    print("all goals met" if max(r1, r2) <= 1.15 and r3 <= 1.10 else "GOAL MISSED")


if __name__ == "__main__":
    main()
