"""The batches of each epoch for ``fine_tune``: arrays shuffled by ``(seed, epoch)``, or a Dataset.

An epoch's order is a permutation drawn from ``numpy.random.default_rng([seed,
epoch])``: it depends on nothing else, so a run resumed at epoch k sees the
same batches as one that never stopped.

``steps_per_epoch`` follows ``fit`` (Keras's ``EpochIterator``): the batches come
from one stream that goes on across epochs; an epoch that reaches the end of
the data stops there (with ``fit``'s warning) and the next one starts the data
again (for arrays, in the next order). An infinite Dataset needs
``steps_per_epoch``; without it ``fit`` would run forever, ``fine_tune`` refuses.
"""

import math
import warnings

import numpy as np
import tensorflow as tf

from tapelab.fine_tuning.features import nbytes

RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your "
           "dataset or generator can generate at least `steps_per_epoch * epochs` "
           "batches. You may need to use the `.repeat()` function when building your "
           "dataset.")  # fit's own words


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


def _check_arrays(parts):
    names = ("x", "y", "sample_weight")
    sizes = {name: _length(p, name) for name, p in zip(names, parts) if p is not None}
    if len(set(sizes.values())) != 1:
        raise ValueError("`x`, `y` and `sample_weight` must have the same number of examples. "
                         f"Received: {', '.join(f'{k}: {v}' for k, v in sizes.items())}.")
    n = sizes["x"]
    if n == 0:
        raise ValueError("`data` must hold at least one example. Received: 0 examples.")
    return n


class Batches:
    """The batches of each epoch, from arrays (shuffled by ``(seed, epoch)``) or a Dataset.

    Args:
      data: ``(x, y, sample_weight or None)`` tensors, or a Dataset of ``(x, y)``
        or ``(x, y, sample_weight)`` batches (tapelab/fine_tuning/inputs.py).
      batch_size, shuffle, seed: for arrays.
      steps_per_epoch: None (one pass over the data per epoch) or an integer.
      what: the argument's name, for messages (``data``, ``validation_data``).
      restarts: every pass starts at the data's start (validation, as ``fit``'s
        ``evaluate`` does with ``validation_steps``).
    """

    def __init__(self, data, batch_size, shuffle, seed, steps_per_epoch=None, what="data",
                 restarts=False):
        self.dataset = data if isinstance(data, tf.data.Dataset) else None
        self.shuffle, self.seed, self.batch_size = shuffle, seed, batch_size
        self.steps_per_epoch, self.what, self.restarts = steps_per_epoch, what, restarts
        self._stream = None  # (iterator, batches seen) while steps_per_epoch goes on
        if self.dataset is not None:
            card = int(data.cardinality())
            if card == 0:
                raise ValueError(f"`{what}` must yield at least one batch. Received: an "
                                 "empty Dataset.")
            if card == tf.data.INFINITE_CARDINALITY and steps_per_epoch is None:
                raise ValueError(
                    f"`steps_per_epoch` must be given for an infinite `{what}` Dataset "
                    "(one made with .repeat()), or an epoch never ends. Received: "
                    "steps_per_epoch=None. Pass steps_per_epoch=<batches per epoch>, or "
                    "drop .repeat().")
            self.batches = card if card > 0 else None  # one pass over the data
            self.parts = len(data.element_spec)
        else:
            x, y, sw = data
            self.n = _check_arrays((x, y, sw))
            self.arrays = (x, y) if sw is None else (x, y, sw)
            self.batches = math.ceil(self.n / batch_size)
            self.parts = len(self.arrays)
        self.steps = steps_per_epoch or self.batches  # what the progress bar shows

    def restart(self):
        """The next :meth:`epoch` starts at the data's start (validation passes)."""
        self._stream = None

    @property
    def infinite(self):
        return self.dataset is not None and int(
            self.dataset.cardinality()) == tf.data.INFINITE_CARDINALITY

    def settings(self):
        """What fixes each epoch's batches, for a checkpoint to match: the number of
        examples, ``seed``, ``batch_size`` and ``shuffle`` for arrays; the number of
        batches for a Dataset (the others do not apply to it)."""
        extra = {} if self.steps_per_epoch is None else {"steps_per_epoch":
                                                         self.steps_per_epoch}
        if self.dataset is not None:
            return {"dataset batches": self.batches, **extra}
        return {"examples": self.n, "seed": self.seed, "batch_size": self.batch_size,
                "shuffle": self.shuffle, **extra}

    def cache(self, run):
        """Replace the inputs by the outputs of ``run`` (the compiled body), in batches.

        A Dataset is streamed: each batch's input is dropped once its features are
        computed, so only the features (and targets) stay in memory.
        """
        if self.dataset is None:
            x, *rest = self.arrays
            slices = tf.data.Dataset.from_tensor_slices(x).batch(self.batch_size)
            parts = [run(batch) for batch in slices]
            feats = tf.nest.map_structure(lambda *t: tf.concat(t, 0), *parts)
            self.arrays = (feats, *rest)
            return nbytes(feats)
        if self.infinite and self.restarts:  # validation: every pass reads the same batches
            self.dataset = self.dataset.take(self.steps_per_epoch)
        if self.infinite:
            raise ValueError(
                "`cache_features=True` needs a finite Dataset: the features of every "
                "batch are kept. Received: an infinite Dataset (.repeat()). Cache a "
                "finite one, e.g. dataset.take(n), or use cache_features=False.")
        cached, size = [], 0
        for x, *rest in self.dataset:  # streamed: x is dropped after its features
            feats = run(x)
            size += nbytes(feats)
            cached.append((feats, *rest))
        if not cached:
            raise ValueError(f"`{self.what}` must yield at least one batch. Received: a "
                             "Dataset that yielded none.")
        spec = tf.nest.map_structure(
            lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), cached[0])
        self.dataset = tf.data.Dataset.from_generator(
            lambda: iter(cached), output_signature=spec).apply(
                tf.data.experimental.assert_cardinality(len(cached)))
        self.batches = len(cached)
        self.steps = self.steps_per_epoch or self.batches
        return size

    def one_pass(self, index):
        """One pass over the data: a Dataset of batches (the ``index``-th order)."""
        if self.dataset is not None:
            return self.dataset
        idx = order(self.n, self.seed, index, self.shuffle)
        parts = tuple(tf.nest.map_structure(lambda t: tf.gather(t, idx), p) for p in self.arrays)
        return tf.data.Dataset.from_tensor_slices(parts).batch(self.batch_size)

    def element_spec(self):
        """The spec of one batch (the batch axis unknown)."""
        if self.dataset is not None:
            return self.dataset.element_spec
        return tf.nest.map_structure(
            lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), self.arrays)

    def epoch(self, epoch, wrap=lambda dataset: dataset):
        """The batches of ``epoch``: a Dataset, or (with ``steps_per_epoch``) an iterator.

        With ``steps_per_epoch``, call it for consecutive epochs: the stream goes on.
        For arrays the stream's position is computed from ``epoch`` alone, so a
        resumed run continues where an uninterrupted one would.
        """
        if self.steps_per_epoch is None:
            return wrap(self.one_pass(epoch))
        if self.dataset is None:
            return wrap(self._array_steps(epoch))
        return self._dataset_steps(wrap)

    def _array_steps(self, epoch):
        passes = position = 0
        for _ in range(epoch):  # replay the positions: arithmetic only
            position += min(self.steps_per_epoch, self.batches - position)
            if position >= self.batches:
                passes, position = passes + 1, 0
        take = min(self.steps_per_epoch, self.batches - position)
        if take < self.steps_per_epoch:
            warnings.warn(RAN_OUT, UserWarning, stacklevel=4)
        return self.one_pass(passes).skip(position).take(take)

    def _dataset_steps(self, wrap):
        if self._stream is None:
            self._stream = [iter(wrap(self.dataset)), 0]
        stream = self._stream
        for _ in range(self.steps_per_epoch):
            if self.batches and stream[1] >= self.batches:
                warnings.warn(RAN_OUT, UserWarning, stacklevel=3)
                break
            try:
                batch = next(stream[0])
            except StopIteration:
                warnings.warn(RAN_OUT, UserWarning, stacklevel=3)
                self._stream = None
                return
            stream[1] += 1
            yield batch
        if self.batches and stream[1] >= self.batches:
            self._stream = None
