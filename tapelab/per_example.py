"""`per_example_gradients`: one gradient per example, vectorised (JAX's ``vmap(grad)``)."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tapelab._cache import CompileCache
from tapelab._sources import map_leaves
from tapelab.fine_tuning.select import LayerSelection, resolve
from tapelab.fine_tuning.step import frozen_except
from tapelab.watching import tape

COMPILED = CompileCache()  # per model: one entry per selection, loss_fn and training


def _per_example(model_ref, selection, loss_fn, training, x, y):
    model, variables = model_ref(), selection.variables  # the cache holds the model weakly

    def one(example):  # example i's loss alone, as a batch of one
        xi, yi = tf.nest.map_structure(lambda t: t[None], example)
        with tape(watch=variables, only_watched=True) as t:
            loss = loss_fn(yi, model(xi, training=training))
        return t.gradient(loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    # StatelessScope: what the forward pass assigns (BatchNormalization's moving
    # statistics, a Dropout seed generator's state) is collected and dropped, never written
    with frozen_except(selection), keras.StatelessScope():  # frozen: fine_tune_step's semantics
        return tf.vectorized_map(one, (x, y))


def _batches(x, y):
    """``x`` and ``y`` as tensors (dicts and tuples leaf by leaf), one target per example."""
    x, y = _tensors(x, "x"), _tensors(y, "y")
    sizes = {t.shape[0] if t.shape.rank else 0 for t in tf.nest.flatten((x, y))}
    if not tf.nest.flatten(x) or not tf.nest.flatten(y) or 0 in sizes or len(
            sizes - {None}) > 1:
        raise ValueError(
            "`x` and `y` must be batches with one target per example. Received: x "
            f"{_shapes(x)} and y {_shapes(y)}. Every input and target needs the "
            "batch as its first axis, of one size."
        )
    return x, y


def _tensors(value, name):
    def convert(leaf, path):
        try:
            return tf.convert_to_tensor(leaf)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"`{name}` must be a tensor or array, or a dict or tuple of them (one entry "
                f"per model input or output). Received: {name}{path}, a "
                f"{type(leaf).__name__} that is not one array ({error}). Pass several "
                "inputs as a tuple or a dict, e.g. (x1, x2)."
            ) from None

    return map_leaves(convert, value)


def _shapes(value):
    if tf.is_tensor(value):
        return f"of shape {tuple(value.shape)}"
    return f"of shapes {tf.nest.map_structure(lambda t: tuple(t.shape), value)}"


def _compile(selection, loss_fn, training):
    """The vectorised computation as one tf.function (a partial: see tapelab/_cache.py)."""
    return tf.function(functools.partial(_per_example, weakref.ref(selection.model),
                                         selection, loss_fn, training), reduce_retracing=True)


def per_example_gradients(model: keras.Model, layers: LayerSelection,
                          loss_fn: Callable[..., Any], x: Any, y: Any,
                          training: bool = False) -> list[tf.Tensor]:
    """The gradient of each example's loss alone, for the selected layers' variables.

    Entry ``i`` is the gradient of ``loss_fn(y[i:i+1], model(x[i:i+1]))``: what a
    Python loop of single-example tapes gives, computed for the whole batch at
    once with ``tf.vectorized_map`` (pfor: TF's automatic batching of a loop). The
    computation is compiled once per model, selection, ``loss_fn`` and
    ``training``, and reused: a new built-in Keras loss object with the same
    config reuses it, and a ``loss_fn`` whose closure or globals changed gets a
    new trace (``tapelab/_cache.py``). Layers outside the selection behave as in
    :func:`tapelab.fine_tune_step` (frozen). Regularisation losses are not
    per-example and are left out.

    It computes gradients and trains nothing: every model variable is left as
    it was, even with ``training=True`` (BatchNormalization's moving statistics,
    a Dropout layer's seed state). The forward pass runs in a
    ``keras.StatelessScope``, so what it would assign is dropped, and every
    example, and every call, sees the model's state as it was (Dropout draws one
    mask, the same for every example and every call): a loop of single-example
    tapes that puts the state back after each example.

    Args:
      model: a built Keras model.
      layers: the layer selection, as for ``trainable_variables``.
      loss_fn: ``loss_fn(y_true, y_pred)`` returning a scalar.
      x: a batch of inputs: a tensor or array, or a dict or tuple of them for a
        model with several inputs (a list is read as one array).
      y: their targets, one per example: a tensor or array, or a dict or tuple
        of them, as ``loss_fn`` takes them. Every leaf of ``x`` and ``y`` has the
        batch as its first axis.
      training: the mode of the selected layers (False: Dropout off, BatchNorm
        with its moving statistics; True: BatchNorm normalises each example by
        its own statistics, the model's state still unchanged).

    Returns:
      A list with one tensor per selected variable (the order of
      ``trainable_variables(model, layers)``), each of shape
      ``[batch] + variable.shape``.

    >>> import keras, numpy as np
    >>> import tapelab
    >>> m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, name="w")])
    >>> m.set_weights([np.ones((1, 1), "float32"), np.zeros(1, "float32")])
    >>> x, y = np.array([[1.0], [2.0]], "float32"), np.zeros((2, 1), "float32")
    >>> loss = keras.losses.MeanSquaredError()
    >>> kernel, bias = tapelab.per_example_gradients(m, ["w"], loss, x, y)
    >>> kernel.numpy().ravel().tolist()  # d(w x)**2/dw = 2 x**2 w
    [2.0, 8.0]
    """
    selection = resolve(model, layers)
    x, y = _batches(x, y)
    compiled = COMPILED.get(model, (tuple(selection.variables), loss_fn, bool(training)),
                            functools.partial(_compile, selection, loss_fn, training))
    return list(compiled(x, y))
