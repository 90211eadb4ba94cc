"""The loss, metrics and optimizer of a step, taken as ``model.compile`` takes them.

A user coming from ``fit`` writes ``loss="sparse_categorical_crossentropy"``,
``metrics=["accuracy"]``, ``optimizer="adam"``, passes integer labels of shape
``(n,)`` to a model with outputs of shape ``(n, 1)``, or a plain function of
``(y_true, y_pred)``. ``compile`` wraps all of these in Keras's own objects, and
so does tapelab, with the same objects (``CompileLoss``, ``CompileMetrics``:
tapelab/_keras_internals.py), so the loss is ``fit``'s to the last op:

- names resolve as in ``compile`` (``"mse"``, ``"adam"``);
- a plain function is wrapped in ``LossFunctionWrapper``: ``y_true`` is cast to
  the prediction's dtype, its rank is matched to ``y_pred``'s (squeeze or expand
  the last axis: ``(n,)`` against ``(n, 1)`` does not broadcast to ``(n, n)``),
  sample weights apply, and a per-example result is averaged over the batch;
- ``"accuracy"`` becomes the binary, sparse or categorical accuracy by the shapes.
"""

from __future__ import annotations

import functools
import json
import weakref

import keras
import tensorflow as tf

from tapelab import _keras_internals


def check_tensor(value):
    """Refuse a loss value no tape can differentiate: not a TF tensor."""
    if not tf.is_tensor(value) or isinstance(value, keras.KerasTensor):
        raise TypeError(
            "`loss_fn` must return a tensor computed with TensorFlow or keras.ops "
            f"from y_pred. Received: {type(value).__name__} {value!r}. A Python or "
            "NumPy number carries no gradient: compute the loss with TF ops, or use a "
            "keras.losses.Loss object such as keras.losses.MeanSquaredError().")


def check_floating(value):
    """Refuse a loss value of an integer or boolean dtype."""
    if not value.dtype.is_floating:
        raise TypeError(f"`loss_fn` must return a floating-point loss. Received: dtype "
                        f"{value.dtype.name}. Cast it, e.g. tf.cast(loss, tf.float32).")


def _checked(fn, y_true, y_pred, **kwargs):
    """``fn(y_true, y_pred)``, refusing a value no tape can differentiate."""
    value = fn(y_true, y_pred, **kwargs)
    check_tensor(value)
    check_floating(value)
    return value


class WholeOutputLoss:
    """A plain function of ``(y_true, outputs)`` for a model with several outputs.

    ``compile`` would apply one function to each output separately; a function
    written for the whole structure (``outputs["used"]``) gets it whole, as
    ``fine_tune_step``'s loss always did. Its result is averaged to a scalar.
    """

    built = True
    metrics = ()  # no per-output losses to report

    def __init__(self, fn):
        self.fn = fn

    def build(self, y_true, y_pred):
        pass

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "`sample_weight` needs a loss that compile can apply per output. Received: "
                "a function of the whole output structure. Pass a dict of losses, one "
                "per output, or weight inside the function.")
        value = _checked(self.fn, y_true, y_pred)
        return tf.reduce_mean(value) if value.shape.rank != 0 else value


def _several_outputs(model):
    outputs = getattr(model, "outputs", None)
    return outputs is not None and len(tf.nest.flatten(outputs)) > 1


def _by_name(get, name, argument, accepted, example):
    """``get(name)`` (``keras.losses.get``, ``keras.optimizers.get``), or our error
    naming the argument when Keras does not know the name."""
    try:
        return get(name)
    except ValueError:
        raise ValueError(
            f"`{argument}` must be {accepted}, e.g. {example}. Received: "
            f"{argument}={name!r}, which Keras does not know.") from None


def _output_names(model):
    return getattr(model, "output_names", None)


def loss(loss_fn, model):
    """``loss_fn`` as ``model.compile(loss=loss_fn)`` would use it.

    Args:
      loss_fn: a ``keras.losses.Loss``, a function of ``(y_true, y_pred)``, a name
        ``compile`` accepts (``"sparse_categorical_crossentropy"``), or a dict or
        list of them for a model with several outputs.
      model: the model whose outputs it scores.

    Returns:
      A callable ``(y_true, y_pred, sample_weight=None) -> scalar``: Keras's
      ``CompileLoss``; for a plain function and a model with several outputs, a
      :class:`WholeOutputLoss` (the function sees the whole output structure).

    Raises:
      TypeError, ValueError: for what ``compile`` would refuse, before any change.
    """
    def resolve(item):
        if item is None:  # compile takes None for an output without a loss
            return None
        if isinstance(item, type):
            raise TypeError(
                f"`loss_fn` must be a loss object, not a class. Received: the class "
                f"{item.__name__}. Create one: {item.__name__}().")
        if isinstance(item, str):
            return _by_name(keras.losses.get, item, "loss_fn",
                            "a loss, a function of (y_true, y_pred), or a name that "
                            "model.compile accepts", "'sparse_categorical_crossentropy'")
        if isinstance(item, keras.losses.Loss):
            return item
        if callable(item):
            return functools.partial(_checked, item)
        raise TypeError(
            "`loss_fn` must be a keras.losses.Loss, a function of (y_true, y_pred), or "
            "a loss name such as 'mse'. Received: "
            f"{type(item).__name__} {item!r}.")

    if callable(loss_fn) and not isinstance(loss_fn, keras.losses.Loss) \
            and _several_outputs(model):
        return WholeOutputLoss(loss_fn)
    if isinstance(loss_fn, dict):
        resolved = {k: resolve(v) for k, v in loss_fn.items()}
    elif isinstance(loss_fn, (list, tuple)):
        resolved = [resolve(v) for v in loss_fn]
    else:
        resolved = resolve(loss_fn)
    return _keras_internals.compile_loss(resolved, _output_names(model))


def uncovered_outputs(loss_fn, model):
    """The names of ``model``'s outputs that ``loss_fn`` gives no loss: those a dict of
    losses leaves out, or whose entry in a list is None. ``()`` for a single loss."""
    names = _output_names(model) or []
    if isinstance(loss_fn, dict):
        return tuple(n for n in names if loss_fn.get(n) is None)
    if isinstance(loss_fn, (list, tuple)) and len(loss_fn) == len(names):
        return tuple(n for n, item in zip(names, loss_fn) if item is None)
    return ()


def metrics(metric_list, model):
    """``metrics`` as ``model.compile(metrics=...)`` would use them (None for none).

    Args:
      metric_list: None, or a list of metric names (``"accuracy"``) and
        ``keras.metrics.Metric`` objects, or a dict of such lists per output.
      model: the model whose outputs they score.

    Returns:
      Keras's ``CompileMetrics``, not yet built, or None.
    """
    check_metrics(metric_list)
    if metric_list is None:
        return None
    return _keras_internals.compile_metrics(list(metric_list) if isinstance(
        metric_list, tuple) else metric_list, _output_names(model))


def check_metrics(metric_list):
    """Refuse what ``compile`` would not take as ``metrics``, before any change."""
    if metric_list is None:
        return
    if isinstance(metric_list, (str, keras.metrics.Metric)):
        raise TypeError(
            "`metrics` must be a list of metrics, as in model.compile. Received: "
            f"metrics={metric_list!r}. Use metrics=[{metric_list!r}].")
    if not isinstance(metric_list, (list, tuple, dict)):
        raise TypeError("`metrics` must be a list of metric names or keras.metrics.Metric "
                        f"objects. Received: {type(metric_list).__name__} {metric_list!r}.")
    items = [m for v in metric_list.values() for m in (v if isinstance(v, (list, tuple))
                                                       else [v])] \
        if isinstance(metric_list, dict) else list(metric_list)
    for item in items:
        if isinstance(item, type):
            raise TypeError(
                f"`metrics` must hold metric objects or names, not classes. Received: the "
                f"class {item.__name__}. Create one: {item.__name__}().")
        if isinstance(item, str) and item not in _COMPILE_NAMES:
            _by_name(keras.metrics.get, item, "metrics",
                     "metric names that model.compile accepts", "'accuracy'")


# metric names compile resolves itself, by the shapes (keras.metrics.get does not know them)
_COMPILE_NAMES = ("accuracy", "acc", "crossentropy", "ce")

_LOSS_SCALED = weakref.WeakKeyDictionary()  # a user's optimizer -> the wrapper made for it


def optimizer(value, model):
    """``value`` as ``compile`` takes an optimizer: a Keras optimizer, or its name.

    Under a ``mixed_float16`` policy (the model's), ``compile`` wraps an optimizer
    in a ``LossScaleOptimizer``, so that small float16 gradients do not underflow
    to zero; so does this. The wrapper made for an optimizer object is kept with
    it, so later calls go on with its loss scale, as later ``fit`` calls do.
    """
    if isinstance(value, str):
        value = _by_name(keras.optimizers.get, value, "optimizer",
                         "a Keras optimizer or a name model.compile accepts", "'adam'")
    elif isinstance(value, type):
        raise TypeError(
            f"`optimizer` must be an optimizer object or name, not a class. Received: the "
            f"class {value.__name__}. Create one: {value.__name__}(learning_rate=...).")
    return loss_scaled(value, model)


def loss_scaled(value, model):
    """``value``, wrapped in a ``LossScaleOptimizer`` when ``model`` computes in
    ``mixed_float16`` and it is a plain Keras optimizer (see :func:`optimizer`)."""
    policy = getattr(getattr(model, "dtype_policy", None), "name", None)
    if policy != "mixed_float16" or isinstance(value, keras.optimizers.LossScaleOptimizer) \
            or not isinstance(value, keras.optimizers.Optimizer):
        return value
    wrapped = _LOSS_SCALED.get(value)
    if wrapped is None:
        wrapped = _LOSS_SCALED[value] = keras.optimizers.LossScaleOptimizer(
            value, name="loss_scale_optimizer")
    return wrapped


def describe(value):
    """A loss or metrics argument as JSON, for a checkpoint to compare: names as they
    are, Keras objects by class and config, functions by module and name."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, functools.partial):
        return {"partial": describe(value.func), "args": [repr(a) for a in value.args],
                "keywords": {k: repr(v) for k, v in value.keywords.items()}}
    kind = type(value)
    if isinstance(value, (keras.losses.Loss, keras.metrics.Metric)):
        config = {k: v for k, v in value.get_config().items() if k != "name"}
        return {"class": f"{kind.__module__}.{kind.__qualname__}",
                "config": json.loads(json.dumps(config, sort_keys=True, default=repr))}
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}.{value.__qualname__}"
    return f"{kind.__module__}.{kind.__qualname__}"


def _symbolic(t):
    return keras.KerasTensor(t.shape, t.dtype.name)


def build(compiled_loss, compiled_metrics, forward, spec):
    """Build the loss and metrics state symbolically from one batch's ``spec``, as
    ``fit`` does before its first step (no data runs, nothing changes).

    Args:
      compiled_loss: from :func:`loss`.
      compiled_metrics: from :func:`metrics`, or None.
      forward: the model (or the head that runs on cached features).
      spec: the element spec ``(x, y)`` or ``(x, y, sample_weight)`` of a batch.
    """
    x, y = tf.nest.map_structure(_symbolic, tuple(spec)[:2])
    y_pred = _keras_internals.output_spec(forward, x, training=False)
    if not compiled_loss.built:
        compiled_loss.build(y, y_pred)  # builds; calls no loss
    if compiled_metrics is not None and not compiled_metrics.built:
        compiled_metrics.build(y, y_pred)
