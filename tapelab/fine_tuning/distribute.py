"""``fine_tune`` under a ``tf.distribute.Strategy``: checks, input splitting, and all of
the weighting of the loss across replicas.

Weighting, in one place: each replica's loss is multiplied by its share of the
global batch (:func:`replica_share`), after undoing Keras's own division by the
number of replicas where ``loss_fn`` does that (:func:`loss_factor`); the summed
gradients are then those of the global mean, as on one device. The step's
epoch-mean bookkeeping (:func:`replica_step`, :func:`global_step`) sums losses
times batch sizes across the replicas.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tapelab import _keras_internals


def multi_worker(strategy):
    """Whether ``strategy`` spans several worker processes (MultiWorkerMirroredStrategy)."""
    return _keras_internals.in_multi_worker_mode(strategy)


def replica_share(loss, x):
    """This replica's share of the global batch's loss: ``loss * n_replica / n_global``.

    Summed over the replicas (``apply_gradients`` all-reduces the gradients with
    SUM), the shares give the gradient of the mean over the global batch, even
    when the replicas got unequal parts. With one replica it is ``loss``.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return loss
    n = tf.cast(tf.shape(tf.nest.flatten(x)[0])[0], loss.dtype)
    return loss * n / context.all_reduce(tf.distribute.ReduceOp.SUM, n)


def replica_step(run, *batch):
    """On one replica: ``run(*batch)`` (a training or a test step), and its loss times
    its batch size. ``batch`` is ``(x, y)`` or ``(x, y, sample_weight)``."""
    loss = tf.cast(run(*batch), tf.float32)
    n = tf.cast(tf.shape(tf.nest.flatten(batch[0])[0])[0], tf.float32)
    return loss * n, n


def global_step(strategy, replica, metrics, *batch):
    """One global batch: ``strategy.run`` splits it; the sums of loss x size and size
    come back reduced over the replicas, with the running ``metrics`` results
    (a dict, empty for None)."""
    total, n = strategy.run(replica, args=batch)
    sum_ = tf.distribute.ReduceOp.SUM
    results = metrics.result() if metrics is not None else {}
    return strategy.reduce(sum_, total, axis=None), strategy.reduce(sum_, n, axis=None), results


def check_strategy(strategy, model, variables, optimizer):
    """The strategy to run under (the default one for None), after checking that the
    model and the optimizer were created in its scope. Raises before any change."""
    default = tf.distribute.get_strategy()  # the default one when no scope is open
    distributed = [v.path for v in model.weights
                   if isinstance(v.value, tf.distribute.DistributedValues)
                   or not default.extended.variable_created_in_scope(v.value)]
    if strategy is None:
        if distributed:
            raise ValueError(
                "`model` was built under a tf.distribute strategy's scope, so "
                "`strategy` must be that strategy. Received: strategy=None. Pass "
                "strategy=<the strategy whose scope built the model>.")
        return tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError("`strategy` must be a tf.distribute.Strategy, e.g. "
                        f"tf.distribute.MirroredStrategy(). Received: {type(strategy).__name__}.")
    outside = [v.path for v in variables if not strategy.extended.variable_created_in_scope(v.value)]
    if outside:
        raise ValueError(
            "`model` must be built under `strategy.scope()`, so that its variables live "
            f"on every replica. Received: {len(outside)} selected variable(s) created "
            f"outside it, e.g. {outside[0]}. Create the model and the optimizer inside "
            "`with strategy.scope():`.")
    if _keras_internals.optimizer_strategy(optimizer, strategy) is not strategy:
        raise ValueError("`optimizer` must be created under `strategy.scope()`. Received: "
                         "an optimizer created outside it. Create it inside "
                         "`with strategy.scope():`.")
    return strategy


def loss_factor(strategy, loss_fn, forward, batches):
    """What undoes Keras's own scaling of ``loss_fn`` under ``strategy``: 1 or replicas.

    A Keras ``Loss`` that averages divides its value by the number of replicas
    when it runs on one of them (``fit`` expects that); a plain function does not,
    and a function may call a ``Loss`` inside. So measure it: the same loss on
    the same two examples, once as is and once on each replica.
    """
    replicas = strategy.num_replicas_in_sync
    batch = next(iter(batches()), None) if replicas > 1 else None  # batches: a callable
    if batch is None:
        return 1
    x, y = (tf.nest.map_structure(lambda t: t[:2], part) for part in batch[:2])
    pred = forward(x, training=False)
    plain = float(loss_fn(y, pred))
    if plain == 0:  # a zero loss cannot tell; Keras's rule then
        mean = isinstance(loss_fn, keras.losses.Loss) and loss_fn.reduction in (
            "sum_over_batch_size", "mean", "mean_with_sample_weight")
        return replicas if mean else 1
    local = strategy.experimental_local_results(strategy.run(lambda: loss_fn(y, pred)))
    for factor in (1, replicas):
        if all(np.isclose(float(v) * factor, plain, rtol=1e-5, atol=1e-12) for v in local):
            return factor
    raise ValueError(
        "`loss_fn` must give the same value on a replica as outside the strategy, or "
        "that value divided by the number of replicas (as Keras Loss objects do). "
        f"Received: {plain} outside and {[float(v) for v in local]} on the "
        f"{replicas} replicas. Make loss_fn a plain function of (y_true, y_pred).")


def distribute(strategy, dataset):
    """``dataset`` of global batches, split across the replicas (and workers, by
    data: every worker builds the same dataset and takes its part of each batch)."""
    if not multi_worker(strategy) and strategy.num_replicas_in_sync == 1:
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def checkpoint_write_dir(strategy, directory):
    """Where this process writes its checkpoints.

    Saving is collective under a multi-worker strategy, so every worker saves;
    the chief (task "chief", or worker 0) writes to ``directory``, the others to a
    private folder inside it, which nobody reads. Every worker restores from
    ``directory``, so it must be on a file system all workers share.
    """
    if not multi_worker(strategy):
        return directory
    resolver = strategy.cluster_resolver
    kind, index = resolver.task_type, resolver.task_id
    chief = kind == "chief" or (kind == "worker" and index == 0
                                and "chief" not in resolver.cluster_spec().as_dict())
    return directory if chief else os.path.join(str(directory), f".{kind}-{index}")
