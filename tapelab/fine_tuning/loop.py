"""`fine_tune`: ``fit`` for a layer subset, around `fine_tune_step`'s one step.

A call is two moves: its arguments become one checked configuration
(``config.py``: every argument's check), and a :class:`Run` of it trains
(``epochs.py``: the epochs with callbacks and validation, over ``batches.py``,
with the compiled steps of ``compiled.py``, cached features from ``features.py``,
``tf.distribute`` from ``distribute.py``, and checkpoints from the
``BackupAndResume`` callback of ``checkpoint.py``). The run checks what only the
whole setup shows (the data's batches, a cached head, a checkpoint, the data
against the model and loss, symbolically) before its first step: bad input never
changes a variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tapelab.fine_tuning.config import RunConfig
from tapelab.fine_tuning.epochs import Run
from tapelab.fine_tuning.select import LayerSelection


def fine_tune(model: keras.Model, layers: LayerSelection, data: Any,
              loss_fn: Callable[..., Any] | str,
              optimizer: keras.optimizers.Optimizer | str, *, epochs: int = 1,
              batch_size: int | None = 32, training: bool = True, shuffle: bool = True, seed: int = 0,
              cache_features: bool = False, checkpoint_dir: str | os.PathLike | None = None,
              strategy: tf.distribute.Strategy | None = None, verbose: int | str = "auto",
              metrics: list | dict | None = None, callbacks: list | None = None,
              validation_data: Any = None, validation_split: float = 0.0,
              validation_freq: int | list = 1, validation_steps: int | None = None,
              validation_batch_size: int | None = None, initial_epoch: int = 0,
              class_weight: dict | None = None, sample_weight: Any = None,
              steps_per_epoch: int | None = None) -> keras.callbacks.History:
    """Train only the selected layers for several epochs, compiled, as Keras ``fit`` would.

    Each batch gets exactly :func:`fine_tune_step`'s semantics (the same function
    runs it; layers outside the selection are frozen as Keras freezes them),
    inside one ``tf.function``, traced once; a later call with the same model,
    selection, ``loss_fn``, ``metrics`` and ``optimizer`` reuses it. With
    ``shuffle=False`` the result equals ``fine_tune_step`` called batch by batch,
    and Keras ``fit`` with the other layers frozen.

    ``fit``'s keywords mean what they mean in ``fit`` (each tested against
    ``fit`` in ``tests/fine_tuning/``): ``loss_fn``, ``optimizer`` and
    ``metrics`` are taken as ``compile`` takes them (names such as ``"mse"``,
    ``"adam"``, ``"accuracy"``; a plain loss function gets Keras's rank matching
    and dtype cast; under a ``mixed_float16`` model a plain optimizer is wrapped
    in a ``LossScaleOptimizer``, kept with it for later calls); ``validation_data`` / ``validation_split`` /
    ``validation_freq`` / ``validation_steps`` / ``validation_batch_size`` run a
    validation pass in inference mode, as ``model.evaluate`` does, into
    ``val_loss`` and ``val_<metric>``; ``callbacks`` run through a
    ``keras.callbacks.CallbackList`` with ``fit``'s hooks, ``model.optimizer`` set
    to ``optimizer`` while they run and ``model.stop_training`` honoured;
    ``class_weight``, ``sample_weight`` (or ``(x, y, sample_weight)`` data),
    ``initial_epoch`` and ``steps_per_epoch`` follow ``fit``'s rules.

    ``cache_features=True`` is feature extraction: the layers before the selected
    head run once, in inference mode, in batches of ``batch_size``, and the head
    trains on their outputs, which stay in memory (``n_examples x
    feature_size x 4`` bytes in float32; MobileNetV2's 1280 pooled features take
    5 KB per image). Random augmentation inside a Dataset is then applied once and
    frozen, not redrawn each epoch, and Dropout in the frozen part is off.

    ``checkpoint_dir`` adds a :class:`~tapelab.BackupAndResume` callback (after
    ``callbacks``): it saves every variable of the model and the optimizer, the
    epoch and the history after each epoch (atomically, ``tf.train.CheckpointManager``);
    a later call with the same directory resumes after the last finished epoch,
    with the same ``(seed, epoch)`` orders (and a Dataset stream read up to where
    it was, with ``steps_per_epoch``), so an interrupted run ends where an
    uninterrupted one does. It refuses, before changing anything, a checkpoint
    written for a model whose variables differ in number, shape or dtype, another
    selection or optimizer, or any other setting a resume must keep (``loss_fn``,
    ``metrics``, ``class_weight``, the arrays' values or a Dataset's number of
    batches, ``seed``, ``batch_size``, ``shuffle``, ...: every field of the run's
    configuration that says so); a damaged index or newest checkpoint resumes from
    the newest intact one, with a warning; one process writes a directory at a
    time (an OS lock, released when the process dies); a non-finite loss or
    weight is never saved, and stops the run with a warning; a run that stopped
    early (``EarlyStopping``) is recorded with its final weights, and calling it
    again returns them without training on (CONTRIBUTING.md, Reliability). With a
    multi-worker strategy the chief writes ``checkpoint_dir`` (the other workers
    write private copies inside it), and every worker resumes from it: it must be
    on a file system they share.

    ``strategy`` splits each global batch across the replicas (``strategy.run``);
    each replica's loss is weighted by its share of the batch, so the summed
    gradients are those of the global mean, as on one device. A Keras ``Loss``
    divides its value by the number of replicas under a strategy; ``fine_tune``
    measures that once and undoes it, so ``loss_fn`` may be a ``Loss`` or any
    function of ``(y_true, y_pred)``. As in ``fit``, a selected
    BatchNormalization normalises over its replica's part of the batch, and
    Dropout draws its own masks on each replica.

    Args:
      model: a built Keras model.
      layers: the layer selection, as for :func:`select_layers`.
      data: ``(x, y)`` or ``(x, y, sample_weight)`` arrays or tensors (``x`` a
        tuple, list or dict of them for several inputs), or a ``tf.data.Dataset``
        of such batches (then ``batch_size`` and ``shuffle`` do not apply).
      loss_fn: as for ``compile``: a ``keras.losses.Loss``, a function of
        ``(y_true, y_pred)``, or a name such as ``"sparse_categorical_crossentropy"``.
      optimizer: a Keras optimizer, new or already used on this selection, or a
        name such as ``"adam"``.
      epochs: the total number of epochs, counting those a checkpoint already holds.
      batch_size: examples per step (the global batch, with a strategy).
      training: the mode of the selected layers, as in ``fine_tune_step``.
      shuffle: reorder the examples each epoch, by a permutation fixed by ``(seed, epoch)``.
      seed: the shuffling seed.
      cache_features: run the frozen body once and train the head on its outputs.
      checkpoint_dir: a directory to save to after each epoch and resume from.
      strategy: a ``tf.distribute.Strategy`` whose scope created the model and the
        optimizer; each global batch is split across its replicas.
      verbose: ``"auto"`` (1), 0 silent, 1 a progress bar per epoch with the
        loss, metrics and validation values, 2 one line per epoch.
      metrics: metric names or ``keras.metrics.Metric`` objects, as for ``compile``.
      callbacks: ``keras.callbacks.Callback`` objects, as for ``fit``.
      validation_data: ``(x, y)``, ``(x, y, sample_weight)`` or a Dataset.
      validation_split: the last fraction of the arrays to hold out, as in ``fit``.
      validation_freq: validate every this many epochs, or on the listed epochs (1-based).
      validation_steps: batches per validation pass (a Dataset stream, as in ``fit``).
      validation_batch_size: defaults to ``batch_size``.
      initial_epoch: the epoch to start at (a checkpoint's epoch wins, as
        ``BackupAndRestore``'s does in ``fit``).
      class_weight: ``{class index: weight}``, turned into sample weights from ``y``.
      sample_weight: per-example weights for array ``data``.
      steps_per_epoch: batches per epoch; required for an infinite Dataset.

    Returns:
      A ``keras.callbacks.History``; ``history.history["loss"]`` is the mean loss of
      each epoch (weighted by batch size, regularisation included), as ``fit`` returns,
      restored epochs included; ``history.params["initial_epoch"]`` is the number
      of epochs a checkpoint already held.

    >>> import keras, numpy as np
    >>> import tapelab
    >>> m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, name="w")])
    >>> m.set_weights([np.array([[0.5]], "float32"), np.zeros(1, "float32")])
    >>> x, y = np.ones((4, 1), "float32"), np.zeros((4, 1), "float32")
    >>> h = tapelab.fine_tune(m, ["w"], (x, y), keras.losses.MeanSquaredError(),
    ...                       keras.optimizers.SGD(0.1), epochs=3, batch_size=4, verbose=0)
    >>> [round(v, 4) for v in h.history["loss"]]  # one step per epoch: as fine_tune_step
    [0.25, 0.09, 0.0324]
    """
    return Run(RunConfig.build(**locals())).fit()  # every argument, checked in one place
