"""`fine_tune`: the compiled epoch loop around `fine_tune_step`'s one step.

Every batch runs :func:`tapelab.fine_tuning.step.train_step`, the same function that
``fine_tune_step`` runs eagerly, here inside one ``tf.function``, traced once and
kept for later calls with the same arguments. Around it: the epoch's batches
(``batches.py``, shuffled by ``(seed, epoch)``), the epoch-mean loss in a real
``keras.callbacks.History``, a ``Progbar``, feature caching (``features.py``),
checkpoints (``resume.py``) and ``tf.distribute`` strategies (``distribute.py``).
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tapelab._cache import CompileCache
from tapelab.fine_tuning.batches import Batches
from tapelab.fine_tuning.checkpoint_dir import check_directory
from tapelab.fine_tuning.distribute import (
    check_strategy,
    checkpoint_write_dir,
    distribute,
    global_step,
    loss_factor,
    replica_step,
)
from tapelab.fine_tuning.features import cached_split
from tapelab.fine_tuning.resume import Resume
from tapelab.fine_tuning.select import LayerSelection, resolve
from tapelab.fine_tuning.step import Step, check_optimizer, frozen_except, train_step


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}. Received: {name}={value!r}.")


def _constant_learning_rate(optimizer):
    """The optimizer's learning rate as a float, or None when it follows a schedule."""
    value = getattr(optimizer, "inner_optimizer", optimizer).get_config().get("learning_rate")
    if not isinstance(value, (int, float)):
        return None
    rate = optimizer.learning_rate
    return float(tf.convert_to_tensor(getattr(rate, "value", rate)))  # a mirrored one too


def _size(n):
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def _train(forward_ref, step, x, y):
    return train_step(forward_ref(), step, x, y)  # forward held weakly: it may be the model


def _build_step(forward, step, strategy, spec):
    """The step as one ``tf.function`` (partials: see tapelab/_cache.py)."""
    replica = functools.partial(replica_step, functools.partial(_train, weakref.ref(forward), step))
    return tf.function(functools.partial(global_step, strategy, replica), input_signature=spec)


STEPS = CompileCache(size=4)  # per model


def _compiled_step(selection, forward, step, strategy, spec):
    """The step as one ``tf.function``, reused by later calls that are certainly the same.

    A trace bakes in Python state: the objects (``loss_fn`` by the rule of
    tapelab/_cache.py: a built-in Keras loss by class and config, a function by
    what it reads), the layers' ``trainable`` flags (Keras reads them while
    tracing), the input signature. Any change makes a new one; the same call
    again (one epoch at a time, say) does not retrace.
    """
    flags = tuple(layer.trainable for layer in selection.tree)
    parts = (tuple(step.variables), step.training, step.loss_factor, flags, tuple(spec),
             forward, step.loss_fn, step.optimizer, strategy)
    return STEPS.get(selection.model, parts,
                     functools.partial(_build_step, forward, step, strategy, spec))


def fine_tune(model: keras.Model, layers: LayerSelection, data: Any, loss_fn: Callable[..., Any],
              optimizer: keras.optimizers.Optimizer, *, epochs: int = 1, batch_size: int = 32,
              training: bool = True, shuffle: bool = True, seed: int = 0,
              cache_features: bool = False, checkpoint_dir: str | os.PathLike | None = None,
              strategy: tf.distribute.Strategy | None = None,
              verbose: int = 1) -> keras.callbacks.History:
    """Train only the selected layers for several epochs, compiled, as Keras ``fit`` would.

    Each batch gets exactly :func:`fine_tune_step`'s semantics (the same function
    runs it; layers outside the selection are frozen as Keras freezes them),
    inside one ``tf.function``, traced once; a later call with the same model,
    selection, ``loss_fn`` and ``optimizer`` reuses it. With ``shuffle=False`` the
    result equals ``fine_tune_step`` called batch by batch, and Keras ``fit``.

    ``cache_features=True`` is feature extraction: the layers before the selected
    head run once, in inference mode, in batches of ``batch_size``, and the head
    trains on their outputs, which stay in memory (``n_examples x
    feature_size x 4`` bytes in float32; MobileNetV2's 1280 pooled features take
    5 KB per image). Random augmentation inside a Dataset is then applied once and
    frozen, not redrawn each epoch, and Dropout in the frozen part is off.

    ``checkpoint_dir`` saves every variable of the model and the optimizer, the
    epoch and the history after each epoch (atomically, ``tf.train.CheckpointManager``);
    a later call with the same directory resumes after the last finished epoch,
    with the same ``(seed, epoch)`` orders, so an interrupted run ends where an
    uninterrupted one does. It refuses, before changing anything, a checkpoint
    written for another model, selection, optimizer type or ``seed``,
    ``batch_size`` or ``shuffle``; a damaged index or newest checkpoint resumes from
    the newest intact one, with a warning; one process writes a directory at a
    time (a lock file); a non-finite loss or weight is never saved, and stops the
    run with a warning (README, Reliability). With a
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
      data: ``(x, y)`` arrays or tensors, or a ``tf.data.Dataset`` of ``(x, y)``
        batches (then ``batch_size`` and ``shuffle`` do not apply).
      loss_fn: ``loss_fn(y_true, y_pred)`` returning a scalar, e.g.
        ``keras.losses.SparseCategoricalCrossentropy()``.
      optimizer: a Keras optimizer, new or already used on this selection.
      epochs: the total number of epochs, counting those a checkpoint already holds.
      batch_size: examples per step (the global batch, with a strategy).
      training: the mode of the selected layers, as in ``fine_tune_step``.
      shuffle: reorder the examples each epoch, by a permutation fixed by ``(seed, epoch)``.
      seed: the shuffling seed.
      cache_features: run the frozen body once and train the head on its outputs.
      checkpoint_dir: a directory to save to after each epoch and resume from.
      strategy: a ``tf.distribute.Strategy`` whose scope created the model and the
        optimizer; each global batch is split across its replicas.
      verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.

    Returns:
      A ``keras.callbacks.History``; ``history.history["loss"]`` is the mean loss of
      each epoch (weighted by batch size, regularisation included), as ``fit`` returns,
      restored epochs included; ``history.params["initial_epoch"]`` is the number
      of epochs a checkpoint already held.

    >>> import keras, numpy as np
    >>> m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, name="w")])
    >>> m.set_weights([np.array([[0.5]], "float32"), np.zeros(1, "float32")])
    >>> x, y = np.ones((4, 1), "float32"), np.zeros((4, 1), "float32")
    >>> h = fine_tune(m, ["w"], (x, y), keras.losses.MeanSquaredError(),
    ...               keras.optimizers.SGD(0.1), epochs=3, batch_size=4, verbose=0)
    >>> [round(v, 4) for v in h.history["loss"]]  # one step per epoch: as fine_tune_step
    [0.25, 0.09, 0.0324]
    """
    selection = resolve(model, layers, stacklevel=3)
    variables = selection.variables
    check_optimizer(optimizer, variables, model)
    _check_int(epochs, "epochs", 1)
    _check_int(batch_size, "batch_size", 1)
    _check_int(seed, "seed", 0)
    if verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 0, 1 or 2. Received: verbose={verbose!r}.")
    batches = Batches(data, batch_size, shuffle, seed)
    strategy = check_strategy(strategy, model, variables, optimizer)
    resume = None
    if checkpoint_dir is not None:  # every check before the first change
        directory = check_directory(checkpoint_dir)
        write_dir = check_directory(checkpoint_write_dir(strategy, directory))
        with strategy.scope():
            resume = Resume(directory, selection, optimizer,
                            batches.settings(),
                            write_dir)
    try:
        done, saved = resume.check() if resume else (0, {})
        return _run(selection, batches, loss_fn, optimizer, training, cache_features, strategy,
                    resume, done, saved, epochs, verbose)
    finally:
        if resume:
            resume.close()


def _run(selection, batches, loss_fn, optimizer, training, cache_features, strategy, resume,
         done, saved, epochs, verbose):
    """``fine_tune`` after its checks: build, restore, then the epochs."""
    model, variables, forward = selection.model, selection.variables, selection.model
    if cache_features:
        _, forward, run_body = cached_split(selection)
    with strategy.scope():
        if not optimizer.built:
            optimizer.build(variables)
    asked = _constant_learning_rate(optimizer)
    if resume:
        resume.open()
        restored = _constant_learning_rate(optimizer) if done else None
        if restored is not None and asked is not None and not math.isclose(restored, asked):
            warnings.warn(
                f"checkpoint_dir restores the optimizer with learning_rate={restored:g}; the "
                f"optimizer passed asked for {asked:g}. The restored {restored:g} is used, so "
                "the run continues as an uninterrupted one would. To go on at another rate, "
                "call fine_tune again with that optimizer and a new checkpoint_dir: it starts "
                "from the model's weights as they are.", UserWarning,
                stacklevel=3)
        if done > epochs:
            warnings.warn(
                f"checkpoint_dir holds {done} finished epochs, more than epochs={epochs}: "
                f"nothing was trained, and the model has the weights after epoch {done}.",
                UserWarning, stacklevel=3)

    history = keras.callbacks.History()
    history.set_model(model)
    history.set_params({"verbose": verbose, "epochs": epochs, "steps": batches.steps,
                        "initial_epoch": done})  # epochs restored from a checkpoint
    history.on_train_begin()
    for e, value in enumerate(saved.get("loss", [])):
        history.on_epoch_end(e, {"loss": value})
    with frozen_except(selection):
        if cache_features:
            size = batches.cache(run_body)
            if verbose:
                print(f"Cached the frozen body's features: {_size(size)}")
        factor = (loss_factor(strategy, loss_fn, forward, lambda: batches.epoch(done))
                  if done < epochs else 1)  # nothing left to train: no probe
        compiled = None
        for epoch in range(done, epochs):
            dataset = distribute(strategy, batches.epoch(epoch))
            if compiled is None:
                compiled = _compiled_step(
                    selection, forward, Step(variables, loss_fn, optimizer, training, factor),
                    strategy, list(dataset.element_spec))
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            bar = keras.utils.Progbar(batches.steps, verbose=verbose, stateful_metrics=["loss"])
            total = count = 0.0  # on the device: no wait for each step unless shown
            for i, (x, y) in enumerate(dataset):
                s, n = compiled(x, y)
                total, count = total + s, count + n
                if verbose == 1:
                    bar.update(i + 1, [("loss", float(total / count))], finalize=False)
            total, count = float(total), float(count)
            if count == 0:
                raise ValueError("`data` must yield at least one batch. Received: a Dataset "
                                 "that yielded none.")
            if verbose:
                bar.update(i + 1, [("loss", total / count)], finalize=True)
            history.on_epoch_end(epoch, {"loss": total / count})
            if resume and not resume.save(epoch + 1, history.history):
                warnings.warn(
                    f"Epoch {epoch + 1}: the loss or a weight is not finite (loss "
                    f"{total / count}). Training stopped, as TerminateOnNaN would, and no "
                    "checkpoint was written: checkpoint_dir keeps "
                    + (f"ckpt-{epoch}, the last finite one" if epoch else "no checkpoint")
                    + ". Lower the learning rate, or check the data.", RuntimeWarning,
                    stacklevel=3)
                break
    return history
