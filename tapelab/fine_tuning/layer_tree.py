"""The layer tree of a (nested) Keras model: children, the walk, paths of names, lookups.

A path is the names from the model down to a layer, joined by "/"
(``"base/block_1/conv"``); :func:`within` is the one rule for "is this layer
inside that one", which :class:`tapelab.fine_tuning.select.Selection` uses.
"""

import difflib

from tapelab import _keras_internals


def children(layer):
    """The direct sub-layers of ``layer``, in their own order.

    A model's children are its ``.layers``; any other layer's are the layers it
    tracks as attributes (a custom layer holding Dense layers, say).
    """
    layers = getattr(layer, "layers", None)
    if isinstance(layers, list):
        return layers
    return _keras_internals.sub_layers(layer)


def within(path, prefix):
    """Whether the layer at ``path`` is the one at ``prefix`` or nested inside it.

    THE nesting rule: paths are names from the model down (``"base/block/conv"``).
    """
    return path == prefix or path.startswith(prefix + "/")


def walk(model):
    """Every layer under ``model`` once, parents before children, in model order.

    Returns:
      ``(layers, paths)``: the list of layers, and ``{id(layer): "a/b/c"}``, the
      path of names from ``model`` down to each layer.
    """
    layers, paths = [], {}

    def visit(parent, prefix):
        for child in children(parent):
            if id(child) in paths:  # a layer used in two places is listed once
                continue
            paths[id(child)] = prefix + child.name
            layers.append(child)
            visit(child, prefix + child.name + "/")

    visit(model, "")
    return layers, paths


def names_hint(names):
    return (f"{', '.join(map(repr, names[:10]))}"
            + (f" ... ({len(names)} in all)." if len(names) > 10 else "."))


def by_name(model, item, layers, paths):
    """A name or a path of names ('base/Conv_1') to the one layer it means."""
    parts = item.split("/")
    if len(parts) > 1 and parts[0] == model.name and parts[0] not in (
            child.name for child in children(model)):
        parts = parts[1:]  # 'model/layer', as in Sequential's layer.path
    if len(parts) == 1:  # a bare name: top level first, then a unique match at any depth
        top = [c for c in children(model) if c.name == parts[0]]
        if top:
            return top[0]
        deep = [layer for layer in layers if layer.name == parts[0]]
        if len(deep) == 1:
            return deep[0]
        if len(deep) > 1:
            raise ValueError(
                f"`layers` names a layer that occurs {len(deep)} times in model "
                f"'{model.name}'. Received: {item!r}. Select one by its path: "
                f"{', '.join(repr(paths[id(layer)]) for layer in deep)}."
            )
        names = [layer.name for layer in children(model)]
        close = difflib.get_close_matches(item, [layer.name for layer in layers], n=3)
        hint = (f"Did you mean {', '.join(map(repr, close))}?" if close
                else f"Layer names in this model: {names_hint(names)}")
        raise ValueError(
            f"`layers` names a layer that is not in model '{model.name}'. "
            f"Received: {item!r}. {hint}"
        )
    here, where = model, f"model '{model.name}'"
    for depth, part in enumerate(parts):
        level = children(here)
        found = [c for c in level if c.name == part]
        if not found:
            names = [c.name for c in level]
            close = difflib.get_close_matches(part, names, n=3)
            hint = (f"Did you mean {', '.join(map(repr, close))}?" if close
                    else f"Layer names there: {names_hint(names)}" if names
                    else "It has no sub-layers.")
            raise ValueError(
                f"`layers` path {item!r} has no layer {part!r} inside {where}. "
                f"Received: {item!r}. {hint}"
            )
        here = found[0]
        where = f"'{'/'.join(parts[:depth + 1])}'"
    return here
