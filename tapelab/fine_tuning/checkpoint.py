"""`BackupAndResume`: a checkpoint after every epoch and an exact resume, as a Keras callback.

Keras's ``BackupAndRestore`` with what an unattended run needs, for ``model.fit``
and for ``fine_tune`` (which adds it for ``checkpoint_dir``):

- one writer per directory: an OS lock that dies with its process;
- every variable of the model (weights, BatchNormalization statistics, random
  seed counters) and of the optimizer, the epochs done, the history, and how the
  run ended, in one atomic ``tf.train.CheckpointManager`` save per epoch;
- a checkpoint that does not fit the run (another model, selection, optimizer
  type or setting) is refused before anything changes, naming the difference;
- a damaged newest checkpoint or index never restarts the run over good ones:
  the newest intact checkpoint is restored, the damaged files are moved aside;
- a state that is not finite is never saved over the last finite one: the run
  stops, as ``TerminateOnNaN`` would;
- a run that stopped early (``EarlyStopping``, ``model.stop_training``) is
  recorded with its final weights (``restore_best_weights`` included), so
  running it again returns that result instead of training on.

The files themselves (the lock, the scan for damage, the signature a checkpoint
must match) are in ``checkpoint_files.py``.
"""

import hashlib
import json
import math
import numbers
import os
import threading

import keras
import numpy as np
import tensorflow as tf

from tapelab import _keras_internals
from tapelab._user_warnings import warn
from tapelab.fine_tuning import checkpoint_files
from tapelab.fine_tuning.compile_like import describe
from tapelab.fine_tuning.distribute import checkpoint_write_dir as _write_dir
from tapelab.fine_tuning.undo import undo_on_failure

_STATE_KEY = "state/.ATTRIBUTES/VARIABLE_VALUE"
_CONFIG_KEY = "config/.ATTRIBUTES/VARIABLE_VALUE"


class Restored:
    """What a checkpoint holds besides the variables: the epochs done, the history, how
    the run ended ("running" or "stopped") and where its data stream was."""

    def __init__(self, state):
        self.epochs = int(state["epochs"])
        self.history = state["history"]
        self.status = state["status"]
        self.data_position = state.get("data_position") or {}


def _learning_rate(optimizer):
    """The optimizer's learning rate as a float, or None when it follows a schedule."""
    rate = _keras_internals.learning_rate_object(getattr(optimizer, "inner_optimizer",
                                                         optimizer))
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) or rate is None:
        return None
    rate = optimizer.learning_rate
    return float(tf.convert_to_tensor(getattr(rate, "value", rate)))  # a mirrored one too


def _digest(variables):
    h = hashlib.blake2b(digest_size=16)
    for v in variables:
        h.update(np.ascontiguousarray(v.numpy()).tobytes())
    return h.hexdigest()


def _plain(value):
    """A log value as JSON: a number, or a list for a metric that gives a vector."""
    value = np.asarray(value)
    return float(value) if value.ndim == 0 else value.tolist()


def _finite_floats(variables):
    return [v for v in variables if tf.as_dtype(v.dtype).is_floating
            and bool(tf.reduce_all(tf.math.is_finite(v)))]


# write folder -> (its Lock, the thread that took it, whether fine_tune holds it)
_HOLDERS = {}


def _free_after_a_failed_fit(folder):
    """Release this process's lock on ``folder`` when a ``fit`` in this very thread took
    it: that ``fit`` raised before ``on_train_end`` (a notebook cell that stopped, say),
    since this thread is here and not inside it. A lock of another thread is another
    run's, and stays; ``fine_tune`` releases its own in a ``finally``."""
    lock, thread, by_fine_tune = _HOLDERS.get(folder, (None, None, True))
    if lock is not None and not by_fine_tune and thread == threading.get_ident():
        lock.release()
        del _HOLDERS[folder]


class BackupAndResume(keras.callbacks.Callback):
    """Save the whole training state after each epoch; resume exactly after a restart.

    Put it last in ``callbacks`` (after ``EarlyStopping``, so the final weights
    it records are the ones that callback restores). Called again with the same
    directory, ``fit`` restores the newest intact checkpoint and goes on after
    its last finished epoch; a run that stopped early is not trained further
    (its final weights are restored). Use a new directory for a new run. The
    model must be built before ``fit`` (as for Keras's ``BackupAndRestore``),
    and the compiled loss is compared on resume, with ``settings``. With
    ``fit``, a Dataset with ``steps_per_epoch`` starts its stream again on
    resume (``fine_tune`` resumes it where it was).

    Args:
      directory: the checkpoint directory, created if needed; one run writes it at a time.
      settings: optional JSON values (no NaN) that must be equal to resume
        (``{"batch_size": 32}``); a checkpoint written with others is refused.
      max_to_keep: how many checkpoints to keep (at least 2: one to resume
        from, one in case it turns out damaged).

    >>> import keras, numpy as np, tempfile
    >>> from tapelab import BackupAndResume
    >>> m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> m.compile(keras.optimizers.SGD(0.1), "mse")
    >>> x, y = np.ones((4, 1), "float32"), np.zeros((4, 1), "float32")
    >>> d = tempfile.mkdtemp()
    >>> h = m.fit(x, y, epochs=2, verbose=0, callbacks=[BackupAndResume(d)])
    >>> m2 = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> m2.compile(keras.optimizers.SGD(0.1), "mse")
    >>> h2 = m2.fit(x, y, epochs=3, verbose=0, callbacks=[BackupAndResume(d)])
    >>> h2.epoch  # epochs 0 and 1 were restored
    [2]
    """

    def __init__(self, directory, *, settings=None, max_to_keep=2):
        super().__init__()
        self._argument = "directory"  # the name of the directory in messages
        self.directory = checkpoint_files.check_directory(directory, self._argument)
        try:
            settings = json.loads(json.dumps({} if settings is None else settings,
                                              allow_nan=False))
        except (TypeError, ValueError) as e:
            raise TypeError("`settings` must be a dict of JSON values (numbers, strings, "
                            f"lists, dicts; no NaN). Received: settings={settings!r} "
                            f"({e}).") from None
        if not isinstance(settings, dict):
            raise TypeError(f"`settings` must be a dict. Received: settings={settings!r}.")
        self.settings = settings
        if isinstance(max_to_keep, bool) or not isinstance(max_to_keep, numbers.Integral) \
                or max_to_keep < 2:
            raise ValueError("`max_to_keep` must be an integer >= 2 (one checkpoint to "
                             "resume from, one in case it is damaged). Received: "
                             f"max_to_keep={max_to_keep!r}.")
        self.max_to_keep = int(max_to_keep)
        self.write_dir = None  # this process's folder: a non-chief worker has its own
        self.restored = None  # a Restored, once checked; None for a fresh directory
        self.rate_setters = None  # fine_tune: the callbacks that set the learning rate
        self.data_position = None  # fine_tune: a function giving its stream's position
        self._checked = self._opened = self._fine_tune = False
        self._lock = None

    def configure_for_fine_tune(self, write_dir, rate_setters, data_position):
        """What ``fine_tune`` knows that ``fit`` does not tell a callback: where this
        process writes (a non-chief worker: a folder of its own), which of the run's
        callbacks set the learning rate, and its data stream's position."""
        self._argument, self._fine_tune = "checkpoint_dir", True
        self.write_dir = checkpoint_files.check_directory(write_dir, self._argument)
        self.rate_setters, self.data_position = list(rate_setters), data_position

    # ------------------------------------------------------------ finding and checking

    def _refuse(self, path, why):
        raise ValueError(
            f"`{self._argument}` holds a checkpoint that does not fit this run: {why}. "
            f"Received: {self._argument}={self.directory!r} (latest: {path}). Nothing was "
            "changed or overwritten. Use a new directory for a new model or selection, "
            "or the same model, layers, optimizer type and settings that wrote it.")

    def check(self, model, optimizer, variables):
        """Lock the directory, find the newest intact checkpoint and check that it fits.

        Changes nothing but the lock. Sets :attr:`restored` (None for a fresh
        directory) and returns it.

        Args:
          model: the model that trains.
          optimizer: its optimizer (built or not).
          variables: the variables that train.
        """
        if self._checked:
            return self.restored
        self.write_dir = self.write_dir or self.directory
        folder = os.path.realpath(self.write_dir)
        _free_after_a_failed_fit(folder)
        self._lock = checkpoint_files.Lock(self.write_dir, self._argument)
        self._lock.acquire()
        _HOLDERS[folder] = (self._lock, threading.get_ident(), self._fine_tune)
        try:
            self.config = checkpoint_files.signature(model, optimizer, variables, self.settings)
            self._model, self._optimizer, self._variables = model, optimizer, list(variables)
            self._check()
        except BaseException:
            self.release()
            raise
        self._checked = True
        return self.restored

    def _check(self):
        found = checkpoint_files.checkpoints(self.directory)
        self.path, self.damaged, self.restored = None, {}, None
        self.number = max(found, default=0)
        for number in sorted(found, reverse=True):
            why = checkpoint_files.damage(found[number])
            if why is None:
                self.path = found[number]
                break
            self.damaged[os.path.basename(found[number])] = why
        if not found:
            return
        if self.path is None:
            raise ValueError(
                f"`{self._argument}` holds checkpoints, and none of them can be read: "
                + "; ".join(f"{name} ({why})" for name, why in self.damaged.items())
                + f". Received: {self._argument}={self.directory!r}. Nothing was changed or "
                "overwritten. Move them away to start again, or restore them from a backup.")
        notes = [f"{name} is damaged ({why}), moved aside as {name}.*.damaged-N"
                 for name, why in self.damaged.items()]
        index = checkpoint_files.index_note(self.directory, self.path, self.damaged)
        if index:
            notes.append(index)
        if notes:
            warn(f"{self._argument} {self.directory!r}: {'; '.join(notes)}. Resuming from "
                 f"{os.path.basename(self.path)}, the newest intact checkpoint; no checkpoint "
                 "is overwritten.")
        reader = tf.train.load_checkpoint(self.path)
        try:
            saved = json.loads(reader.get_tensor(_CONFIG_KEY))
            state = json.loads(reader.get_tensor(_STATE_KEY))
        except (tf.errors.NotFoundError, ValueError, TypeError) as e:
            self._refuse(self.path, "it was not written by tapelab's BackupAndResume or "
                                    f"fine_tune ({type(e).__name__})")
        why = checkpoint_files.first_difference(saved, self.config, self._model)
        if why:
            self._refuse(self.path, why)
        self._saved_config = saved
        self.restored = Restored(state)

    # ------------------------------------------------------------ restoring

    def restore(self, epochs):
        """Restore the checked checkpoint into the model and the optimizer (built first).

        Moves damaged checkpoints aside first. A failed restore puts every
        variable back and refuses the checkpoint.

        Args:
          epochs: the epochs the run asks for (a warning says when the checkpoint
            already holds more).
        """
        if self._opened:
            return
        model, optimizer = self._model, self._optimizer
        if not optimizer.built:  # its slots must exist to be restored (and saved)
            optimizer.build(self._variables)
        if self.config["optimizer"][1] is None:  # unknown before the build: compare now
            self.config = checkpoint_files.signature(model, optimizer, self._variables,
                                                     self.settings)
            why = self.restored and checkpoint_files.first_difference(
                self._saved_config, self.config, model)
            if why:
                self._refuse(self.path, why)
        if self.restored is not None:
            for name in self.damaged:  # out of the way of this run's saves, never deleted
                checkpoint_files.move_aside(self.directory, name)
            if self.write_dir == self.directory and (
                    self.damaged or checkpoint_files.index_note(self.directory, self.path, {})):
                # the index lists the intact checkpoints only, newest last, so the manager
                # keeps max_to_keep good ones and never deletes one for a damaged one
                checkpoint_files.rewrite_index(self.directory, self.path)
        with tf.init_scope():
            self._state = tf.Variable("{}", trainable=False)
            self._stamp = tf.Variable(json.dumps(self.config), trainable=False)
        self.owned = list(model.variables) + list(optimizer.variables)
        self.checkpoint = tf.train.Checkpoint(
            model_variables=list(model.variables), optimizer_variables=list(optimizer.variables),
            state=self._state, config=self._stamp)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.write_dir,
                                                  max_to_keep=self.max_to_keep)
        self._opened, self._nan = True, False
        self.history = {}
        self._saved = None  # (epochs, status, digest of every variable) of the last save
        if self.restored is not None:
            asked = _learning_rate(optimizer)
            with undo_on_failure(self.owned):
                try:
                    self.checkpoint.restore(self.path).assert_existing_objects_matched()
                except (AssertionError, ValueError, tf.errors.OpError) as e:
                    self._refuse(self.path, f"restoring it failed: {type(e).__name__}: {e}")
            self.history = {k: list(v) for k, v in self.restored.history.items()}
            self._saved = (self.restored.epochs, self.restored.status, _digest(self.owned))
            self._warn_after_restore(asked, _learning_rate(optimizer), epochs)
        # the NaN rule watches what is finite now: a buffer that already holds -inf is
        # the model's own, not a training step's doing
        self._watched = _finite_floats(self.owned)

    def _warn_after_restore(self, asked, restored_rate, epochs):
        done, name = self.restored.epochs, self._argument
        if self.restored.status == "stopped":
            warn(f"{name} holds a run that stopped early after epoch {done} "
                 "(model.stop_training, set by a callback such as EarlyStopping): its final "
                 "weights are restored and nothing was trained. To train again, use a new "
                 f"{name}.")
        elif done > epochs:
            warn(f"{name} holds {done} finished epochs, more than epochs={epochs}: nothing "
                 f"was trained, and the model has the weights after epoch {done}.")
        if done >= epochs or self.restored.status == "stopped" or restored_rate is None \
                or asked is None or math.isclose(restored_rate, asked):
            return
        if self.rate_setters:
            what = (f"{', '.join(self.rate_setters)} then sets the rate at each epoch, as in "
                    "an uninterrupted run, so the run follows the schedule")
        elif self.rate_setters is None:
            what = ("the restored rate is used, unless a callback (LearningRateScheduler) "
                    "sets the rate at each epoch, as in an uninterrupted run")
        else:
            what = (f"the restored {restored_rate:g} is used, so the run continues as an "
                    "uninterrupted one would")
        warn(f"{name} restores the optimizer with learning_rate={restored_rate:g}; the "
             f"optimizer passed asked for {asked:g}: {what}. To go on at another rate, "
             f"train again with that optimizer and a new {name}: it starts from the "
             "model's weights as they are.")

    # ------------------------------------------------------------ saving

    def _not_finite(self):
        """What is not finite ("the loss", a variable's path), or None."""
        loss = self.history.get("loss", [])
        if loss and not math.isfinite(loss[-1]):
            return f"the loss ({loss[-1]})"
        for v in self._watched:
            if not bool(tf.reduce_all(tf.math.is_finite(v))):
                return f"the variable {getattr(v, 'path', v.name)}"
        return None

    def save(self, epochs_done, status):
        """Write one checkpoint: every variable, ``epochs_done``, the history, ``status``.

        Returns what is not finite, and writes nothing, when the loss or a watched
        variable is not; None once saved.
        """
        bad = self._not_finite()
        if bad:
            return bad
        position = self.data_position() if self.data_position else {}
        self._state.assign(json.dumps({"epochs": epochs_done, "history": self.history,
                                       "status": status, "data_position": position}))
        self.number += 1
        self.manager.save(checkpoint_number=self.number)
        self._saved = (epochs_done, status, _digest(self.owned))
        return None

    def release(self):
        """Let another run write the directory: ``fit`` does it at ``on_train_end``,
        ``fine_tune`` when it ends. (After a ``fit`` that raised, the next run in the
        same thread takes the lock over; this callback can also be used again.)"""
        if self._lock is not None:
            self._lock.release()
            folder = os.path.realpath(self.write_dir)
            if _HOLDERS.get(folder, (None,))[0] is self._lock:
                del _HOLDERS[folder]
        self._checked = self._opened = False

    # ------------------------------------------------------------ the hooks

    def on_train_begin(self, logs=None):
        if self._fine_tune:  # fine_tune checked and restored before its first hook
            return
        self.release()  # a fit of this callback that raised left it open: start anew
        model, optimizer = self.model, self.model.optimizer
        if optimizer is None:
            raise ValueError("BackupAndResume needs a compiled model (model.optimizer). "
                             "Received: a model without one. Call model.compile first.")
        if not model.built or not model.variables:
            raise ValueError(
                "BackupAndResume needs the model built before fit, to restore into its "
                f"variables (as Keras's BackupAndRestore does). Received: model "
                f"'{model.name}', not built. Build it first: call it on a batch "
                "(model(x[:1])), or start a Sequential model with keras.Input(shape).")
        self.write_dir = _write_dir(model.distribute_strategy, self.directory)
        self.settings = {**self.settings, "compiled loss": describe(getattr(model, "loss", None))}
        try:
            self.check(model, optimizer, model.trainable_variables)
            epochs = self.params.get("epochs", 0)
            self.restore(epochs)
        except BaseException:
            self.release()
            raise
        if self.restored is not None:
            done = self.restored.epochs
            _keras_internals.set_initial_epoch(
                model, epochs if self.restored.status == "stopped" else done)

    def on_epoch_begin(self, epoch, logs=None):
        if not self._fine_tune:  # fit read it before this hook: leave nothing behind
            _keras_internals.set_initial_epoch(self.model, None)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(_plain(value))
        stopped = bool(getattr(self.model, "stop_training", False))
        bad = self.save(epoch + 1, "stopped" if stopped else "running")
        if bad:
            self.model.stop_training, self._nan = True, True
            kept = (f"{os.path.basename(self.manager.latest_checkpoint)}, the last finite one"
                    if self.manager.latest_checkpoint else "no checkpoint")
            warn(f"Epoch {epoch + 1}: {bad} is not finite. Training stopped, as "
                 "TerminateOnNaN would, and no checkpoint was written: "
                 f"{self._argument} keeps {kept}. Lower the learning rate, or check the data.",
                 RuntimeWarning)

    def on_train_end(self, logs=None):
        try:
            if self._opened and self._saved is not None and not self._nan:
                # weights a callback changed after the last save (EarlyStopping's
                # restore_best_weights) are the run's result: record them too
                epochs, status, digest = self._saved
                if getattr(self.model, "stop_training", False):
                    status = "stopped"
                if _digest(self.owned) != digest or status != self._saved[1]:
                    self.save(epochs, status)
        finally:
            if not self._fine_tune:
                _keras_internals.set_initial_epoch(self.model, None)
                self.release()
