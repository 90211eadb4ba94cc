"""The batches of each epoch for ``fine_tune``: arrays shuffled by ``(seed, epoch)``, or a Dataset.

An epoch's order is a permutation drawn from ``numpy.random.default_rng([seed,
epoch])``: it depends on nothing else, so a run resumed at epoch k sees the
same batches as one that never stopped.
"""

import math

import numpy as np
import tensorflow as tf

from tapelab.fine_tuning.features import nbytes


def order(n, seed, epoch, shuffle=True):
    """The example order of one epoch: a permutation fixed by ``(seed, epoch)``."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


def _length(x, what):
    lengths = {int(tf.shape(t)[0]) for t in tf.nest.flatten(x)}
    if len(lengths) != 1:
        raise ValueError(f"Every array in `{what}` must have the same length. "
                         f"Received: lengths {sorted(lengths)}.")
    return lengths.pop()


def _arrays(data):
    """``(x, y)`` arrays or tensors -> tensors and the number of examples."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(
            "`data` must be a pair (x, y) of arrays or tensors, or a tf.data.Dataset "
            f"of (x, y) batches. Received: {type(data).__name__}"
            + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else "") + ".")
    x, y = (tf.nest.map_structure(tf.convert_to_tensor, part) for part in data)
    nx, ny = _length(x, "x"), _length(y, "y")
    if nx != ny:
        raise ValueError("`x` and `y` must have the same number of examples. Received: "
                         f"{nx} inputs and {ny} targets.")
    if nx == 0:
        raise ValueError("`data` must hold at least one example. Received: 0 examples.")
    return x, y, nx


def _check_dataset(data):
    """The Dataset's number of batches (-1 or -2 when unknown), after checking it."""
    spec = data.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise TypeError("A `data` Dataset must yield (x, y) batches. Received: elements "
                        f"with spec {spec}.")
    card = int(data.cardinality())
    if card == 0:
        raise ValueError("`data` must yield at least one batch. Received: an empty Dataset.")
    return card


class Batches:
    """The batches of each epoch, from arrays (shuffled by ``(seed, epoch)``) or a Dataset."""

    def __init__(self, data, batch_size, shuffle, seed):
        self.dataset = data if isinstance(data, tf.data.Dataset) else None
        self.shuffle, self.seed, self.batch_size = shuffle, seed, batch_size
        if self.dataset is not None:
            card = _check_dataset(data)
            self.steps = card if card > 0 else None
        else:
            self.x, self.y, self.n = _arrays(data)
            self.steps = math.ceil(self.n / batch_size)

    def settings(self):
        """What fixes each epoch's batches, for a checkpoint to match: the number of
        examples, ``seed``, ``batch_size`` and ``shuffle`` for arrays; the number of
        batches for a Dataset (the others do not apply to it)."""
        if self.dataset is not None:
            return {"dataset batches": self.steps}
        return {"examples": self.n, "seed": self.seed, "batch_size": self.batch_size,
                "shuffle": self.shuffle}

    def cache(self, run):
        """Replace the inputs by the outputs of ``run`` (the compiled body), in batches."""
        if self.dataset is None:
            slices = tf.data.Dataset.from_tensor_slices(self.x).batch(self.batch_size)
            parts = [run(x) for x in slices]
            self.x = tf.nest.map_structure(lambda *t: tf.concat(t, 0), *parts)
            return nbytes(self.x)
        batches = list(self.dataset)
        feats = [run(x) for x, _ in batches]
        pairs = list(zip(feats, [y for _, y in batches]))
        spec = tf.nest.map_structure(
            lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), pairs[0])
        self.dataset = tf.data.Dataset.from_generator(lambda: iter(pairs), output_signature=spec)
        return sum(nbytes(f) for f in feats)

    def epoch(self, epoch):
        if self.dataset is not None:
            return self.dataset
        idx = order(self.n, self.seed, epoch, self.shuffle)
        x, y = (tf.nest.map_structure(lambda t: tf.gather(t, idx), part) for part in (self.x, self.y))
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(self.batch_size)
