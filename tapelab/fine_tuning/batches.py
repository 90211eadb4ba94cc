"""The batches of each epoch for ``fine_tune``: arrays shuffled by ``(seed, epoch)``, or a Dataset.

An epoch's order is a permutation drawn from ``numpy.random.default_rng([seed,
epoch])``: it depends on nothing else, so a run resumed at epoch k sees the
same batches as one that never stopped. Each batch is gathered from the arrays
when it is needed, as ``fit`` does, so an epoch never holds a shuffled copy of
the whole data.

``steps_per_epoch`` follows ``fit`` (Keras's ``EpochIterator``): the batches come
from one stream that goes on across epochs; an epoch that reaches the end of
the data stops there (with ``fit``'s warning) and the next one starts the data
again (for arrays, in the next order). An infinite Dataset needs
``steps_per_epoch``; without it ``fit`` would run forever, ``fine_tune`` refuses.
A Dataset stream's position (:meth:`Batches.data_position`) goes into each
checkpoint, and a resumed run reads the stream up to it, so it sees the
batches an uninterrupted run would.
"""

import math

import numpy as np
import tensorflow as tf

from tapelab import _keras_internals
from tapelab._user_warnings import warn
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


def _tuples(structure):
    """``structure`` with its lists made tuples: tf.data reads a list as one stacked tensor."""
    if isinstance(structure, (list, tuple)):
        return tuple(_tuples(s) for s in structure)
    if isinstance(structure, dict):
        return {k: _tuples(v) for k, v in structure.items()}
    return structure


def _gather(indices, arrays):
    return tf.nest.map_structure(lambda t: tf.gather(t, indices), arrays)


# ops that make a pipeline give other values on each pass: stateful random numbers and
# state updates (Keras's random preprocessing layers advance a seed variable)
def _draws_anew(op, attr):
    if op.startswith("Shuffle"):
        return "reshuffle_each_iteration" in attr and attr["reshuffle_each_iteration"].b
    return (op.startswith(("Random", "Stateful")) or "Rng" in op
            or op in ("AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp"))


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
        self._stream = None  # [iterator, batches taken from it] while steps_per_epoch goes on
        self._passes = 0  # streams of the Dataset that ran to their end before this one
        self._resume = None  # (passes, position) a resumed run must reach first
        self._origin = None  # where a cached window of the stream starts (see cache)
        self._taken = 0  # batches the epochs took from the stream in this run
        if self.dataset is not None:
            card = int(data.cardinality())
            if card == 0:
                raise ValueError(f"`{what}` must yield at least one batch. Received: an "
                                 "empty Dataset.")
            if card == tf.data.INFINITE_CARDINALITY and steps_per_epoch is None:
                steps = "validation_steps" if restarts else "steps_per_epoch"
                raise ValueError(
                    f"`{steps}` must be given for an infinite `{what}` Dataset (one made "
                    f"with .repeat()), or a pass over it never ends. Received: {steps}=None. "
                    f"Pass {steps}=<batches per pass>, or drop .repeat().")
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
    def streams(self):
        """Whether epochs read one stream of a Dataset (``steps_per_epoch``)."""
        return self.dataset is not None and self.steps_per_epoch is not None

    # ------------------------------------------------------------ resuming a stream

    def data_position(self):
        """Where a Dataset stream is, for a checkpoint: ``{"passes", "position"}``, or
        ``{}`` when epochs do not share a stream (arrays: the epoch fixes it)."""
        if not self.streams:
            return {}
        if self._origin is not None:  # the cache holds the stream from the origin on
            return {"passes": self._origin["passes"],
                    "position": self._origin["position"] + self._taken}
        return {"passes": self._passes, "position": self._stream[1] if self._stream else 0}

    def resume(self, position):
        """Start the stream where a checkpoint's :meth:`data_position` says it was."""
        if self.streams and position:
            self._resume = (int(position["passes"]), int(position["position"]))

    def _start_stream(self, wrap):
        """A new stream; after a resume, read up to the checkpoint's position first, pass by
        pass as the uninterrupted run read it (a reshuffling Dataset then gives the same
        orders, and random augmentation the same draws)."""
        if self._resume is None:
            return [iter(wrap(self.dataset)), 0]
        passes, position = self._resume
        self._resume = None
        for _ in range(passes):  # each finished pass of the stream, read to its end
            for taken, _batch in enumerate(iter(wrap(self.dataset)), start=1):
                if self.batches and taken >= self.batches:
                    break
        iterator = iter(wrap(self.dataset))
        for _ in range(position):
            next(iterator)
        self._passes = passes
        return [iterator, position]

    # ------------------------------------------------------------ caching features

    def cache(self, run, epochs_left=1):
        """Replace the inputs by the outputs of ``run`` (the compiled body), in batches.

        A Dataset is streamed: each batch's input is dropped once its features are
        computed, so only the features (and targets) stay in memory. An infinite
        Dataset, or one of unknown size, with ``steps_per_epoch`` caches the batches
        the run will read: ``steps_per_epoch`` times ``epochs_left`` (validation:
        ``validation_steps``), from where the stream is.

        Returns:
          The size of the cached features, in bytes.
        """
        if self.dataset is None:
            x, *rest = self.arrays
            slices = tf.data.Dataset.from_tensor_slices(_tuples(x)).batch(self.batch_size)
            parts = [_tuples(run(batch)) for batch in slices]
            feats = tf.nest.map_structure(lambda *t: tf.concat(t, 0), *parts)
            self.arrays = (feats, *rest)
            return nbytes(feats)
        self._warn_if_drawn_anew()
        window = None
        if self.steps_per_epoch is not None and self.batches is None:  # infinite, or unsized
            window = self.steps_per_epoch * (1 if self.restarts else max(epochs_left, 1))
        if window is not None and not self.restarts:
            # the window starts where the (resumed) stream is, and is that stream: no
            # other iterator first (a reshuffling Dataset would move on to its next order)
            self._stream = self._start_stream(lambda d: d)
            self._origin = {"passes": self._passes, "position": self._stream[1]}
            source = self._stream[0]
        else:
            source = iter(self.dataset)
        cached, size = [], 0
        for x, *rest in source:  # streamed: x is dropped after its features
            feats = _tuples(run(x))
            size += nbytes(feats)
            cached.append((feats, *rest))
            if window is not None and len(cached) >= window:
                break
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
        self._stream = None
        return size

    def _warn_if_drawn_anew(self):
        drawn = sorted({op for op, attr in _keras_internals.dataset_ops(self.dataset)
                        if _draws_anew(op, attr)})
        if drawn:
            warn(f"cache_features=True reads `{self.what}` once, and every epoch trains on "
                 "those batches; but this Dataset gives other values on each pass "
                 f"({', '.join(drawn)}: shuffle(reshuffle_each_iteration=True), random "
                 "augmentation), which fit would draw anew each epoch. So the cached run sees "
                 "the first pass's order and draws in every epoch. To keep them, use "
                 "cache_features=False; to cache on purpose, ignore this warning.")

    # ------------------------------------------------------------ the batches

    def _pass_indices(self, index):
        """The example indices of the ``index``-th pass over the arrays, in batches."""
        idx = order(self.n, self.seed, index, self.shuffle)
        return [idx[i:i + self.batch_size] for i in range(0, self.n, self.batch_size)]

    def _as_dataset(self, batches):
        """Batches of indices as a Dataset of gathered batches (for tf.distribute)."""
        indices = tf.data.Dataset.from_tensor_slices(np.concatenate(batches)).batch(
            self.batch_size)  # every batch but the last is full, as in _pass_indices
        arrays = tf.data.Dataset.from_tensors(self.arrays).repeat()  # held once, not copied
        return tf.data.Dataset.zip((indices, arrays)).map(
            _gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def one_pass(self, index):
        """One pass over the data: a Dataset of batches (the ``index``-th order)."""
        if self.dataset is not None:
            return self.dataset
        return self._as_dataset(self._pass_indices(index))

    def element_spec(self):
        """The spec of one batch (the batch axis unknown)."""
        if self.dataset is not None:
            return self.dataset.element_spec
        return tf.nest.map_structure(
            lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), self.arrays)

    def epoch(self, epoch, wrap=None):
        """The batches of ``epoch``, as ``wrap`` (``tf.distribute``'s splitting) takes them.

        Arrays give each batch gathered when it is needed, from plain Python on one
        device (the fastest way to feed a compiled step, and one batch in memory at a
        time), or as a Dataset for ``wrap``. With ``steps_per_epoch``, call it for
        consecutive epochs: the stream goes on. For arrays the stream's position is
        computed from ``epoch`` alone, so a resumed run continues where an
        uninterrupted one would.
        """
        if self.dataset is None:
            batches = self._array_batches(epoch)
            if wrap is None:
                return (_gather(i, self.arrays) for i in batches)
            return wrap(self._as_dataset(batches))
        if self.steps_per_epoch is None:
            return self.dataset if wrap is None else wrap(self.dataset)
        return self._dataset_steps(wrap or (lambda dataset: dataset))

    def _array_batches(self, epoch):
        """The index batches of ``epoch``: a whole pass, or its share of the stream."""
        if self.steps_per_epoch is None:
            return self._pass_indices(epoch)
        passes = position = 0
        for _ in range(epoch):  # replay the positions: arithmetic only
            position += min(self.steps_per_epoch, self.batches - position)
            if position >= self.batches:
                passes, position = passes + 1, 0
        take = min(self.steps_per_epoch, self.batches - position)
        if take < self.steps_per_epoch:
            warn(RAN_OUT)
        return self._pass_indices(passes)[position:position + take]

    def _end_of_stream(self):
        self._stream, self._passes = None, self._passes + 1

    def _dataset_steps(self, wrap):
        if self._stream is None:
            self._stream = self._start_stream(wrap)
        stream = self._stream
        for _ in range(self.steps_per_epoch):
            if self.batches and stream[1] >= self.batches:
                warn(RAN_OUT)
                break
            try:
                batch = next(stream[0])
            except StopIteration:
                warn(RAN_OUT)
                self._end_of_stream()
                return
            stream[1] += 1
            self._taken += 1
            yield batch
        if self.batches and stream[1] >= self.batches:
            self._end_of_stream()
