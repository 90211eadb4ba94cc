"""Structures of sources and results (JAX's pytrees), handled in one place for every transform.

As in JAX, an argument to differentiate may be a nested structure of dicts
(subclasses too: ``OrderedDict``, ``defaultdict``), tuples (namedtuples too) and
lists, whose leaves are sources under tapelab's one set of input rules
(:func:`tapelab._sources.as_source`); derivatives come back in the same
structure. ``tf.nest`` reads the structures (dict entries in sorted key order,
each container rebuilt as its own class), so a structure here is what
``tf.nest`` and ``tape.gradient`` take. A tangent or cotangent must have its
primal's (or output's) structure, shapes and dtype.
"""

import tensorflow as tf

from tapelab._sources import as_source, describe

_CONTAINERS = (dict, tuple, list)


def _paths(value, path=""):
    """``[(path, leaf)]`` of a structure, in ``tf.nest``'s order: ``"['W']"``, ``"[0][1]"``."""
    if isinstance(value, dict):
        return [p for k in sorted(value) for p in _paths(value[k], f"{path}[{k!r}]")]
    if isinstance(value, _CONTAINERS):
        return [p for i, v in enumerate(value) for p in _paths(v, f"{path}[{i}]")]
    return [(path, value)]


def as_tree(x, position=0):
    """``x``, a source or a structure of them, with every leaf under tapelab's input rules.

    Args:
      x: a source, or a dict, tuple or list (nested) of sources.
      position: the argument's place, for messages (``Source 0['W']``).

    Returns:
      The same structure, each leaf a tensor or variable.

    Raises:
      TypeError: a leaf is not a source (naming it), or the structure holds none.

    >>> tree = as_tree({"W": [1.0, 2.0], "b": 3.0})
    >>> [float(leaf) for leaf in tf.nest.flatten(tree)]
    [1.0, 2.0, 3.0]
    """
    paths = _paths(x)
    if not paths:
        raise TypeError(
            f"Source {position} must hold at least one value to differentiate. Received: "
            f"an empty structure, {x!r}. Pass the values themselves, or a dict, tuple or "
            "list holding them.")
    leaves = [as_source(leaf, f"{position}{path}") for path, leaf in paths]
    return tf.nest.pack_sequence_as(x, leaves) if isinstance(x, _CONTAINERS) else leaves[0]


def _flat_list(tree):
    """Whether ``tree`` is a plain list of leaves: the common case, which needs no ``tf.nest``
    (whose protocol checks cost about 10% of an eager gradient of a small function)."""
    return type(tree) is list and not any(isinstance(t, _CONTAINERS) for t in tree)


def leaves(tree):
    """The leaves of a structure, in ``tf.nest``'s order."""
    if not isinstance(tree, _CONTAINERS):
        return [tree]
    return list(tree) if _flat_list(tree) else tf.nest.flatten(tree)


def rebuild(tree, new_leaves):
    """``tree``'s structure with ``new_leaves`` in it (its own container classes)."""
    new_leaves = list(new_leaves)
    if not isinstance(tree, _CONTAINERS):
        return new_leaves[0]
    return new_leaves if _flat_list(tree) else tf.nest.pack_sequence_as(tree, new_leaves)


def like(values, reference, what, of="primal"):
    """``values`` as tensors in ``reference``'s structure, each of its leaf's shape and dtype.

    For tangents (``reference``: the primals), cotangents (the outputs) and
    directions (``v`` of ``hvp``). Numbers and arrays are converted; a leaf of
    another dtype is refused rather than cast, naming both dtypes, as JAX does.

    Raises:
      TypeError: another structure, or another dtype.
      ValueError: another shape.
    """
    if not isinstance(values, _CONTAINERS) and not isinstance(reference, _CONTAINERS):
        return _leaf_like(values, reference, what, "", of)  # one tensor: the common case
    if _outline(values) != _outline(reference):
        raise TypeError(
            f"`{what}` must have the structure of its {of}. Received: {what} "
            f"{_shape_of(values)} for {_shape_of(reference)}.")
    return rebuild(reference, [_leaf_like(value, ref, what, path, of) for (path, value), ref
                               in zip(_paths(values), leaves(reference))])


def _leaf_like(value, ref, what, path, of):
    """``value`` as a tensor of ``ref``'s dtype and shape, or the error naming both."""
    dtype = tf.as_dtype(ref.dtype)
    if tf.is_tensor(value) or hasattr(value, "dtype"):
        given = tf.as_dtype(value.dtype)
        if given != dtype:
            raise TypeError(
                f"`{what}`{path} must have its {of}'s dtype, {dtype.name}. Received: "
                f"{given.name}, for {'a' if of == 'primal' else 'an'} {of} of {dtype.name}. "
                f"Cast one of them, e.g. tf.cast({what}, tf.{dtype.name}).")
    value = tf.convert_to_tensor(value, dtype=dtype)
    if value.shape != ref.shape:
        raise ValueError(
            f"`{what}`{path} must have its {of}'s shape, {tuple(ref.shape)}. Received: "
            f"shape {tuple(value.shape)}.")
    return value


def _outline(value):
    """A structure's containers and keys (lists and tuples alike), its leaves as None."""
    if isinstance(value, dict):
        return ("dict", tuple((k, _outline(value[k])) for k in sorted(value)))
    if isinstance(value, _CONTAINERS):
        return ("sequence", tuple(_outline(v) for v in value))
    return None


def _shape_of(tree):
    """A structure's outline for messages: its containers, each leaf as its shape."""
    def outline(leaf):
        shape = getattr(leaf, "shape", None)
        return tuple(shape) if shape is not None else describe(leaf)

    try:
        return repr(tf.nest.map_structure(outline, tree))
    except (TypeError, ValueError):
        return describe(tree)
