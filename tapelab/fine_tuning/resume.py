"""Checkpoint and resume for ``fine_tune``: one atomic checkpoint per finished epoch.

A checkpoint holds every variable of the model (weights, BatchNormalization
statistics, random-seed counters), every variable of the optimizer (step count,
learning rate, slots), the number of finished epochs, the history so far, and a
signature: the model's and optimizer's shapes, the selection, and the run's
settings (``seed``, ``batch_size``, ``shuffle``). ``tf.train.CheckpointManager``
writes each one to new files and only then points the directory's ``checkpoint``
index at it, so a process killed at any moment leaves the previous one intact.

What it promises (each tested in ``tests/test_resume.py``):

- a checkpoint that does not fit this run (another model, selection, optimizer
  type or setting) is refused before anything changes, naming the difference;
- a damaged or missing index, or a damaged newest checkpoint, never restarts the
  run from scratch over good checkpoints: the newest intact checkpoint is
  restored, with a warning naming what was damaged;
- a directory that cannot be written is refused before the first step, and so
  is ``""``;
- one writer at a time: a lock file holds the writer's host and PID; a second
  writer is refused, a lock left by a dead process is taken over;
- a state that is not finite is never saved over the last finite one
  (``fine_tune`` stops, as ``TerminateOnNaN`` would).
"""

import json
import math
import os
import re
import warnings

import numpy as np
import tensorflow as tf

from tapelab.fine_tuning.checkpoint_dir import Lock

FORMAT = "tapelab.fine_tune/1"
_CONFIG_KEY = "config/.ATTRIBUTES/VARIABLE_VALUE"
_CHECKPOINT = re.compile(r"^ckpt-(\d+)\.index$")


def _signature(model, optimizer, optimizer_variables, variables, settings):
    """What a checkpoint must match: shapes and dtypes, in order (paths hold
    auto-numbered names, which differ between two builds of one model), the
    optimizer's hyperparameters (its learning rate aside: restored, and reported
    when it differs), and the settings that fix the batches of each epoch."""
    where = {id(v): i for i, v in enumerate(model.variables)}
    config = {k: v for k, v in getattr(optimizer, "inner_optimizer", optimizer).get_config().items()
              if k not in ("name", "learning_rate")}
    return {
        "format": FORMAT,
        "model": [[list(v.shape), v.dtype] for v in model.variables],
        "selected": [where[id(v)] for v in variables],
        "optimizer": [type(optimizer).__name__,
                      [[list(v.shape), v.dtype] for v in optimizer_variables]],
        "optimizer_config": json.loads(json.dumps(config, sort_keys=True, default=str)),
        "settings": settings,
    }


def _optimizer_variables(optimizer, variables):
    """The optimizer's variables, or those it will have, without building it."""
    if optimizer.built:
        return list(optimizer.variables)
    probe = type(optimizer).from_config(optimizer.get_config())
    probe.build(variables)
    return list(probe.variables)


def _first_difference(saved, own, model):
    """A sentence naming the first thing in ``saved`` that ``own`` does not match."""
    if saved.get("format") != FORMAT:
        return f"it is in format {saved.get('format')!r}, not {FORMAT!r}"
    if saved["optimizer"][0] != own["optimizer"][0]:
        return (f"it was written with optimizer {saved['optimizer'][0]}, this run has "
                f"{own['optimizer'][0]}")
    paths = [v.path for v in model.variables]
    for what, a, b in (("model variables", saved["model"], own["model"]),
                       ("selected variables", saved["selected"], own["selected"]),
                       ("optimizer variables", saved["optimizer"][1], own["optimizer"][1])):
        if len(a) != len(b):
            return f"it holds {len(a)} {what}, this run has {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                name = f" ({paths[i]})" if what == "model variables" else ""
                return f"its {what} differ at #{i}{name}: {x} there, {y} here"
    for name, value in saved.get("optimizer_config", {}).items():
        if own["optimizer_config"].get(name) != value:
            return (f"its optimizer had {name}={value!r}, this run's has "
                    f"{name}={own['optimizer_config'].get(name)!r}")
    for name, value in saved.get("settings", {}).items():
        if own["settings"].get(name) != value:
            return (f"it was written with {name}={value!r}, this run has "
                    f"{name}={own['settings'].get(name)!r}, so its epochs would see other "
                    "data or batches than an uninterrupted run")
    return None


def _damage(prefix):
    """Why the checkpoint at ``prefix`` cannot be read in full, or None if it can."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)  # reads the .data file: a truncated one fails here
    except Exception as e:  # noqa: BLE001 - any failure to read is damage to report
        return f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"
    return None


class Resume:
    """The checkpoints of one ``fine_tune`` run in ``directory``."""

    def __init__(self, directory, selection, optimizer, settings, write_dir=None):
        model = selection.model
        self.directory = str(directory)
        self.model, self.optimizer = model, optimizer
        self.config = _signature(model, optimizer,
                                 _optimizer_variables(optimizer, selection.variables),
                                 selection.variables, settings)
        self.write_dir = str(write_dir or directory)
        self.lock = Lock(self.write_dir)
        self.path = None  # the checkpoint to restore, once checked
        self.damaged = {}

    def _refuse(self, path, why):
        raise ValueError(
            f"`checkpoint_dir` holds a checkpoint that does not fit this run: {why}. "
            f"Received: checkpoint_dir={self.directory!r} (latest: {path}). Nothing was "
            "changed or overwritten. Use a new directory for a new model or selection, "
            "or the same model, layers, optimizer type and settings that wrote it."
        )

    def check(self):
        """Find the checkpoint to resume from and check that it fits; change nothing.

        Takes the directory's lock. Returns ``(epochs_done, history)``: ``(0, {})``
        for a fresh directory.
        """
        self.lock.acquire()
        try:
            return self._check()
        except BaseException:
            self.lock.release()
            raise

    def _index_note(self, restored, damaged):
        """What is wrong with the ``checkpoint`` index, in words, or None."""
        index = os.path.join(self.directory, "checkpoint")
        if not os.path.exists(index):
            return "its index file 'checkpoint' is missing"
        state = tf.train.get_checkpoint_state(self.directory)
        if state is None:
            return "its index file 'checkpoint' cannot be read"
        name = os.path.basename(state.model_checkpoint_path)
        if name == os.path.basename(restored) or name in damaged:
            return None
        if not os.path.exists(os.path.join(self.directory, name + ".index")):
            return f"its index points at {name}, which is missing"
        return f"its index points at {name}, older than {os.path.basename(restored)}"

    def _check(self):
        found = {int(m[1]): os.path.join(self.directory, f"ckpt-{m[1]}")
                 for m in map(_CHECKPOINT.match, os.listdir(self.directory)) if m}
        if not found:
            return 0, {}
        self.damaged = {}  # name -> why
        for number in sorted(found, reverse=True):
            why = _damage(found[number])
            if why is None:
                self.path = found[number]
                break
            self.damaged[os.path.basename(found[number])] = why
        else:
            raise ValueError(
                "`checkpoint_dir` holds checkpoints, and none of them can be read: "
                + "; ".join(f"{name} ({why})" for name, why in self.damaged.items())
                + f". Received: checkpoint_dir={self.directory!r}. Nothing was changed or "
                "overwritten. Move them away to start again, or restore them from a backup.")
        notes = [f"{name} is damaged ({why}), kept as {name}.*.damaged"
                 for name, why in self.damaged.items()]
        index = self._index_note(self.path, self.damaged)
        if index:
            notes.append(index)
        if notes:
            warnings.warn(
                f"checkpoint_dir {self.directory!r}: {'; '.join(notes)}. Resuming from "
                f"{os.path.basename(self.path)}, the newest intact checkpoint; no checkpoint "
                "is overwritten.", UserWarning, stacklevel=4)
        try:
            saved = json.loads(tf.train.load_variable(self.path, _CONFIG_KEY))
        except (tf.errors.NotFoundError, ValueError, TypeError) as e:
            self._refuse(self.path, f"it was not written by tapelab.fine_tune ({type(e).__name__})")
        why = _first_difference(saved, self.config, self.model)
        if why:
            self._refuse(self.path, why)
        reader = tf.train.load_checkpoint(self.path)
        epochs = int(reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE"))
        history = json.loads(reader.get_tensor("history/.ATTRIBUTES/VARIABLE_VALUE"))
        return epochs, history

    def open(self):
        """Build what saving needs (the optimizer must be built) and restore the checked
        checkpoint, if any, after moving its damaged successors aside."""
        with tf.init_scope():
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
            self.history = tf.Variable("{}", trainable=False)
            self.stamp = tf.Variable(json.dumps(self.config), trainable=False)
        self.owned = list(self.model.variables) + list(self.optimizer.variables)
        self.checkpoint = tf.train.Checkpoint(
            model_variables=list(self.model.variables),
            optimizer_variables=list(self.optimizer.variables),
            epoch=self.epoch, history=self.history, config=self.stamp)
        # a non-chief worker of a multi-worker run writes to a private folder
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.write_dir,
                                                  max_to_keep=2)
        if self.path is None:
            return
        for name in self.damaged:  # out of the way of this run's saves, never deleted
            for file in os.listdir(self.directory):
                if file.startswith(name + "."):
                    os.replace(os.path.join(self.directory, file),
                               os.path.join(self.directory, file + ".damaged"))
        before = [np.array(v.numpy(), copy=True) for v in self.owned]
        try:
            self.checkpoint.restore(self.path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:  # undo a partial restore
            for v, value in zip(self.owned, before):
                v.assign(value)
            self._refuse(self.path, f"restoring it failed: {type(e).__name__}: {e}")

    def save(self, epochs_done, history):
        """Write one checkpoint: all variables, ``epochs_done`` and ``history``.

        Returns False, and writes nothing, when the loss or a variable is not
        finite: the last finite checkpoint is kept.
        """
        if not (all(map(math.isfinite, history.get("loss", []))) and self._finite()):
            return False
        self.epoch.assign(epochs_done)
        self.history.assign(json.dumps(history))
        self.manager.save(checkpoint_number=epochs_done)
        return True

    def _finite(self):
        return all(bool(tf.reduce_all(tf.math.is_finite(v)))
                   for v in self.owned if tf.as_dtype(v.dtype).is_floating)

    def close(self):
        self.lock.release()
