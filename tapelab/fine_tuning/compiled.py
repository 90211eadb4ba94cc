"""``fine_tune``'s compiled functions: the training step and the validation step.

The training step is :func:`tapelab.fine_tuning.step.train_step`, the function
``fine_tune_step`` runs eagerly, here inside one ``tf.function``; the validation
step is ``fit``'s test step (``model(x, training=False)``, the loss with the
model's regularisers, the metrics). Both return the batch's loss times its size,
the size, and the running metric results, summed over a strategy's replicas.
They are kept in one cache (tapelab/_cache.py) per model, so a later call that is
certainly the same (one epoch at a time, say) traces nothing again.
"""

import dataclasses
import functools
import weakref
from dataclasses import dataclass

import tensorflow as tf

from tapelab._cache import CompileCache
from tapelab.fine_tuning import compile_like
from tapelab.fine_tuning.distribute import global_step, replica_step
from tapelab.fine_tuning.step import total_loss, train_step


@dataclass
class Compiled:
    """The compiled steps of one ``fine_tune`` setup, and the metrics they update."""

    train: object
    evaluate: object
    metrics: object  # CompileMetrics or None
    loss: object  # the CompileLoss the steps use (its per-output losses are metrics)

    def trackers(self):
        """What ``fit`` resets each epoch and reports: the metrics, then the per-output
        losses (``cls_loss``) that Keras's loss tracks for a model with several outputs."""
        return ([] if self.metrics is None else [self.metrics]) + list(self.loss.metrics)

    def results(self):
        """The trackers' results as ``{name: float}``, as in ``fit``'s logs."""
        logs = {}
        for tracker in self.trackers():
            value = tracker.result()
            logs.update({k: float(v) for k, v in value.items()} if isinstance(value, dict)
                        else {tracker.name: float(value)})
        return logs

    def reset(self):
        for tracker in self.trackers():
            tracker.reset_state()


def _train(forward_ref, step, *batch):
    return train_step(forward_ref(), step, *batch)  # forward held weakly: it may be the model


def _test(forward_ref, loss_fn, factor, metrics, x, y, sample_weight=None):
    """``fit``'s test step: inference mode, the loss with the regularisers, the metrics."""
    forward = forward_ref()
    y_pred = forward(x, training=False)
    loss = loss_fn(y, y_pred, sample_weight)
    if factor != 1:  # undo Keras's 1/replicas, as in the training step
        loss = loss * tf.cast(factor, loss.dtype)
    loss = total_loss(forward, loss)
    if metrics is not None:
        metrics.update_state(y, y_pred, sample_weight)
    return loss


def _build(forward, step, metric_list, model, strategy, spec, batch_spec):
    with strategy.scope():  # metric state lives on every replica, as under fit
        metrics = compile_like.metrics(metric_list, model)
        compile_like.build(step.loss_fn, metrics, forward, batch_spec)
    step = dataclasses.replace(step, metrics=metrics)
    ref = weakref.ref(forward)
    train = functools.partial(replica_step, functools.partial(_train, ref, step))
    test = functools.partial(replica_step, functools.partial(
        _test, ref, step.loss_fn, step.loss_factor, metrics))
    return Compiled(
        tf.function(functools.partial(global_step, strategy, train, metrics),
                    input_signature=spec),
        tf.function(functools.partial(global_step, strategy, test, metrics),
                    reduce_retracing=True),
        metrics, step.loss_fn)


STEPS = CompileCache(size=4)  # per model


def compiled(selection, forward, step, raw_loss, metric_list, strategy, spec, batch_spec=None):
    """The compiled steps, reused by later calls that are certainly the same.

    A trace bakes in Python state: the objects (``raw_loss``, the user's loss, by
    the rule of tapelab/_cache.py: a built-in Keras loss by class and config, a
    function by what it reads; metric names by value, metric objects by
    identity), the layers' ``trainable`` flags (Keras reads them while tracing),
    the input signature. Any change makes a new one.

    Args:
      selection: the resolved selection.
      forward: the model, or its head on cached features.
      step: a :class:`~tapelab.fine_tuning.step.Step` whose ``loss_fn`` is the
        compile-style loss of ``raw_loss``.
      raw_loss: the ``loss_fn`` the user passed (the cache key).
      metric_list: the ``metrics`` the user passed.
      strategy: the ``tf.distribute`` strategy.
      spec: the element spec of a training batch, as the step receives it
        (``PerReplica`` specs under a strategy with several replicas).
      batch_spec: the spec of one global batch, when ``spec`` is distributed.
    """
    flags = tuple(layer.trainable for layer in selection.tree)
    metric_key = metric_list if not isinstance(metric_list, list) else tuple(metric_list)
    parts = (tuple(step.variables), step.training, step.loss_factor, flags, tuple(spec),
             forward, raw_loss, metric_key, step.optimizer, strategy)
    return STEPS.get(selection.model, parts, functools.partial(
        _build, forward, step, metric_list, selection.model, strategy, list(spec),
        batch_spec or spec))
