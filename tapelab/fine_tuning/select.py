"""Resolving a layer selection, anywhere in a (nested) Keras model, to layers and variables.

A selection names layers by slice or index (of the top-level ``model.layers``),
by name or path of names (``"base/Conv_1"``, any depth), or by Layer object
(any depth). Every helper that trains "some layers" resolves it here, once per
call, into a :class:`Selection` that it passes on.
"""

from __future__ import annotations

import collections
import numbers
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import tensorflow as tf

from tapelab._user_warnings import warn
from tapelab.fine_tuning.layer_tree import by_name, children, walk, within

if TYPE_CHECKING:
    import keras

#: What a ``layers`` argument may be: a slice or index of ``model.layers``, a layer
#: name or path of names (``"base/Conv_1"``), a Layer object at any depth, or a
#: sequence mixing indices, names, paths and Layer objects.
LayerSelection = Union[slice, int, str, "keras.Layer", Sequence[Union[int, str, "keras.Layer"]]]


class SelectionWarning(UserWarning):
    """A layer selection contains layers that hold no trainable variable.

    Raised once per selection of a model, in one line: the skipped layers
    counted by cause (no weights, counted by type; frozen by an ancestor, named
    with the fix; frozen themselves, named).

    >>> import warnings, keras
    >>> import tapelab
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dropout(0.1, name="drop"),
    ...                       keras.layers.Dense(1, name="out")])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = tapelab.trainable_variables(m, ["drop", "out"])
    >>> str(caught[0].message)
    '1 of the 2 selected layers are skipped: 1 has no weights (Dropout).'
    """


def _layer_label(layer):
    return f"'{layer.name}' ({type(layer).__name__})"


def _resolve_one(model, item, layers, paths):
    """Map one selection item (name/path, top-level index or Layer) to a layer."""
    top = children(model)
    if isinstance(item, str):
        return by_name(model, item, layers, paths)
    if isinstance(item, numbers.Integral) and not isinstance(item, bool):
        if not -len(top) <= item < len(top):
            raise ValueError(
                f"`layers` index must be in [-{len(top)}, {len(top) - 1}] for "
                f"model '{model.name}', which has {len(top)} layers. Received: {item}."
            )
        return top[item]
    if hasattr(item, "trainable_variables") and hasattr(item, "name"):
        if id(item) in paths:
            return item
        raise ValueError(
            f"`layers` holds a layer that is not part of model '{model.name}' (at any "
            f"depth). Received: {_layer_label(item)}. Select a layer of this model: "
            "by object, by name, or by a path of names such as 'base/Conv_1'."
        )
    raise TypeError(
        "`layers` items must be layer names or paths (str), indices (int) or Layer "
        f"objects. Received: {item!r} of type {type(item).__name__}."
    )


def select_layers(model: keras.Model, layers: LayerSelection) -> list[keras.Layer]:
    """Resolve a layer selection to layers of ``model``, in model order.

    Args:
      model: a Keras model (anything with a ``.layers`` list).
      layers: a slice or index of ``model.layers``; a layer name, found at the top
        level or, if unique, at any depth; a path of names into nested models
        (``"base/Conv_1"``); a Layer object at any depth; or a sequence mixing
        them. A nested model selected as a whole covers all its layers. A
        selection is configuration, not data: inside ``tf.function``, close over
        it (``tf.function(lambda x, y: fine_tune_step(model, slice(-3, None), ...))``)
        rather than pass it as an argument, which TF cannot trace for a slice
        ("Could not generate a generic TraceType for slice").

    Returns:
      A list of Layer objects without duplicates (a layer inside another
      selected one is covered by it), parents before children, in model order.

    >>> import keras
    >>> import tapelab
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="a"),
    ...                       keras.layers.Dense(1, name="b")], name="m")
    >>> [layer.name for layer in tapelab.select_layers(m, ["b", 0])]
    ['a', 'b']
    """
    return _choose(model, layers)[0]


def _choose(model, layers):
    """``(selected layers, tree, paths)``: :func:`select_layers` and the walk it made."""
    if not isinstance(getattr(model, "layers", None), list):
        raise TypeError(
            f"`model` must be a Keras model with a `.layers` list. Received: "
            f"{type(model).__name__}."
        )
    tree, paths = walk(model)
    if isinstance(layers, slice):
        chosen = children(model)[layers]
    else:
        items = [layers] if isinstance(layers, (str, numbers.Integral)) or hasattr(
            layers, "trainable_variables") else layers
        try:
            items = list(items)
        except TypeError:
            raise TypeError(
                "`layers` must be a slice, or a sequence of layer names, paths, "
                f"indices and Layer objects. Received: {layers!r}."
            ) from None
        chosen = [_resolve_one(model, item, tree, paths) for item in items]
    if not chosen:
        raise ValueError(
            f"`layers` selects no layer of model '{model.name}' "
            f"({len(children(model))} layers). Received: {layers!r}. Select at least "
            "one layer."
        )
    return _outermost(chosen, tree, paths), tree, paths


def _outermost(chosen, tree, paths):
    """``chosen`` in model order, without the layers nested inside another chosen one."""
    chosen_paths = {paths[id(layer)] for layer in chosen}
    return [layer for layer in tree if paths[id(layer)] in chosen_paths
            and not any(p != paths[id(layer)] and within(paths[id(layer)], p)
                        for p in chosen_paths)]


def _why_not_trainable(layer):
    """Why ``layer`` contributes no trainable variable, in words."""
    if not layer.weights:
        return f"{_layer_label(layer)} has no weights"
    if not layer.trainable:
        return f"{_layer_label(layer)} has trainable=False"
    return f"{_layer_label(layer)} holds only non-trainable weights"


def check_built(model, selected):
    """Refuse an unbuilt model: its layers have no weights yet, so nothing can be selected."""
    unbuilt = [layer for layer in [model, *selected] if not getattr(layer, "built", True)]
    if unbuilt:
        raise ValueError(
            f"`model` '{model.name}' is not built yet, so its layers have no weights "
            f"to select. Received: unbuilt {', '.join(map(_layer_label, unbuilt))}. "
            "Build it first: call it once on a batch (model(x[:1])), or start a "
            "Sequential model with keras.Input(shape)."
        )


class Selection:
    """A layer selection resolved once, with the one walk of the model it took.

    Every fine-tuning helper resolves its ``layers`` argument into one of these
    (:func:`resolve`) and passes it on, so the layer tree is walked once per call
    and "is this layer inside a selected one" is answered in one place.

    Attributes:
      model: the model (held weakly: a compiled step that keeps its selection must
        not keep the model alive).
      layers: the selected layers, parents before children, in model order (a
        layer inside another selected one is covered by it, not listed).
      variables: their trainable variables, flat, without duplicates, in model order.
      tree: every layer under ``model`` once, parents before children.
      paths: ``{id(layer): "a/b/c"}``, the path of names from ``model`` to each layer.
    """

    def __init__(self, model, layers, variables, tree, paths):
        self._model = weakref.ref(model)
        self.layers, self.variables, self.tree, self.paths = layers, variables, tree, paths
        self._selected = [paths[id(layer)] for layer in layers]

    @property
    def model(self):
        return self._model()

    def _path(self, layer):
        return "" if layer is self.model else self.paths[id(layer)]

    def covers(self, layer):
        """Whether ``layer`` is selected, or nested inside a selected layer."""
        path = self._path(layer)
        return layer is not self.model and any(within(path, p) for p in self._selected)

    def holds(self, layer):
        """Whether ``layer`` holds a selected layer without being covered: the model
        itself, or a nested model with a selected layer inside."""
        path = self._path(layer)
        return not self.covers(layer) and (
            layer is self.model or any(within(p, path) for p in self._selected))


_WARNED = weakref.WeakKeyDictionary()  # model -> selections already warned about


def _idle_reasons(idle, tree, paths, name_each=False):
    """Why the ``idle`` layers hold no trainable variable, one short sentence per cause:
    no weights (counted by type, or each named with ``name_each``), frozen by an
    ancestor (named, with the fix), or frozen or non-trainable themselves (named)."""
    by_path = {paths[id(layer)]: layer for layer in tree}
    weightless, by_ancestor, own = collections.Counter(), collections.defaultdict(list), []
    named = []
    for layer in idle:
        if not layer.weights:
            weightless[type(layer).__name__] += 1
            named.append(_layer_label(layer))
            continue
        parts = paths[id(layer)].split("/")
        frozen = [by_path["/".join(parts[:i])] for i in range(1, len(parts))
                  if not by_path["/".join(parts[:i])].trainable]
        if frozen:
            by_ancestor[frozen[0].name].append(layer)
        else:
            own.append(layer)
    reasons = []
    if weightless:
        count = sum(weightless.values())
        if name_each:
            shown = ", ".join(named[:5]) + (f" and {count - 5} more" if count > 5 else "")
            reasons.append(f"{count} {'has' if count == 1 else 'have'} no weights: {shown}.")
        else:
            kinds = ", ".join(f"{name} x{n}" if n > 1 else name
                              for name, n in weightless.most_common())
            reasons.append(f"{count} {'has' if count == 1 else 'have'} no weights ({kinds}).")
    for name, layers in by_ancestor.items():
        reasons.append(
            f"{len(layers)} {'is' if len(layers) == 1 else 'are'} frozen because the layer "
            f"'{name}' that holds {'it' if len(layers) == 1 else 'them'} has "
            f"trainable=False (left from an earlier phase, e.g. base_model.trainable = "
            f"False?); set model.get_layer('{name}').trainable = True to train "
            f"{'it' if len(layers) == 1 else 'them'}.")
    if own:
        reasons.append("; ".join(_why_not_trainable(layer) for layer in own) + ".")
    return reasons


@tf.autograph.experimental.do_not_convert  # plain Python, also when called in a trace
def resolve(model, layers):
    """Resolve ``layers`` once into a :class:`Selection`; what the public helpers share.

    Raises before any change: an unbuilt model, a selection with no trainable
    variable. A :class:`SelectionWarning` points at the user's line.
    """
    selected, tree, paths = _choose(model, layers)
    check_built(model, selected)
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
            + " ".join(_idle_reasons(idle, tree, paths, name_each=True))
            + " Select layers with weights (e.g. Dense, Conv2D) and set "
            "layer.trainable = True on those you want to train.")
    reasons = _idle_reasons(idle, tree, paths)
    key = tuple(id(layer) for layer in selected)
    if idle and key not in _WARNED.setdefault(model, set()):
        _WARNED[model].add(key)  # once per selection of this model
        warn(f"{len(idle)} of the {len(selected)} selected layers are skipped: "
             + " ".join(reasons), SelectionWarning)
    return Selection(model, selected, variables, tree, paths)


def trainable_variables(model: keras.Model, layers: LayerSelection) -> list[keras.Variable]:
    """The trainable variables of the selected layers: flat, in model order.

    Selected layers that hold no trainable variable (no weights, or
    ``trainable=False``) are reported with a :class:`SelectionWarning`; a
    selection where no layer holds one raises ValueError saying why for each.

    Args:
      model: a built Keras model.
      layers: the selection, as for :func:`select_layers`.

    Returns:
      A list of variables, without duplicates, in model order.

    >>> import keras
    >>> import tapelab
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="a"),
    ...                       keras.layers.Dense(1, name="b")], name="m")
    >>> [v.path for v in tapelab.trainable_variables(m, slice(-1, None))]
    ['m/b/kernel', 'm/b/bias']
    """
    return resolve(model, layers).variables
