"""`per_example_gradients`: one gradient per example, vectorised (JAX's ``vmap(grad)``)."""

import functools
import weakref

import tensorflow as tf

from tapelab.finetune import frozen_except
from tapelab.select import resolve
from tapelab.watching import tape

# model -> {(selected variable ids, loss_fn id, training): (loss_fn, compiled fn)}
_COMPILED = weakref.WeakKeyDictionary()


def _per_example(model_ref, selected, variables, loss_fn, training, x, y):
    model = model_ref()  # held weakly: the cache must not keep the model alive

    def one(example):  # example i's loss alone, as a batch of one
        xi, yi = example
        with tape(watch=variables, only_watched=True) as t:
            loss = loss_fn(yi[None], model(xi[None], training=training))
        return t.gradient(loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    with frozen_except(model, selected, variables):  # fine_tune_step's semantics
        return tf.vectorized_map(one, (x, y))


def _compile(model, selected, variables, loss_fn, training):
    """The vectorised computation, as one tf.function per model, selection and loss.

    A partial, not a closure: TF counts traces per code object, so closures for
    several models would read as one function "retracing"."""
    return tf.function(functools.partial(_per_example, weakref.ref(model), selected, variables,
                                         loss_fn, training), reduce_retracing=True)


def per_example_gradients(model, layers, loss_fn, x, y, training=False):
    """The gradient of each example's loss alone, for the selected layers' variables.

    Entry ``i`` is the gradient of ``loss_fn(y[i:i+1], model(x[i:i+1]))``: what a
    Python loop of single-example tapes gives, computed for the whole batch at
    once with ``tf.vectorized_map`` (pfor: TF's automatic batching of a loop). The
    computation is compiled once per model, selection, ``loss_fn`` and
    ``training``, and reused. Layers outside the selection behave as in
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
    selected, variables = resolve(model, layers, stacklevel=3)
    x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
    if x.shape.rank == 0 or y.shape.rank == 0 or (
            x.shape[0] is not None and y.shape[0] is not None and x.shape[0] != y.shape[0]):
        raise ValueError(
            "`x` and `y` must be batches with one target per example. Received: x of "
            f"shape {tuple(x.shape)} and y of shape {tuple(y.shape)}."
        )
    key = (tuple(id(v) for v in variables), id(loss_fn), bool(training))
    per_model = _COMPILED.setdefault(model, {})
    if key not in per_model or per_model[key][0] is not loss_fn:
        per_model[key] = (loss_fn, _compile(model, selected, variables, loss_fn, training))
    return list(per_model[key][1](x, y))
