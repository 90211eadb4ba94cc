"""``fine_tune``'s epochs, as ``fit`` runs them: callbacks, metrics, validation.

The hooks come in ``fit``'s order, through a ``keras.callbacks.CallbackList``
(with ``fit``'s ``History`` and ``ProgbarLogger``)::

    on_train_begin
      on_epoch_begin(e)
        on_train_batch_begin(i) ... on_train_batch_end(i, running logs)
        [validation] on_test_begin, on_test_batch_begin/end, on_test_end
      on_epoch_end(e, {"loss", metrics, "val_loss", "val_" + metrics})
    on_train_end

While they run, ``model.optimizer`` is the optimizer being used (callbacks such
as ``ReduceLROnPlateau`` and ``TensorBoard`` read it) and ``model.stop_training``
ends the run after the batch or epoch that set it, as in ``fit``. Epochs
restored from a checkpoint go into the ``History`` only: no callback sees them
again.
"""

import contextlib
import math
import numbers
import warnings

import keras
import tensorflow as tf

from tapelab.fine_tuning.batches import RAN_OUT
from tapelab.fine_tuning.compiled import compiled
from tapelab.fine_tuning.distribute import distribute, loss_factor, multi_worker
from tapelab.fine_tuning.features import cached_split, training_only_layers
from tapelab.fine_tuning.step import Step, frozen_except


def check_callbacks(callbacks):
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
    return list(callbacks)


def check_validation_freq(freq):
    ok = (isinstance(freq, numbers.Integral) and not isinstance(freq, bool) and freq >= 1) or (
        isinstance(freq, (list, tuple)) and all(
            isinstance(e, numbers.Integral) and not isinstance(e, bool) and e >= 1 for e in freq))
    if not ok:
        raise ValueError("`validation_freq` must be an integer >= 1 (validate every that many "
                         "epochs) or a list of 1-based epoch numbers, as in fit. Received: "
                         f"validation_freq={freq!r}.")


_BATCH_HOOKS = {"train": ("on_batch_begin", "on_batch_end", "on_train_batch_begin",
                           "on_train_batch_end"),
                "test": ("on_test_batch_begin", "on_test_batch_end")}


def _uses_batch_hooks(callbacks, kind):
    """Whether any callback overrides a batch hook of ``kind`` ("train", "test"). When
    none does, the loop skips the calls and their logs, which wait for each step
    (fit pays that wait; a silent run need not)."""
    return any(getattr(type(cb), name) is not getattr(keras.callbacks.Callback, name)
               for cb in callbacks for name in _BATCH_HOOKS[kind])


def _should_validate(epoch, freq):
    return (epoch + 1) % freq == 0 if isinstance(freq, numbers.Integral) else epoch + 1 in freq


def _constant_learning_rate(optimizer):
    """The optimizer's learning rate as a float, or None when it follows a schedule."""
    value = getattr(optimizer, "inner_optimizer", optimizer).get_config().get("learning_rate")
    if not isinstance(value, (int, float)):
        return None
    rate = optimizer.learning_rate
    return float(tf.convert_to_tensor(getattr(rate, "value", rate)))  # a mirrored one too


def _size(n):
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


@contextlib.contextmanager
def _optimizer_on(model, optimizer):
    """``model.optimizer`` is ``optimizer`` inside the block (callbacks read it)."""
    before = getattr(model, "optimizer", None)
    model.optimizer = optimizer
    try:
        yield
    finally:
        model.optimizer = before


class Run:
    """One ``fine_tune`` call after its checks: build, restore, then the epochs."""

    def __init__(self, selection, batches, validation, compiled_loss, raw_loss, metrics,
                 optimizer, training, strategy, resume, callbacks, validation_freq, verbose):
        self.selection, self.batches, self.validation = selection, batches, validation
        self.compiled_loss, self.raw_loss, self.metric_list = compiled_loss, raw_loss, metrics
        self.optimizer, self.training, self.strategy = optimizer, training, strategy
        self.resume, self.user_callbacks = resume, callbacks
        self.before = None  # the variables before the first step
        self.hooks = {}  # batch-hook kind -> whether a callback uses it
        self.validation_freq, self.verbose = validation_freq, verbose

    def _restore(self, done, epochs):
        asked = _constant_learning_rate(self.optimizer)
        self.resume.open()
        restored = _constant_learning_rate(self.optimizer) if done else None
        if restored is not None and asked is not None and not math.isclose(restored, asked):
            warnings.warn(
                f"checkpoint_dir restores the optimizer with learning_rate={restored:g}; the "
                f"optimizer passed asked for {asked:g}. The restored {restored:g} is used, so "
                "the run continues as an uninterrupted one would. To go on at another rate, "
                "call fine_tune again with that optimizer and a new checkpoint_dir: it starts "
                "from the model's weights as they are.", UserWarning, stacklevel=4)
        if done > epochs:
            warnings.warn(
                f"checkpoint_dir holds {done} finished epochs, more than epochs={epochs}: "
                f"nothing was trained, and the model has the weights after epoch {done}.",
                UserWarning, stacklevel=4)

    def _cache(self):
        """Feature extraction: the body runs once over the data (and validation data)."""
        body, forward, run_body = cached_split(self.selection)
        changed = training_only_layers(body)
        if changed and self.training:
            warnings.warn(
                "cache_features=True runs the frozen body once, in inference mode, so "
                f"these layers of it do nothing in training: {', '.join(changed)}. fit "
                "runs them in training mode on every batch, so the result differs from "
                "fit's. To keep them, use cache_features=False; to cache on purpose, "
                "ignore this warning.", UserWarning, stacklevel=4)
        size = self.batches.cache(run_body)
        if self.validation is not None:
            size += self.validation.cache(run_body)
        if self.verbose:
            print(f"Cached the frozen body's features: {_size(size)}")
        return forward

    def fit(self, done, saved, initial_epoch, epochs, cache_features):
        model, variables = self.selection.model, self.selection.variables
        with self.strategy.scope():
            if not self.optimizer.built:
                self.optimizer.build(variables)
        if self.resume:
            self._restore(done, epochs)
        start = done or initial_epoch
        history = keras.callbacks.History()
        callbacks = keras.callbacks.CallbackList(
            [*self.user_callbacks, history], add_progbar=self.verbose != 0, model=model,
            verbose=self.verbose, epochs=epochs, steps=self.batches.steps,
            initial_epoch=start)
        with _optimizer_on(model, self.optimizer), frozen_except(self.selection):
            forward = self._cache() if cache_features else model
            factor = (loss_factor(self.strategy, self.compiled_loss, forward,
                                  lambda: self.batches.one_pass(start))
                      if start < epochs else 1)  # nothing left to train: no probe
            step = Step(variables, self.compiled_loss, self.optimizer, self.training, factor)
            batch_spec = spec = self.batches.element_spec()
            if self.strategy.num_replicas_in_sync > 1 or multi_worker(self.strategy):
                spec = distribute(self.strategy, self.batches.one_pass(start)).element_spec
            steps = compiled(self.selection, forward, step, self.raw_loss, self.metric_list,
                             self.strategy, spec, batch_spec)
            self.hooks = {kind: _uses_batch_hooks(callbacks.callbacks, kind)
                          for kind in _BATCH_HOOKS}
            model.stop_training = False
            # a first step that fails (a shape only the run sees) must change nothing
            self.before = [(v, v.numpy()) for v in [*model.variables,
                                                   *self.optimizer.variables]]
            callbacks.on_train_begin()
            for key, values in saved.items():  # restored epochs: History only
                history.history[key] = list(values)
            history.epoch = list(range(len(saved.get("loss", []))))
            logs = None
            for epoch in range(start, epochs):
                epoch_logs = self._epoch(epoch, steps, callbacks)
                if epoch_logs is None:  # a Dataset that ran dry: fit warns and stops
                    break
                logs = epoch_logs
                callbacks.on_epoch_end(epoch, logs)
                if self.resume and not self.resume.save(epoch + 1, history.history):
                    warnings.warn(
                        f"Epoch {epoch + 1}: the loss or a weight is not finite (loss "
                        f"{logs['loss']}). Training stopped, as TerminateOnNaN would, and no "
                        "checkpoint was written: checkpoint_dir keeps "
                        + (f"ckpt-{epoch}, the last finite one" if epoch else "no checkpoint")
                        + ". Lower the learning rate, or check the data.", RuntimeWarning,
                        stacklevel=3)
                    break
                if model.stop_training:
                    break
            self.optimizer.finalize_variable_values(variables)
            callbacks.on_train_end(logs)
        return history

    def _epoch(self, epoch, steps, callbacks):
        """One epoch: its batches, then validation; the epoch's logs, or None when the
        data ran out before the first batch of a later epoch."""
        steps.reset()
        callbacks.on_epoch_begin(epoch)
        total = count = 0.0
        wrap = lambda dataset: distribute(self.strategy, dataset)
        for i, batch in enumerate(self.batches.epoch(epoch, wrap)):
            if self.hooks["train"]:
                callbacks.on_train_batch_begin(i)
            try:
                s, n, results = steps.train(*batch)
            except Exception:
                for v, value in self.before or ():  # nothing changed: the optimizer
                    v.assign(value)               # counted a step in graph order
                raise
            self.before = None
            total, count = total + s, count + n
            if self.hooks["train"]:
                callbacks.on_train_batch_end(i, {"loss": total / count, **results})
            if self.selection.model.stop_training:
                break
        if float(count) == 0:
            if self.before is not None:  # no step has run yet in this call
                raise ValueError("`data` must yield at least one batch. Received: a Dataset "
                                 "that yielded none.")
            warnings.warn(RAN_OUT, UserWarning, stacklevel=4)
            return None
        logs = {"loss": float(total / count), **steps.results()}
        if self.validation is not None and _should_validate(epoch, self.validation_freq):
            val = self._evaluate(epoch, steps, callbacks, wrap)
            logs.update({f"val_{k}": v for k, v in val.items()})
        return logs

    def _evaluate(self, epoch, steps, callbacks, wrap):
        """``fit``'s validation pass: the test step over the validation batches."""
        steps.reset()
        callbacks.on_test_begin()
        total = count = 0.0
        self.validation.restart()  # each pass starts at the data's start, as fit's evaluate
        for i, batch in enumerate(self.validation.epoch(0, wrap)):
            if self.hooks["test"]:
                callbacks.on_test_batch_begin(i)
            s, n, results = steps.evaluate(*batch)
            total, count = total + s, count + n
            if self.hooks["test"]:
                callbacks.on_test_batch_end(i, {"loss": total / count, **results})
        if float(count) == 0:
            raise ValueError("`validation_data` must yield at least one batch. Received: "
                             "none.")
        logs = {"loss": float(total / count), **steps.results()}
        callbacks.on_test_end(logs)
        return logs
