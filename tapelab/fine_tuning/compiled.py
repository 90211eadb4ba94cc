"""``fine_tune``'s compiled functions: the training step and the validation step.

The training step is :func:`tapelab.fine_tuning.step.train_step`, the function
``fine_tune_step`` runs eagerly, here inside one ``tf.function``; the validation
step is :func:`tapelab.fine_tuning.step.test_step`, ``fit``'s test step. Both
compute the loss with the one ``batch_loss``, and both return the batch's loss times its size,
the size, and the running metric results, summed over a strategy's replicas.
They are kept in one cache (tapelab/_cache.py) per model, so a later call that is
certainly the same (one epoch at a time, say) traces nothing again.
"""

import dataclasses
import functools
import weakref
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tapelab._cache import CompileCache
from tapelab.fine_tuning import compile_like
from tapelab.fine_tuning.distribute import global_step, replica_step
from tapelab.fine_tuning.step import test_step, train_step


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
        """The trackers' results as in ``fit``'s logs: a float each, or an array for a
        metric that gives a vector (``F1Score(average=None)``)."""
        logs = {}
        for tracker in self.trackers():
            value = tracker.result()
            logs.update({k: _logged(v) for k, v in value.items()} if isinstance(value, dict)
                        else {tracker.name: _logged(value)})
        return logs

    def reset(self):
        for tracker in self.trackers():
            tracker.reset_state()


def _logged(value):
    """A result as ``fit`` logs it (``Trainer._pythonify_logs``): a float if it is one."""
    value = np.asarray(value)
    return float(value) if value.ndim == 0 else value


def _train(forward_ref, step, *batch):
    return train_step(forward_ref(), step, *batch)  # forward held weakly: it may be the model


def _test(forward_ref, step, *batch):
    return test_step(forward_ref(), step, *batch)


def _build(config, forward, step, spec, batch_spec):
    strategy = config.strategy
    with strategy.scope():  # metric state lives on every replica, as under fit
        metrics = compile_like.metrics(config.metrics, config.model)
        try:  # symbolically, on the spec: no data runs, nothing changes
            compile_like.build(step.loss_fn, metrics, forward, batch_spec)
        except Exception as exc:  # noqa: BLE001 - the model's or loss's refusal, named
            shapes = [tuple(s.shape) for s in tf.nest.flatten(tuple(batch_spec)[:2])]
            raise ValueError(
                "`data` does not fit the model, its loss or its metrics: "
                f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}. Received: "
                f"batches of shapes {shapes} (inputs, then targets). Nothing was "
                "trained.") from None
    step = dataclasses.replace(step, metrics=metrics)
    ref = weakref.ref(forward)
    train = functools.partial(replica_step, functools.partial(_train, ref, step))
    test = functools.partial(replica_step, functools.partial(_test, ref, step))
    return Compiled(
        tf.function(functools.partial(global_step, strategy, train, metrics),
                    input_signature=spec),
        tf.function(functools.partial(global_step, strategy, test, metrics),
                    reduce_retracing=True),
        metrics, step.loss_fn)


STEPS = CompileCache(size=4)  # per model


def compiled(config, forward, step, spec, batch_spec=None):
    """The compiled steps, reused by later calls that are certainly the same.

    A trace bakes in Python state: the fields of the run's configuration that
    say so (:meth:`~tapelab.fine_tuning.config.RunConfig.trace_key`: the selected
    variables, ``training``, the loss and metrics the user passed, compared by the
    rule of tapelab/_cache.py, the optimizer, the strategy), and what the run
    adds: the layers' ``trainable`` flags (Keras reads them while tracing), the
    loss factor, the input signature and ``forward``. Any change makes a new one.

    Args:
      config: the :class:`~tapelab.fine_tuning.config.RunConfig`.
      forward: the model, or its head on cached features.
      step: a :class:`~tapelab.fine_tuning.step.Step` for this run.
      spec: the element spec of a training batch, as the step receives it
        (``PerReplica`` specs under a strategy with several replicas).
      batch_spec: the spec of one global batch, when ``spec`` is distributed.
    """
    flags = tuple(layer.trainable for layer in config.selection.tree)
    parts = (*config.trace_key(), step.loss_factor, flags, tuple(spec), forward)
    return STEPS.get(config.model, parts, functools.partial(
        _build, config, forward, step, list(spec), batch_spec or spec))
