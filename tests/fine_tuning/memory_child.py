"""Child of test_batches.py: peak memory of one epoch on arrays, fit or fine_tune.

    python memory_child.py fit|fine_tune

Prints ``<peak growth in MiB> <data size in MiB>``: how much the process's peak
resident memory grew during the call, over what it was with the arrays made and
the model traced (a warm-up call on a small slice traced it).
"""

import os
import resource
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

import tapelab

ROWS, WIDTH = 100_000, 512  # 200 MiB of float32


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB


def main(how):
    warnings.simplefilter("ignore")
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(ROWS, WIDTH)).astype("float32")
    y = (np.arange(ROWS) % 3).astype("int64")
    model = keras.Sequential([keras.Input((WIDTH,)), keras.layers.Dense(3, name="head")])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if how == "fit":
        model.compile(keras.optimizers.SGD(0.01), loss)
        run = lambda n: model.fit(x[:n], y[:n], batch_size=256, epochs=1, verbose=0)
    else:
        opt = keras.optimizers.SGD(0.01)
        run = lambda n: tapelab.fine_tune(model, ["head"], (x[:n], y[:n]), loss, opt,
                                          batch_size=256, epochs=1, verbose=0)
    run(512)  # traces on a small slice
    before = peak_mib()
    run(ROWS)
    print(f"{peak_mib() - before:.1f} {x.nbytes / 2**20:.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
