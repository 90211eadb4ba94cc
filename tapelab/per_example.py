"""`per_example_gradients`: one gradient per example, vectorised (JAX's ``vmap(grad)``)."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import tensorflow as tf

from tapelab._cache import CompileCache
from tapelab.fine_tuning.select import LayerSelection, resolve
from tapelab.fine_tuning.step import frozen_except
from tapelab.watching import tape

if TYPE_CHECKING:
    import keras

COMPILED = CompileCache()  # per model: one entry per selection, loss_fn and training


def _per_example(model_ref, selection, loss_fn, training, x, y):
    model, variables = model_ref(), selection.variables  # the cache holds the model weakly

    def one(example):  # example i's loss alone, as a batch of one
        xi, yi = example
        with tape(watch=variables, only_watched=True) as t:
            loss = loss_fn(yi[None], model(xi[None], training=training))
        return t.gradient(loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    with frozen_except(selection):  # fine_tune_step's semantics
        return tf.vectorized_map(one, (x, y))


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

    Args:
      model: a built Keras model.
      layers: the layer selection, as for ``trainable_variables``.
      loss_fn: ``loss_fn(y_true, y_pred)`` returning a scalar.
      x: a batch of inputs.
      y: their targets, as many as ``x``.
      training: the mode of the selected layers (False: Dropout off, BatchNorm
        with its moving statistics).

    Returns:
      A list with one tensor per selected variable (the order of
      ``trainable_variables(model, layers)``), each of shape
      ``[batch] + variable.shape``.

    >>> import keras, numpy as np
    >>> m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, name="w")])
    >>> m.set_weights([np.ones((1, 1), "float32"), np.zeros(1, "float32")])
    >>> x, y = np.array([[1.0], [2.0]], "float32"), np.zeros((2, 1), "float32")
    >>> kernel, bias = per_example_gradients(m, ["w"], keras.losses.MeanSquaredError(), x, y)
    >>> kernel.numpy().ravel().tolist()  # d(w x)**2/dw = 2 x**2 w
    [2.0, 8.0]
    """
    selection = resolve(model, layers, stacklevel=3)
    x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
    if x.shape.rank == 0 or y.shape.rank == 0 or (
            x.shape[0] is not None and y.shape[0] is not None and x.shape[0] != y.shape[0]):
        raise ValueError(
            "`x` and `y` must be batches with one target per example. Received: x of "
            f"shape {tuple(x.shape)} and y of shape {tuple(y.shape)}."
        )
    compiled = COMPILED.get(model, (tuple(selection.variables), loss_fn, bool(training)),
                            functools.partial(_compile, selection, loss_fn, training))
    return list(compiled(x, y))
