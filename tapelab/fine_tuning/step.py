"""`fine_tune_step`: one training step on a subset of layers, with Keras `fit`'s semantics.

Keras's own recipe for "train only these layers" is to set ``trainable=False``
on every other layer, then ``compile`` and ``fit``. That flag does three things
in a training step, and this file does all three, for one step, then puts the
user's flags back:

1. a frozen BatchNormalization runs in inference mode (it uses, and does not
   update, its moving statistics), even when the model is called with
   ``training=True``;
2. only the trainable weights get gradients and updates;
3. only their regularisers count in the loss (``model.losses``).

Then the loss is scaled by the optimizer (``LossScaleOptimizer`` for mixed
precision) and all gradients go to ONE ``apply_gradients`` call, as in
``Model.train_step``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from tapelab import _keras_internals
from tapelab.fine_tuning import compile_like
from tapelab.fine_tuning.distribute import replica_share
from tapelab.fine_tuning.select import LayerSelection, resolve
from tapelab.fine_tuning.undo import undo_on_failure
from tapelab.watching import tape


@contextlib.contextmanager
def frozen_except(selection):
    """Inside the block, the model trains as Keras would with only the selection trainable.

    Every layer outside the selected ones gets ``trainable=False`` (the layers
    that hold a selected one stay True, so ``model.losses`` still sees the
    selected weights); inside a selected layer the user's flags are kept. On
    exit, every layer's and every variable's ``trainable`` flag is exactly what
    it was, even if the block raised.

    Args:
      selection: a :class:`~tapelab.fine_tuning.select.Selection`.
    """
    model = selection.model
    layer_flags = [(layer, layer.trainable) for layer in [model, *selection.tree]]
    var_flags = [(v, v.trainable) for v in model.variables]
    chosen = {id(v) for v in selection.variables}
    try:
        # parents come before children, so each child's own setting below
        # overrides the recursive one its parent's setter made; a selected layer,
        # or one inside it, keeps the user's flag
        for layer, flag in layer_flags:
            layer.trainable = flag if selection.covers(layer) else selection.holds(layer)
        for v, flag in var_flags:
            v.trainable = flag and id(v) in chosen
        yield
    finally:
        for layer, flag in layer_flags:
            layer.trainable = flag
        for v, flag in var_flags:
            v.trainable = flag


def check_optimizer(optimizer, variables, model):
    """Refuse an optimizer that was built for other variables, before any update."""
    if isinstance(optimizer, type):
        raise TypeError(
            f"`optimizer` must be an optimizer object, not a class. Received: the class "
            f"{optimizer.__name__}. Create one: {optimizer.__name__}(learning_rate=...).")
    if not hasattr(optimizer, "apply_gradients") or not hasattr(optimizer, "scale_loss"):
        raise TypeError(
            "`optimizer` must be a Keras 3 optimizer, e.g. keras.optimizers.SGD(0.01). "
            f"Received: {type(optimizer).__name__}."
        )
    known = _keras_internals.optimizer_variable_keys(optimizer)
    if not getattr(optimizer, "built", False) or known is None:
        return
    unknown = [v for v in variables if _keras_internals.optimizer_key(optimizer, v) not in known]
    if not unknown:
        return
    own = {_keras_internals.optimizer_key(optimizer, v) for v in model.weights}
    if not own.intersection(known):
        raise ValueError(
            "`optimizer` was already used to train another model, and a Keras 3 "
            "optimizer only updates the variables it was built with. Received: an "
            f"optimizer built for {len(known)} variable(s), none of them in model "
            f"'{model.name}'. Create a new optimizer for this model."
        )
    raise ValueError(
        "`optimizer` was already built for a different selection of this model's "
        "variables, and a Keras 3 optimizer only updates the variables it was built "
        f"with. Received: {len(unknown)} selected variable(s) it does not know, e.g. "
        f"{', '.join(v.path for v in unknown[:3])}. Create a new optimizer for "
        "the new selection (one optimizer per layer selection)."
    )


def check_loss(loss):
    """The loss must be a scalar float tensor that the tape can differentiate."""
    compile_like.check_tensor(loss)
    if loss.shape.rank != 0:
        raise ValueError(
            "`loss_fn` must return a scalar loss. Received: a loss of shape "
            f"{tuple(loss.shape) if loss.shape.rank is not None else 'unknown'}. Reduce "
            "it, e.g. tf.reduce_mean(...), or use a keras.losses.Loss object, which "
            "averages over the batch. A scalar of unknown shape (from tf.py_function, "
            "say) needs tf.reshape(loss, [])."
        )
    compile_like.check_floating(loss)


def total_loss(model, loss):
    """``loss`` plus ``model.losses`` (regularisers, ``add_loss``), summed as Keras does."""
    extra = [keras.ops.sum(x if x.dtype.is_floating else keras.ops.cast(x, keras.config.floatx()))
             for x in model.losses]
    return keras.ops.sum([loss, *extra]) if extra else loss


def _writable_state(selection):
    """What a forward pass may write: the selected layers' non-trainable weights
    (BatchNormalization statistics) and every random-seed counter."""
    model = selection.model
    weights = {id(w) for w in model.weights}
    seeds = [v for v in model.variables if id(v) not in weights]  # seed generators
    return [w for layer in selection.layers for w in layer.non_trainable_weights] + seeds


def fine_tune_step(model: keras.Model, layers: LayerSelection, loss_fn: Callable[..., Any],
                   x: Any, y: Any, optimizer: keras.optimizers.Optimizer,
                   training: bool = True) -> tf.Tensor:
    """One training step that updates only the selected layers, exactly as Keras ``fit``.

    While the step runs, every layer outside the selection behaves as a Keras
    layer with ``trainable=False`` (a BatchNormalization there runs in
    inference mode); the selected layers run with ``training``. The loss is
    ``loss_fn(y, model(x))`` plus the selected layers' regularisation losses,
    scaled by ``optimizer.scale_loss`` (mixed precision: under a
    ``mixed_float16`` model a plain optimizer is wrapped in a
    ``LossScaleOptimizer``, as ``compile`` wraps it); all gradients go to ONE
    ``apply_gradients`` call. The tape watches only the selected variables,
    so the layers below them are not recorded: a head-only step costs about one
    forward pass. Afterwards every ``trainable`` flag is as it was, and every
    weight outside the selection is bit-identical (random-seed counters, which
    are not weights, advance as in ``fit``). Bad input raises before anything
    changes. One step equals ``fit`` on the same batch, with the other layers
    frozen (``tests/fine_tuning/test_step_fit.py``).

    Args:
      model: a built Keras model.
      layers: the layer selection, as for :func:`select_layers` (nested layers too).
      loss_fn: ``loss_fn(y_true, y_pred)`` returning a scalar tensor, e.g.
        ``keras.losses.SparseCategoricalCrossentropy()``.
      x: the input batch.
      y: the targets.
      optimizer: a Keras optimizer, new or already used on this same selection.
      training: the mode of the selected layers, as in ``model(x, training=...)``;
        True (the default) is what ``fit`` does.

    Returns:
      The scalar loss tensor of the step, before the update (unscaled).

    >>> import keras, numpy as np
    >>> import tapelab
    >>> m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, name="w")])
    >>> m.set_weights([np.array([[0.5]], "float32"), np.zeros(1, "float32")])
    >>> x, y = np.ones((4, 1), "float32"), np.zeros((4, 1), "float32")
    >>> opt = keras.optimizers.SGD(0.1)
    >>> losses = [float(tapelab.fine_tune_step(m, ["w"], keras.losses.MeanSquaredError(),
    ...                                        x, y, opt)) for _ in range(3)]
    >>> [round(v, 4) for v in losses]  # loss (w + b)**2; w, b <- w, b - 0.1 * 2(w + b)
    [0.25, 0.09, 0.0324]
    """
    selection = resolve(model, layers)
    if isinstance(optimizer, str):
        raise TypeError(
            "`optimizer` must be a Keras 3 optimizer object for fine_tune_step, e.g. "
            "keras.optimizers.SGD(0.01): a name would make a new optimizer at every step "
            f"and lose its state (momentum, step count). Received: str {optimizer!r}. "
            "Create it once and pass it to every step (fine_tune takes names).")
    optimizer = compile_like.loss_scaled(optimizer, model)
    check_optimizer(optimizer, selection.variables, model)
    step = Step(selection.variables, compile_like.loss(loss_fn, model), optimizer, training,
                uncovered=compile_like.uncovered_outputs(loss_fn, model))
    # what the forward pass may write, put back if the step fails (eagerly: a trace
    # cannot read values)
    state = _writable_state(selection) if tf.executing_eagerly() else []
    with undo_on_failure(state), frozen_except(selection):
        return train_step(model, step, x, y)


@dataclass(frozen=True)
class Step:
    """What one training step needs besides the model and the batch.

    Attributes:
      variables: the selected variables: the only ones watched and updated.
      loss_fn: ``loss_fn(y_true, y_pred, sample_weight)``
        (:func:`tapelab.fine_tuning.compile_like.loss`).
      optimizer: the Keras optimizer; one ``apply_gradients`` call per step.
      training: the mode of the selected layers.
      loss_factor: multiplies ``loss_fn``'s value: under a strategy, Keras ``Loss``
        objects divide theirs by the number of replicas, and this undoes it
        (:func:`tapelab.fine_tuning.distribute.loss_factor`).
      metrics: Keras's ``CompileMetrics`` (built), updated with each batch's
        predictions before the update, as ``fit`` does; or None.
      uncovered: the model's outputs that ``loss_fn`` gives no loss (a dict that
        leaves one out), named when a selected variable gets no gradient.
    """

    variables: list
    loss_fn: object
    optimizer: object
    training: bool = True
    loss_factor: int = 1
    metrics: object = None
    uncovered: tuple = ()


def batch_loss(forward, step, x, y, sample_weight, training):
    """THE loss of one batch: what the training step differentiates and the test step
    reports, so ``val_loss`` is ``loss`` on other data.

    ``forward`` maps the batch to predictions and holds the regularisers
    (``forward.losses``): the model, or its head on cached features.

    Returns:
      ``(y_pred, loss)``: the loss is ``step.loss_fn``'s (compile's rules), Keras's
      division by the number of replicas undone, plus the regularisation losses.
    """
    y_pred = forward(x, training=training)
    loss = step.loss_fn(y, y_pred, sample_weight)
    check_loss(loss)
    if step.loss_factor != 1:  # undo Keras's 1/replicas
        loss = loss * tf.cast(step.loss_factor, loss.dtype)
    return y_pred, total_loss(forward, loss)


def train_step(forward, step, x, y, sample_weight=None):
    """THE step, shared by ``fine_tune_step`` (eager) and ``fine_tune`` (compiled).

    Call it with the model already frozen outside the selection
    (:func:`frozen_except`). ``step`` is a :class:`Step`. Returns the unscaled
    loss, before the update.
    """
    variables, optimizer = step.variables, step.optimizer
    with tape(watch=variables, only_watched=True) as t:
        y_pred, loss = batch_loss(forward, step, x, y, sample_weight, step.training)
        scaled = optimizer.scale_loss(replica_share(loss, x))
    grads = t.gradient(scaled, variables)
    missing = [v.path for v, g in zip(variables, grads) if g is None]
    if missing:
        hint = (f" The loss gives no loss to output(s) {', '.join(map(repr, step.uncovered))} "
                "(loss_fn has no entry for them): if these variables only feed those, add "
                "a loss for them to loss_fn." if step.uncovered else "")
        raise ValueError(
            "The loss does not depend on these selected variables, so they got no "
            f"gradient: {', '.join(missing)}. Nothing was updated.{hint} Check that the "
            "selected layers are used in model(x), or leave them out of `layers`."
        )
    optimizer.apply_gradients(zip(grads, variables))  # ONE call, flat list
    if step.metrics is not None:
        step.metrics.update_state(y, y_pred, sample_weight)
    return loss


def test_step(forward, step, x, y, sample_weight=None):
    """``fit``'s test step: the same :func:`batch_loss` in inference mode, and the
    metrics; no gradient, no update."""
    y_pred, loss = batch_loss(forward, step, x, y, sample_weight, training=False)
    if step.metrics is not None:
        step.metrics.update_state(y, y_pred, sample_weight)
    return loss
