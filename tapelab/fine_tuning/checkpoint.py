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
"""

import hashlib
import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from tapelab import _keras_internals
from tapelab._user_warnings import warn
from tapelab.fine_tuning import checkpoint_files
from tapelab.fine_tuning.distribute import checkpoint_write_dir as _write_dir
from tapelab.fine_tuning.undo import undo_on_failure

_STATE_KEY = "state/.ATTRIBUTES/VARIABLE_VALUE"
_CONFIG_KEY = "config/.ATTRIBUTES/VARIABLE_VALUE"


class Restored:
    """What a checkpoint holds besides the variables: the epochs done, the history, how
    the run ended ("running", "stopped" or "finished") and the loop's progress."""

    def __init__(self, state):
        self.epochs = int(state["epochs"])
        self.history = state["history"]
        self.status = state["status"]
        self.progress = state.get("progress") or {}


def _learning_rate(optimizer):
    """The optimizer's learning rate as a float, or None when it follows a schedule."""
    value = getattr(optimizer, "inner_optimizer", optimizer).get_config().get("learning_rate")
    if not isinstance(value, (int, float)):
        return None
    rate = optimizer.learning_rate
    return float(tf.convert_to_tensor(getattr(rate, "value", rate)))  # a mirrored one too


def _digest(variables):
    h = hashlib.blake2b(digest_size=16)
    for v in variables:
        h.update(np.ascontiguousarray(v.numpy()).tobytes())
    return h.hexdigest()


class BackupAndResume(keras.callbacks.Callback):
    """Save the whole training state after each epoch; resume exactly after a restart.

    Put it last in ``callbacks`` (after ``EarlyStopping``, so the final weights
    it records are the ones that callback restores). Called again with the same
    directory, ``fit`` restores the newest intact checkpoint and goes on after
    its last finished epoch; a run that stopped early is not trained further
    (its final weights are restored). Use a new directory for a new run.

    Args:
      directory: the checkpoint directory, created if needed; one run writes it at a time.
      settings: optional JSON-serialisable values that must be equal to resume
        (``{"batch_size": 32}``); a checkpoint written with others is refused.
      max_to_keep: how many checkpoints to keep (at least 2: one to resume
        from, one in case it turns out damaged).

    >>> import keras, numpy as np, tempfile
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
        self._argument = "directory"
        self.directory = checkpoint_files.check_directory(directory, self._argument)
        if settings is not None:
            try:
                settings = json.loads(json.dumps(settings))
            except (TypeError, ValueError) as e:
                raise TypeError("`settings` must be a JSON-serialisable dict. Received: "
                                f"settings={settings!r} ({e}).") from None
            if not isinstance(settings, dict):
                raise TypeError(f"`settings` must be a dict. Received: settings={settings!r}.")
        self.settings = settings or {}
        if isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int) or max_to_keep < 2:
            raise ValueError("`max_to_keep` must be an integer >= 2 (one checkpoint to "
                             "resume from, one in case it is damaged). Received: "
                             f"max_to_keep={max_to_keep!r}.")
        self.max_to_keep = max_to_keep
        self.write_dir = self.directory  # a non-chief worker writes a private copy
        self.restored = None  # a Restored, once checked; None for a fresh directory
        self.rate_setters = None  # fine_tune: the callbacks that set the learning rate
        self.progress = None  # fine_tune: a function giving the loop's progress to save
        self._checked = self._opened = False
        self._lock = None
        self._fit = False  # driven by fit: on_train_begin checks and restores

    def configure_for_fine_tune(self, write_dir, rate_setters):
        """What ``fine_tune`` knows that ``fit`` does not tell a callback: where this
        process writes (a non-chief worker: a folder of its own, checked now), and
        which of the run's callbacks set the learning rate (named in a warning)."""
        self._argument = "checkpoint_dir"
        self.write_dir = checkpoint_files.check_directory(write_dir, self._argument)
        self.rate_setters = list(rate_setters)

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
        self._lock = checkpoint_files.Lock(self.write_dir)
        self._lock.acquire()
        try:
            self.config = checkpoint_files.signature(model, optimizer, variables, self.settings)
            self._model, self._optimizer, self._variables = model, optimizer, list(variables)
            self._check()
        except BaseException:
            self._lock.release()
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
        index = self._index_note()
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
        self.restored = Restored(state)

    def _index_note(self):
        """What is wrong with the ``checkpoint`` index, in words, or None."""
        if not os.path.exists(os.path.join(self.directory, "checkpoint")):
            return "its index file 'checkpoint' is missing"
        state = tf.train.get_checkpoint_state(self.directory)
        if state is None:
            return "its index file 'checkpoint' cannot be read"
        name = os.path.basename(state.model_checkpoint_path)
        if name == os.path.basename(self.path) or name in self.damaged:
            return None
        if not os.path.exists(os.path.join(self.directory, name + ".index")):
            return f"its index points at {name}, which is missing"
        return f"its index points at {name}, older than {os.path.basename(self.path)}"

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
        if self.restored is not None:
            for name in self.damaged:  # out of the way of this run's saves, never deleted
                checkpoint_files.move_aside(self.directory, name)
            if self.write_dir == self.directory and (self.damaged or self._index_note()):
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
        self._opened = True
        self.history, self._nan = {}, False
        self._saved = None  # (epochs, status, digest of every variable) of the last save
        if self.restored is None:
            return
        asked = _learning_rate(optimizer)
        with undo_on_failure(self.owned):
            try:
                self.checkpoint.restore(self.path).assert_existing_objects_matched()
            except (AssertionError, ValueError, tf.errors.OpError) as e:
                self._refuse(self.path, f"restoring it failed: {type(e).__name__}: {e}")
        self.history = {k: list(v) for k, v in self.restored.history.items()}
        self._saved = (self.restored.epochs, self.restored.status, _digest(self.owned))
        self._warn_after_restore(asked, _learning_rate(optimizer), epochs)

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

    def _finite(self):
        return all(bool(tf.reduce_all(tf.math.is_finite(v)))
                   for v in self.owned if tf.as_dtype(v.dtype).is_floating)

    def save(self, epochs_done, status):
        """Write one checkpoint: every variable, ``epochs_done``, the history, ``status``.

        Returns False, and writes nothing, when the loss or a variable is not finite.
        """
        if not (all(math.isfinite(v) for v in self.history.get("loss", [])) and self._finite()):
            return False
        progress = self.progress() if self.progress else {}
        self._state.assign(json.dumps({"epochs": epochs_done, "history": self.history,
                                       "status": status, "progress": progress}))
        self.number += 1
        self.manager.save(checkpoint_number=self.number)
        self._saved = (epochs_done, status, _digest(self.owned))
        return True

    def release(self):
        """Let another run write the directory (fine_tune calls it when it ends)."""
        if self._lock is not None:
            self._lock.release()
        self._checked = self._opened = False

    # ------------------------------------------------------------ the hooks

    def on_train_begin(self, logs=None):
        if self._opened:  # fine_tune checked and restored before its first hook
            return
        self._fit = True
        model, optimizer = self.model, self.model.optimizer
        if optimizer is None:
            raise ValueError("BackupAndResume needs a compiled model (model.optimizer). "
                             "Received: a model without one. Call model.compile first.")
        try:
            if self.write_dir == self.directory:  # a non-chief worker writes a folder of its own
                self.write_dir = checkpoint_files.check_directory(
                    _write_dir(model.distribute_strategy, self.directory), self._argument)
            self.check(model, optimizer, model.trainable_variables)
            epochs = self.params.get("epochs", 0)
            self.restore(epochs)
        except BaseException:
            self.release()
            raise
        if self.restored is not None:
            done = self.restored.epochs
            start = epochs if self.restored.status == "stopped" else done
            _keras_internals.set_initial_epoch(model, start)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        stopped = bool(getattr(self.model, "stop_training", False))
        if not self.save(epoch + 1, "stopped" if stopped else "running"):
            self.model.stop_training = True
            self._nan = True
            kept = (f"{os.path.basename(self.manager.latest_checkpoint)}, the last finite one"
                    if self.manager.latest_checkpoint else "no checkpoint")
            warn(f"Epoch {epoch + 1}: the loss or a weight is not finite (loss "
                 f"{(logs or {}).get('loss')}). Training stopped, as TerminateOnNaN would, and "
                 f"no checkpoint was written: {self._argument} keeps {kept}. Lower the "
                 "learning rate, or check the data.", RuntimeWarning)

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
            if self._fit:
                _keras_internals.set_initial_epoch(self.model, None)
                self.release()
