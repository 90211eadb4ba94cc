"""``fine_tune``'s epochs, as ``fit`` runs them: callbacks, metrics, validation, checkpoints.

:class:`Run` takes one checked :class:`~tapelab.fine_tuning.config.RunConfig`.
The hooks come in ``fit``'s order, through a ``keras.callbacks.CallbackList``
(with ``fit``'s ``History`` and ``ProgbarLogger``, and the run's
:class:`~tapelab.fine_tuning.checkpoint.BackupAndResume` after the user's
callbacks, for ``checkpoint_dir``)::

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
import numbers

import keras

from tapelab._user_warnings import warn
from tapelab.fine_tuning import compile_like
from tapelab.fine_tuning.batches import RAN_OUT, Batches
from tapelab.fine_tuning.checkpoint import BackupAndResume
from tapelab.fine_tuning.compiled import compiled
from tapelab.fine_tuning.distribute import (
    checkpoint_write_dir,
    distribute,
    loss_factor,
    multi_worker,
)
from tapelab.fine_tuning.features import cached_split, training_only_layers
from tapelab.fine_tuning.step import Step, frozen_except
from tapelab.fine_tuning.undo import undo_on_failure

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
    """One ``fine_tune`` call after its checks: restore, build, then the epochs.

    Args:
      config: the run's :class:`~tapelab.fine_tuning.config.RunConfig`.
    """

    def __init__(self, config):
        self.config = c = config
        self.batches = Batches(c.data, c.batch_size, c.shuffle, c.seed, c.steps_per_epoch)
        self.validation = None if c.validation is None else Batches(
            c.validation, c.validation_batch_size or c.batch_size, False, c.seed,
            c.validation_steps, what="validation_data", restarts=True)
        if c.cache_features:
            cached_split(c.selection)  # refuses a selection that is not a head
        # batches split across replicas or workers (tf.distribute takes Datasets)
        self.distributed = c.strategy.num_replicas_in_sync > 1 or multi_worker(c.strategy)
        self.hooks = {}  # batch-hook kind -> whether a callback uses it
        self.checkpoint = None if c.checkpoint_dir is None else self._checkpoint()

    def _checkpoint(self):
        """The run's BackupAndResume: the configuration's settings, the folder this
        process writes, the callbacks that set the rate, the data stream's position."""
        c = self.config
        checkpoint = BackupAndResume(c.checkpoint_dir, settings=c.settings())
        checkpoint.configure_for_fine_tune(
            write_dir=checkpoint_write_dir(c.strategy, c.checkpoint_dir),
            rate_setters=[type(cb).__name__ for cb in c.callbacks
                          if isinstance(cb, keras.callbacks.LearningRateScheduler)],
            data_position=self.batches.data_position)
        return checkpoint

    def fit(self):
        """Run the epochs; return the ``History``. The checkpoint directory's lock is
        released however the run ends."""
        try:
            return self._fit()
        finally:
            if self.checkpoint is not None:
                self.checkpoint.release()

    def _restore(self):
        """Check the checkpoint (before anything changes), then build the optimizer and
        restore. Returns ``(epochs done, the history so far, whether it had stopped)``."""
        c, checkpoint = self.config, self.checkpoint
        if checkpoint is None:
            return 0, {}, False
        restored = checkpoint.check(c.model, c.optimizer, c.selection.variables)
        with c.strategy.scope():  # the optimizer's slots live on every replica
            if not c.optimizer.built:
                c.optimizer.build(c.selection.variables)
        checkpoint.restore(c.epochs)  # outside the scope: its own state is one copy
        if restored is None:
            return 0, {}, False
        self.batches.resume(restored.data_position)
        return restored.epochs, restored.history, restored.status == "stopped"

    def _cache(self, epochs_left):
        """Feature extraction: the body runs once over the data (and validation data)."""
        c = self.config
        body, forward, run_body = cached_split(c.selection)
        changed = training_only_layers(body)
        if changed and c.training:
            warn("cache_features=True runs the frozen body once, in inference mode, so "
                 f"these layers of it do nothing in training: {', '.join(changed)}. fit "
                 "runs them in training mode on every batch, so the result differs from "
                 "fit's. To keep them, use cache_features=False; to cache on purpose, "
                 "ignore this warning.")
        size = self.batches.cache(run_body, epochs_left)
        if self.validation is not None:
            size += self.validation.cache(run_body)
        if c.verbose:
            print(f"Cached the frozen body's features: {_size(size)}")
        return forward

    def _fit(self):
        c = self.config
        model, variables = c.model, c.selection.variables
        done, saved, stopped = self._restore()
        start = c.epochs if stopped else (done or c.initial_epoch)
        history = keras.callbacks.History()
        own = [self.checkpoint] if self.checkpoint else []
        callbacks = keras.callbacks.CallbackList(
            [*c.callbacks, *own, history], add_progbar=c.verbose != 0, model=model,
            verbose=c.verbose, epochs=c.epochs, steps=self.batches.steps,
            initial_epoch=done or min(start, c.epochs))
        with _optimizer_on(model, c.optimizer), frozen_except(c.selection):
            steps = self._compile(start) if start < c.epochs else None
            with c.strategy.scope():  # after the compile's checks of the data: they change
                if not c.optimizer.built:  # nothing, and neither does a refusal
                    c.optimizer.build(variables)
            self.hooks = {kind: _uses_batch_hooks(callbacks.callbacks, kind)
                          for kind in _BATCH_HOOKS}
            model.stop_training = False
            self.first_step = True
            callbacks.on_train_begin()
            for key, values in saved.items():  # restored epochs: History only
                history.history[key] = list(values)
            history.epoch = list(range(len(saved.get("loss", []))))
            logs = None
            for epoch in range(start, c.epochs):
                epoch_logs = self._epoch(epoch, steps, callbacks)
                if epoch_logs is None:  # a Dataset that ran dry: fit warns and stops
                    break
                logs = epoch_logs
                callbacks.on_epoch_end(epoch, logs)
                if model.stop_training:  # a callback, or the checkpoint's NaN rule
                    break
            c.optimizer.finalize_variable_values(variables)
            callbacks.on_train_end(logs)
        return history

    def _compile(self, start):
        """The compiled steps of this run (cached features first, when asked)."""
        c = self.config
        forward = self._cache(c.epochs - start) if c.cache_features and start < c.epochs \
            else c.model
        factor = (loss_factor(c.strategy, c.loss, forward, lambda: self.batches.one_pass(start))
                  if start < c.epochs else 1)  # nothing left to train: no probe
        step = Step(c.selection.variables, c.loss, c.optimizer, c.training, factor,
                    uncovered=compile_like.uncovered_outputs(c.loss_fn, c.model))
        batch_spec = spec = self.batches.element_spec()
        if self.distributed:
            spec = distribute(c.strategy, self.batches.one_pass(start)).element_spec
        return compiled(c, forward, step, spec, batch_spec)

    def _epoch(self, epoch, steps, callbacks):
        """One epoch: its batches, then validation; the epoch's logs, or None when the
        data ran out before the first batch of a later epoch."""
        c = self.config
        steps.reset()
        callbacks.on_epoch_begin(epoch)
        total = count = 0.0
        wrap = None if not self.distributed else (
            lambda dataset: distribute(c.strategy, dataset))
        for i, batch in enumerate(self.batches.epoch(epoch, wrap)):
            if self.hooks["train"]:
                callbacks.on_train_batch_begin(i)
            if self.first_step:  # a first step that fails (a shape only the run sees)
                # changes nothing: the optimizer counted a step in graph order
                with undo_on_failure([*c.model.variables, *c.optimizer.variables]):
                    s, n, results = steps.train(*batch)
                self.first_step = False
            else:
                s, n, results = steps.train(*batch)
            total, count = total + s, count + n
            if self.hooks["train"]:
                callbacks.on_train_batch_end(i, {"loss": total / count, **results})
            if c.model.stop_training:
                break
        if float(count) == 0:
            if self.first_step:  # no step has run yet in this call
                raise ValueError("`data` must yield at least one batch. Received: a Dataset "
                                 "that yielded none.")
            warn(RAN_OUT)
            return None
        logs = {"loss": float(total / count), **steps.results()}
        if self.validation is not None and _should_validate(epoch, c.validation_freq):
            val = self._evaluate(steps, callbacks, wrap)
            logs.update({f"val_{k}": v for k, v in val.items()})
        return logs

    def _evaluate(self, steps, callbacks, wrap):
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

