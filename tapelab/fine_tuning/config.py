"""One ``fine_tune`` run's configuration: built and checked once, before anything changes.

:meth:`RunConfig.build` takes ``fine_tune``'s arguments, checks each one (an
error names the argument, what was received and how to fix it), resolves what
``compile`` would resolve (loss, metrics and optimizer names; the
``LossScaleOptimizer`` of a ``mixed_float16`` model) and prepares the data by
``fit``'s input rules. The result is frozen: the epochs, the compiled steps and
the checkpoint all read it.

Every field says where it counts, in its ``metadata``:

- ``resume``: a function of the config giving ``{name: value}`` that a checkpoint
  must match to be resumed (it is refused, naming both values, when they
  differ), or a string saying why the field need not match;
- ``trace``: whether a compiled step bakes the field in (then it is part of the
  trace key, and a change traces anew).

``tests/fine_tuning/test_config.py`` checks that every field says both, so a new
keyword cannot be left out of the checkpoint's signature or the trace key by
forgetting it.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tapelab.fine_tuning import compile_like, inputs
from tapelab.fine_tuning.checkpoint import BackupAndResume
from tapelab.fine_tuning.checkpoint_files import check_directory
from tapelab.fine_tuning.distribute import check_strategy
from tapelab.fine_tuning.select import resolve
from tapelab.fine_tuning.step import check_optimizer


def _where(*, resume, trace):
    """A field's metadata: how it enters the checkpoint's settings, and the trace key."""
    return {"resume": resume, "trace": trace}


def _same(name):
    """The field's own value must match."""
    return lambda config: {name: getattr(config, name)}


def _described(name):
    """The field as JSON (:func:`compile_like.describe`: names, classes and configs)."""
    return lambda config: {name: compile_like.describe(getattr(config, name))}


def _class_weight(config):
    weights = config.class_weight
    return {"class_weight": None if weights is None else
            {str(int(k)): float(v) for k, v in weights.items()}}


def _validation_digest(config):
    if config.validation is None:
        return {}
    return {f"validation {k}": v for k, v in inputs.digest(config.validation).items()}


def _for_arrays(name):
    """The field's value must match when the data are arrays; a Dataset ignores it."""
    return lambda config: {} if config.is_dataset else {name: getattr(config, name)}


@dataclass(frozen=True)
class RunConfig:
    """Everything one ``fine_tune`` call does, checked (see the module's docstring)."""

    # what trains, and how the loss is made
    selection: Any = field(metadata=_where(
        resume="the checkpoint compares the model's and the selection's variables itself",
        trace=True))
    optimizer: Any = field(metadata=_where(
        resume="the checkpoint compares the optimizer's type, variables and hyperparameters",
        trace=True))
    loss_fn: Any = field(metadata=_where(resume=_described("loss_fn"), trace=True))
    loss: Any = field(metadata=_where(resume="made from loss_fn, which is compared",
                                      trace=False))
    metrics: Any = field(metadata=_where(resume=_described("metrics"), trace=True))
    training: bool = field(metadata=_where(resume=_same("training"), trace=True))
    strategy: Any = field(metadata=_where(
        resume="a run may resume on other devices (the same result, round-off aside)",
        trace=True))
    # the data, and the order of its batches
    class_weight: Any = field(metadata=_where(resume=_class_weight, trace=False))
    data: Any = field(metadata=_where(resume=lambda c: inputs.digest(c.data), trace=False))
    batch_size: int = field(metadata=_where(resume=_for_arrays("batch_size"), trace=False))
    shuffle: bool = field(metadata=_where(resume=_for_arrays("shuffle"), trace=False))
    seed: int = field(metadata=_where(resume=_for_arrays("seed"), trace=False))
    steps_per_epoch: Any = field(metadata=_where(resume=_same("steps_per_epoch"), trace=False))
    cache_features: bool = field(metadata=_where(resume=_same("cache_features"), trace=False))
    # validation
    validation: Any = field(metadata=_where(resume=_validation_digest, trace=False))
    validation_split: float = field(metadata=_where(resume=_same("validation_split"),
                                                    trace=False))
    validation_freq: Any = field(metadata=_where(resume=_same("validation_freq"), trace=False))
    validation_steps: Any = field(metadata=_where(resume=_same("validation_steps"),
                                                  trace=False))
    validation_batch_size: Any = field(metadata=_where(resume=_same("validation_batch_size"),
                                                       trace=False))
    # the run around the steps
    epochs: int = field(metadata=_where(resume="the total the run asks for", trace=False))
    initial_epoch: int = field(metadata=_where(
        resume="a checkpoint's epoch wins, as BackupAndRestore's does in fit", trace=False))
    callbacks: tuple = field(metadata=_where(
        resume="they observe the run (the rate setters are named in the resume warning)",
        trace=False))
    checkpoint_dir: Any = field(metadata=_where(resume="where the checkpoint is",
                                                trace=False))
    verbose: int = field(metadata=_where(resume="display only", trace=False))

    @property
    def model(self):
        return self.selection.model

    @property
    def is_dataset(self):
        return isinstance(self.data, tf.data.Dataset)

    def settings(self):
        """What a checkpoint of this run must match: ``{name: JSON value}``."""
        found = {}
        for f in dataclasses.fields(self):
            if callable(f.metadata["resume"]):
                found.update(f.metadata["resume"](self))
        return found

    def trace_key(self):
        """The fields a compiled step bakes in, as a key for tapelab/_cache.py's rules."""
        parts = []
        for f in dataclasses.fields(self):
            if f.metadata["trace"]:
                value = getattr(self, f.name)
                if f.name == "selection":
                    value = tuple(value.variables)
                elif isinstance(value, list):
                    value = tuple(value)
                parts.append(value)
        return tuple(parts)

    @classmethod
    def build(cls, model, layers, data, loss_fn, optimizer, *, epochs=1, batch_size=32,
              training=True, shuffle=True, seed=0, cache_features=False, checkpoint_dir=None,
              strategy=None, verbose="auto", metrics=None, callbacks=None,
              validation_data=None, validation_split=0.0, validation_freq=1,
              validation_steps=None, validation_batch_size=None, initial_epoch=0,
              class_weight=None, sample_weight=None, steps_per_epoch=None):
        """Check ``fine_tune``'s arguments and make the run's configuration.

        The signature is ``fine_tune``'s (a test holds the two equal). Raises
        TypeError or ValueError, before anything changes, for any argument ``fit``
        (or ``fine_tune``'s own rules) would refuse.
        """
        selection = resolve(model, layers)
        optimizer = compile_like.optimizer(optimizer, model)
        check_optimizer(optimizer, selection.variables, model)
        _check_int(epochs, "epochs", 0)  # 0: an empty History, as fit returns
        batch_size = 32 if batch_size is None else batch_size  # fit's default
        _check_int(batch_size, "batch_size", 1)
        _check_int(seed, "seed", 0)
        _check_int(initial_epoch, "initial_epoch", 0)
        for name, value in (("steps_per_epoch", steps_per_epoch),
                            ("validation_steps", validation_steps),
                            ("validation_batch_size", validation_batch_size)):
            if value is not None:
                _check_int(value, name, 1)
        verbose = 1 if verbose == "auto" else verbose
        if isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ValueError("`verbose` must be 'auto', 0, 1 or 2. Received: "
                             f"verbose={verbose!r}.")
        _check_validation_freq(validation_freq)
        for name, value in (("training", training), ("shuffle", shuffle),
                            ("cache_features", cache_features)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"`{name}` must be True or False. Received: {name}={value!r}.")
        callbacks = _check_callbacks(callbacks)
        loss = compile_like.loss(loss_fn, model)
        compile_like.check_metrics(metrics)  # now; the metrics are built per compiled step
        data, held_out = inputs.prepare(data, sample_weight, class_weight, validation_data,
                                        validation_split)
        if held_out is not None:  # the training data's spec is built on before step 1
            inputs.check_fits(model, held_out, "validation_data",
                              compile_like.loss(loss_fn, model), like=data)
        strategy = check_strategy(strategy, model, selection.variables, optimizer)
        config = cls(
            selection=selection, optimizer=optimizer, loss_fn=loss_fn, loss=loss,
            metrics=metrics, class_weight=class_weight, data=data, validation=held_out,
            epochs=epochs, batch_size=batch_size, training=bool(training),
            shuffle=bool(shuffle), seed=seed, cache_features=bool(cache_features),
            checkpoint_dir=None if checkpoint_dir is None else check_directory(checkpoint_dir),
            strategy=strategy, verbose=verbose, callbacks=tuple(callbacks),
            validation_split=validation_split, validation_freq=validation_freq,
            validation_steps=validation_steps, validation_batch_size=validation_batch_size,
            initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch)
        return config


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}. Received: {name}={value!r}.")


def _check_callbacks(callbacks):
    """``callbacks`` as a list, after checking each is a Keras callback."""
    if callbacks is None:
        return []
    if isinstance(callbacks, keras.callbacks.Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError("`callbacks` must be a list of keras.callbacks.Callback objects, as "
                        f"in fit. Received: callbacks={callbacks!r}.")
    wrong = [c for c in callbacks if not isinstance(c, keras.callbacks.Callback)]
    if wrong:
        raise TypeError("`callbacks` must hold keras.callbacks.Callback objects. Received: "
                        f"{type(wrong[0]).__name__} {wrong[0]!r}.")
    if any(isinstance(c, BackupAndResume) for c in callbacks):
        raise ValueError("`callbacks` must not hold a BackupAndResume: fine_tune adds its own "
                         "for `checkpoint_dir`. Received: a BackupAndResume in callbacks. "
                         "Pass checkpoint_dir=<its directory> instead.")
    return list(callbacks)


def _check_validation_freq(freq):
    ok = (isinstance(freq, numbers.Integral) and not isinstance(freq, bool) and freq >= 1) or (
        isinstance(freq, (list, tuple)) and all(
            isinstance(e, numbers.Integral) and not isinstance(e, bool) and e >= 1 for e in freq))
    if not ok:
        raise ValueError("`validation_freq` must be an integer >= 1 (validate every that many "
                         "epochs) or a list of 1-based epoch numbers, as in fit. Received: "
                         f"validation_freq={freq!r}.")
