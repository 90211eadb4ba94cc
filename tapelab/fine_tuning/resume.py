"""Checkpoint and resume for ``fine_tune``: one atomic checkpoint per finished epoch.

A checkpoint holds every variable of the model (weights, BatchNormalization
statistics, random-seed counters), every variable of the optimizer (step count,
slots), the number of finished epochs, the history so far, and a description of
the model it belongs to. ``tf.train.CheckpointManager`` writes each one to new
files and only then points the directory's ``checkpoint`` file at it, so a
process killed at any moment leaves the previous checkpoint intact.
"""

import json

import numpy as np
import tensorflow as tf

FORMAT = "tapelab.fine_tune/1"
_CONFIG_KEY = "config/.ATTRIBUTES/VARIABLE_VALUE"


def _signature(model, optimizer, variables):
    """What a checkpoint must match: shapes and dtypes, in order (paths hold
    auto-numbered names, which differ between two builds of one model)."""
    where = {id(v): i for i, v in enumerate(model.variables)}
    return {
        "format": FORMAT,
        "model": [[list(v.shape), v.dtype] for v in model.variables],
        "selected": [where[id(v)] for v in variables],
        "optimizer": [type(optimizer).__name__,
                      [[list(v.shape), v.dtype] for v in optimizer.variables]],
    }


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
    return None


class Resume:
    """The checkpoint of one ``fine_tune`` run in ``directory``."""

    def __init__(self, directory, selection, optimizer, write_dir=None):
        model = selection.model
        self.directory = str(directory)
        self.model = model
        self.config = _signature(model, optimizer, selection.variables)
        self.owned = list(model.variables) + list(optimizer.variables)
        with tf.init_scope():
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
            self.history = tf.Variable("{}", trainable=False)
            self.stamp = tf.Variable(json.dumps(self.config), trainable=False)
        checkpoint = tf.train.Checkpoint(
            model_variables=list(model.variables),
            optimizer_variables=list(optimizer.variables),
            epoch=self.epoch, history=self.history, config=self.stamp)
        # a non-chief worker of a multi-worker run writes to a private folder
        self.manager = tf.train.CheckpointManager(checkpoint, str(write_dir or directory),
                                                  max_to_keep=2)
        self.checkpoint = checkpoint

    def _refuse(self, path, why):
        raise ValueError(
            f"`checkpoint_dir` holds a checkpoint that does not fit this run: {why}. "
            f"Received: checkpoint_dir={self.directory!r} (latest: {path}). Nothing was "
            "changed or overwritten. Use a new directory for a new model or selection, "
            "or the same model, layers and optimizer type that wrote it."
        )

    def restore(self):
        """Load the latest checkpoint, if any. Returns ``(epochs_done, history)``.

        A checkpoint written for another model, selection or optimizer raises
        ``ValueError`` before any variable changes.
        """
        path = tf.train.latest_checkpoint(self.directory)
        if path is None:
            return 0, {}
        try:
            saved = json.loads(tf.train.load_variable(path, _CONFIG_KEY))
        except (tf.errors.NotFoundError, ValueError, TypeError) as e:
            self._refuse(path, f"it was not written by tapelab.fine_tune ({type(e).__name__})")
        why = _first_difference(saved, self.config, self.model)
        if why:
            self._refuse(path, why)
        before = [np.array(v.numpy(), copy=True) for v in self.owned]
        try:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:  # undo a partial restore
            for v, value in zip(self.owned, before):
                v.assign(value)
            self._refuse(path, f"restoring it failed: {type(e).__name__}: {e}")
        return int(self.epoch.numpy()), json.loads(self.history.numpy().decode())

    def save(self, epochs_done, history):
        """Write one checkpoint: all variables, ``epochs_done`` and ``history``."""
        self.epoch.assign(epochs_done)
        self.history.assign(json.dumps(history))
        self.manager.save(checkpoint_number=epochs_done)
