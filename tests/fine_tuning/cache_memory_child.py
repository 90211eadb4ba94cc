"""Child of tests/test_features.py: peak memory of cache_features on a streamed Dataset.

Prints ``<peak growth in MiB> <input size in MiB>``: how much the process's peak
resident memory grew during ``fine_tune(cache_features=True)``, and the size of
the streamed input, which never exists in memory all at once.
"""

import os
import resource
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import tensorflow as tf

import tapelab

BATCHES, BATCH, SIDE = 100, 64, 64  # 100 batches of 64 images of 64x64x3 float32: 300 MiB


def batch(i):
    x = tf.random.stateless_uniform([BATCH, SIDE, SIDE, 3], seed=tf.stack([i, 0]))
    y = tf.cast(tf.random.stateless_uniform([BATCH], seed=tf.stack([i, 1]), maxval=3,
                                            dtype=tf.int32), tf.int64)
    return x, y


def main():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((SIDE, SIDE, 3)), keras.layers.Conv2D(4, 3, name="body"),
        keras.layers.GlobalAveragePooling2D(name="pool"), keras.layers.Dense(3, name="head")])
    data = tf.data.Dataset.range(BATCHES).map(batch)  # streamed: made batch by batch
    warm = data.take(2)  # warm up TF's allocator and the traces on a small run
    warnings.simplefilter("ignore")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    tapelab.fine_tune(model, ["head"], warm, loss, "sgd", cache_features=True, verbose=0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB
    tapelab.fine_tune(model, ["head"], data, loss, "sgd", cache_features=True, verbose=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = BATCHES * BATCH * SIDE * SIDE * 3 * 4 / 2**20
    print(f"{peak - before:.1f} {size:.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
