"""`vmap`: a function of one example made a function of a batch, as ``jax.vmap``.

``vmap(f)(xs)`` equals ``tf.stack([f(x) for x in xs])``, computed at once by
``tf.vectorized_map`` (pfor: TF's automatic batching of a loop). It composes
with the other transforms: ``vmap(grad(loss), in_axes=(None, 0, 0))(params,
xs, ys)`` gives the gradient of each example's loss, and ``vmap(vjp_fn)(M)`` a
matrix-Jacobian product. Eagerly it is compiled once per function and input
signature, through the one compile cache (``tapelab/_cache.py``: a value the
function reads that changes makes a new trace, never an old answer); inside a
``tf.function`` it runs inline.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tapelab._cache import CompileCache
from tapelab.transforms import no_keywords, transformed

COMPILED = CompileCache()


def _axis(value, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{what}` must be an int (the axis) or None (not mapped). "
                        f"Received: {what}={value!r}.")
    return int(value)


def _check_axes(in_axes, out_axes):
    if isinstance(in_axes, (tuple, list)):
        for i, a in enumerate(in_axes):
            _axis(a, f"in_axes[{i}]")
    else:
        _axis(in_axes, "in_axes")
    if out_axes is None:
        raise TypeError("`out_axes` must be an int: tapelab's vmap stacks every output along "
                        "one axis. Received: out_axes=None.")
    _axis(out_axes, "out_axes")


def _per_argument(in_axes, n):
    """One axis (or None) per positional argument."""
    if not isinstance(in_axes, (tuple, list)):
        return (in_axes,) * n
    if len(in_axes) != n:
        raise ValueError(
            f"`in_axes` must give one axis (or None) per argument of the call. Received: "
            f"in_axes={tuple(in_axes)!r} for {n} argument(s). Pass an int for all of them, "
            "or one entry each.")
    return tuple(in_axes)


def _move(tensor, source, destination):
    """``tensor`` with axis ``source`` moved to ``destination`` (negative axes allowed)."""
    if not tf.is_tensor(tensor):
        raise TypeError(
            "vmap's `fn` must return tensors (or a structure of them). Received: "
            f"{type(tensor).__name__} {tensor!r}. Return a tensor for every example.")
    rank = tensor.shape.rank
    if not -rank <= destination < rank:
        raise ValueError(
            f"`out_axes` must be an axis of each batched output, from {-rank} to {rank - 1} "
            f"for an output of rank {rank} (the batch axis included). Received: "
            f"out_axes={destination}.")
    source, destination = source % rank, destination % rank
    if source == destination:
        return tensor
    order = [i for i in range(rank) if i != source]
    order.insert(destination, source)
    return tf.transpose(tensor, order)


def _batch_first(value, axis, position):
    """Every leaf of argument ``position`` with its mapped ``axis`` first."""
    def move(leaf):
        leaf = tf.convert_to_tensor(leaf)
        rank = leaf.shape.rank
        if rank is None or not -rank <= axis < rank:
            raise ValueError(
                f"`in_axes` maps axis {axis} of argument {position}, which has rank {rank}. "
                "Received: a value of shape "
                f"{tuple(leaf.shape) if rank is not None else 'unknown'}. Map an axis it has, "
                "or pass None to give it whole to every example.")
        return _move(leaf, axis, 0)

    return tf.nest.map_structure(move, value)


def _check_sizes(axes, args):
    """Every mapped axis one size, the batch (checked on the values, before any trace)."""
    mapped = [i for i, a in enumerate(axes) if a is not None]
    batch = [_batch_first(args[i], axes[i], i) for i in mapped]
    sizes = {int(t.shape[0]) for t in tf.nest.flatten(batch) if t.shape[0] is not None}
    if len(sizes) > 1:
        raise ValueError(
            "vmap's mapped axes must all have one size, the batch. Received: sizes "
            f"{sorted(sizes)} for argument(s) {mapped}. Map axes of one length, or pass "
            "None for an argument given whole to every example.")


def _vectorized(axes, out_axes, fn, *args):
    mapped = [i for i, a in enumerate(axes) if a is not None]
    batch = [_batch_first(args[i], axes[i], i) for i in mapped]
    _check_sizes(axes, args)  # in a user's tf.function: its shapes, as far as known

    def one(example):
        full = list(args)
        for i, value in zip(mapped, example):
            full[i] = value
        return fn(*full)

    out = tf.vectorized_map(one, tuple(batch), fallback_to_while_loop=True)
    return tf.nest.map_structure(lambda o: _move(o, 0, out_axes), out)


def _vmap_at(fn, in_axes, out_axes, *args, **kwargs):
    no_keywords(kwargs, "vmap")
    axes = _per_argument(in_axes, len(args))
    if all(a is None for a in axes):
        raise ValueError(
            "vmap needs at least one mapped argument. Received: in_axes that map none "
            f"({in_axes!r}). Map the batch's axis of one argument, e.g. in_axes=0.")
    if tf.executing_eagerly():  # a trace may relax the batch size to None: check here
        _check_sizes(axes, args)
    impl = functools.partial(_vectorized, axes, out_axes)
    return COMPILED.function(fn, ("vmap", axes, out_axes), impl)(*args)


def vmap(fn: Callable[..., Any], in_axes: int | None | tuple = 0,
         out_axes: int = 0) -> Callable[..., Any]:
    """``fn`` vectorised over a batch axis, as ``jax.vmap``.

    Args:
      fn: a function of one example (tensors, or structures of them), returning
        a tensor or a structure of tensors.
      in_axes: the batch axis of every argument (an int), or one entry per
        positional argument: an int, or None for an argument given whole to every
        example (a broadcast, such as the parameters in per-example gradients).
      out_axes: where the batch axis goes in every output.

    Returns:
      The function of a batch, where ``vmap(fn)(xs)`` equals ``tf.stack([fn(x)
      for x in xs], axis=out_axes)``, leaf by leaf for structures.

    >>> import tensorflow as tf
    >>> from tapelab import grad, vmap
    >>> vmap(lambda x: tf.reduce_sum(x ** 2))(tf.constant([[1.0, 2.0], [3.0, 4.0]])).numpy()
    array([ 5., 25.], dtype=float32)
    >>> per_example = vmap(grad(lambda w, x: tf.reduce_sum(w * x) ** 2), in_axes=(None, 0))
    >>> per_example(tf.constant([1.0, 1.0]), tf.constant([[1.0, 0.0], [1.0, 1.0]])).numpy()
    array([[2., 0.],
           [4., 4.]], dtype=float32)
    """
    _check_axes(in_axes, out_axes)
    return transformed(_vmap_at, fn, tuple(in_axes) if isinstance(in_axes, list) else in_axes,
                       out_axes)
