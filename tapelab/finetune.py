"""Fine-tuning a subset of a model's layers with one tape and one optimizer."""

import difflib
import numbers
import warnings

from tapelab.watching import tape


class SelectionWarning(UserWarning):
    """A layer selection contains layers that hold no trainable variable."""


def _layer_label(layer):
    return f"'{layer.name}' ({type(layer).__name__})"


def _why_not_trainable(layer):
    """Why ``layer`` contributes no trainable variable, in words."""
    if not layer.weights:
        return f"{_layer_label(layer)} has no weights"
    if not layer.trainable:
        return f"{_layer_label(layer)} has trainable=False"
    return f"{_layer_label(layer)} holds only non-trainable weights"


def _resolve_one(model, item, names):
    """Map one selection item (name, index or Layer) to its index in model.layers."""
    layers = model.layers
    if isinstance(item, str):
        if item in names:
            return names.index(item)
        close = difflib.get_close_matches(item, names, n=3)
        hint = (f"Did you mean {', '.join(map(repr, close))}?" if close
                else f"Layer names in this model: {', '.join(map(repr, names[:10]))}"
                + (f" ... ({len(names)} in all)." if len(names) > 10 else "."))
        raise ValueError(
            f"`layers` names a layer that is not in model '{model.name}'. "
            f"Received: {item!r}. {hint}"
        )
    if isinstance(item, numbers.Integral) and not isinstance(item, bool):
        if not -len(layers) <= item < len(layers):
            raise ValueError(
                f"`layers` index must be in [-{len(layers)}, {len(layers) - 1}] for "
                f"model '{model.name}', which has {len(layers)} layers. Received: {item}."
            )
        return item % len(layers)
    if hasattr(item, "trainable_variables") and hasattr(item, "name"):
        for i, layer in enumerate(layers):
            if layer is item:
                return i
        raise ValueError(
            f"`layers` holds a layer that is not one of the top-level layers "
            f"(model.layers) of model '{model.name}'. Received: {_layer_label(item)}. "
            "Select it by name or index from model.layers, or pass the sub-model "
            "that contains it as `model`."
        )
    raise TypeError(
        "`layers` items must be layer names (str), indices (int) or Layer objects. "
        f"Received: {item!r} of type {type(item).__name__}."
    )


def select_layers(model, layers):
    """Resolve a layer selection to ``model.layers`` entries, in model order.

    Args:
      model: a Keras model (anything with a ``.layers`` list).
      layers: a slice of ``model.layers``; or a name, index or Layer; or a
        sequence mixing them. Duplicates are dropped.

    Returns:
      A list of Layer objects, in the order of ``model.layers``.

    >>> import keras
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="a"),
    ...                       keras.layers.Dense(1, name="b")], name="m")
    >>> [layer.name for layer in select_layers(m, ["b", 0])]
    ['a', 'b']
    """
    if not hasattr(model, "layers"):
        raise TypeError(
            f"`model` must be a Keras model with a `.layers` list. Received: "
            f"{type(model).__name__}."
        )
    all_layers = list(model.layers)
    if isinstance(layers, slice):
        indices = range(len(all_layers))[layers]
    else:
        items = [layers] if isinstance(layers, (str, numbers.Integral)) or hasattr(
            layers, "trainable_variables") else layers
        try:
            items = list(items)
        except TypeError:
            raise TypeError(
                "`layers` must be a slice, or a sequence of layer names, indices "
                f"and Layer objects. Received: {layers!r}."
            ) from None
        names = [layer.name for layer in all_layers]
        indices = sorted({_resolve_one(model, item, names) for item in items})
    if not indices:
        raise ValueError(
            f"`layers` selects no layer of model '{model.name}' ({len(all_layers)} "
            f"layers). Received: {layers!r}. Select at least one layer."
        )
    return [all_layers[i] for i in indices]


def trainable_variables(model, layers):
    """The trainable variables of the selected layers: flat, in model order.

    Selected layers that hold no trainable variable (no weights, or
    ``trainable=False``) are reported with a :class:`SelectionWarning`; a
    selection where no layer holds one raises ValueError saying why for each.

    Args:
      model: a Keras model.
      layers: a slice of ``model.layers``, or a sequence of layer names,
        integer indices and Layer objects.

    Returns:
      A list of variables, without duplicates, in the order of ``model.layers``.

    >>> import keras
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="a"),
    ...                       keras.layers.Dense(1, name="b")], name="m")
    >>> [v.path for v in trainable_variables(m, slice(-1, None))]
    ['m/b/kernel', 'm/b/bias']
    """
    selected = select_layers(model, layers)
    variables, seen, idle = [], set(), []
    for layer in selected:
        layer_vars = layer.trainable_variables
        if not layer_vars:
            idle.append(layer)
        for v in layer_vars:
            if id(v) not in seen:  # a weight shared by two layers counts once
                seen.add(id(v))
                variables.append(v)
    if not variables:
        raise ValueError(
            "`layers` selects no trainable variable, so there is nothing to train: "
            + "; ".join(_why_not_trainable(layer) for layer in selected)
            + ". Select layers with weights (e.g. Dense, Conv2D) and set "
            "layer.trainable = True on those you want to train."
        )
    if idle:
        warnings.warn(
            f"{len(idle)} of the {len(selected)} selected layers hold no trainable "
            "variable and are skipped: "
            + "; ".join(_why_not_trainable(layer) for layer in idle) + ".",
            SelectionWarning,
            stacklevel=2,
        )
    return variables


def _check_optimizer(optimizer, variables):
    """Refuse an optimizer that was built for another variable set, before any update."""
    if not hasattr(optimizer, "apply_gradients"):
        raise TypeError(
            "`optimizer` must be a Keras optimizer, e.g. keras.optimizers.SGD(0.01). "
            f"Received: {type(optimizer).__name__}."
        )
    known = getattr(optimizer, "_trainable_variables_indices", None)
    if not getattr(optimizer, "built", False) or known is None:
        return
    unknown = [v for v in variables if optimizer._var_key(v) not in known]
    if unknown:
        raise ValueError(
            "`optimizer` was already built for a different set of variables, and a "
            "Keras 3 optimizer only updates the variables it was built with. "
            f"Received: {len(unknown)} selected variable(s) it does not know, e.g. "
            f"{', '.join(v.path for v in unknown[:3])}. Create a new optimizer for "
            "the new selection (one optimizer per layer selection)."
        )


def fine_tune_step(model, layers, loss_fn, x, y, optimizer, training=False):
    """One training step that updates only the selected layers.

    The tape watches only the selected variables (``watch_accessed_variables=
    False``), so layers below them are not recorded: a head-only step costs
    about one forward pass. All gradients go to the optimizer in one
    ``apply_gradients`` call; nothing is updated if any selected variable gets
    no gradient. Variables outside the selection are left bit-identical.

    Args:
      model: a Keras model.
      layers: the layer selection, as for :func:`trainable_variables`.
      loss_fn: ``loss_fn(y_true, y_pred)`` returning a scalar, e.g.
        ``keras.losses.SparseCategoricalCrossentropy()``.
      x: the input batch.
      y: the targets.
      optimizer: a Keras optimizer, new or already used on this same selection.
      training: passed to ``model(x, training=training)``; False keeps
        BatchNormalization and Dropout in inference mode.

    Returns:
      The scalar loss tensor computed in the step (before the update).

    >>> import keras, numpy as np
    >>> keras.utils.set_random_seed(0)
    >>> m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, name="w")])
    >>> x, y = np.ones((4, 1), "float32"), np.zeros((4, 1), "float32")
    >>> opt = keras.optimizers.SGD(0.1)
    >>> losses = [float(fine_tune_step(m, ["w"], keras.losses.MeanSquaredError(),
    ...                                x, y, opt)) for _ in range(3)]
    >>> losses[0] > losses[1] > losses[2]
    True
    """
    variables = trainable_variables(model, layers)
    _check_optimizer(optimizer, variables)
    with tape(watch=variables, only_watched=True) as t:
        loss = loss_fn(y, model(x, training=training))
    if loss.shape.rank != 0:
        raise ValueError(
            "`loss_fn` must return a scalar loss. Received: a loss of shape "
            f"{tuple(loss.shape)}. Reduce it, e.g. tf.reduce_mean(...), or use a "
            "keras.losses.Loss object, which averages over the batch."
        )
    grads = t.gradient(loss, variables)
    missing = [v.path for v, g in zip(variables, grads) if g is None]
    if missing:
        raise ValueError(
            "The loss does not depend on these selected variables, so they got no "
            f"gradient: {', '.join(missing)}. Nothing was updated. Check that the "
            "selected layers are used in model(x), or leave them out of `layers`."
        )
    optimizer.apply_gradients(zip(grads, variables))  # ONE call, flat list
    return loss
