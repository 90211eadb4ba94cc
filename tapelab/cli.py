"""The ``tapelab`` command line: ``tapelab --help`` lists the subcommands."""

import argparse
import os
import sys

from tapelab import __version__


def _quiet_tf():
    """Ask TF's C++ logger for errors only (it may still print a few start-up lines)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cmd_demo(args):
    """A short tour of the API with real outputs."""
    _quiet_tf()
    import warnings

    import keras
    import numpy as np
    import tensorflow as tf

    import tapelab

    print("value_and_gradient(lambda x: x**2 + 2*x + 1, 5.0)")
    value, grad = tapelab.value_and_gradient(lambda x: x**2 + 2 * x + 1, 5.0)
    print(f"  value = {float(value)}, gradient = {float(grad)}   # f'(x) = 2x + 2 = 12")

    print('gradients(lambda x: {"y": x**2, "z": (x**2)**2}, 3.0)')
    g = tapelab.gradients(lambda x: {"y": x**2, "z": (x**2) ** 2}, 3.0)
    print(f"  y: {float(g['y'])}, z: {float(g['z'])}   # 2x = 6, 4x^3 = 108")

    print("tape(watch=keras.Variable(4.0)), y = v * v")
    v = keras.Variable(4.0)
    with tapelab.tape(watch=v, only_watched=True) as t:
        y = v * v
    print(f"  {type(t).__module__}.{type(t).__name__}, dy/dv = {float(t.gradient(y, v))}")

    print("fine_tune_step on a small model, head only, 5 steps")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="body"),
                              keras.layers.Dense(2, name="head")], name="demo")
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    body_before = [w.numpy().copy() for w in model.get_layer("body").weights]
    opt = keras.optimizers.SGD(0.5)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tapelab.SelectionWarning)
        losses = [float(tapelab.fine_tune_step(model, ["head"], loss_fn, x, y, opt))
                  for _ in range(5)]
    print("  losses: " + " ".join(f"{loss:.3f}" for loss in losses))
    same = all(np.array_equal(a, b.numpy())
               for a, b in zip(body_before, model.get_layer("body").weights))
    print(f"  body unchanged: {same}   (TF {tf.__version__})")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tapelab",
        description="tapelab: a teaching toolkit for tf.GradientTape.",
    )
    parser.add_argument("--version", action="version", version=f"tapelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="a short tour of the API with real outputs")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
