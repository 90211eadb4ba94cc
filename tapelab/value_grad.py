"""`value_and_gradient` and `gradients`: one call, value and derivatives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tapelab import _trees
from tapelab._sources import is_variable
from tapelab.transforms import record, split_aux


def _one_or_tuple(per_source):
    return per_source[0] if len(per_source) == 1 else tuple(per_source)


def _gradients(t, target, trees, flat):
    """The gradient of ``target`` per source, each in its source's structure (None where
    the target does not depend on a leaf, as raw TF gives)."""
    return _one_or_tuple(_trees.rebuild(trees, t.gradient(target, flat)))


def value_and_gradient(fn: Callable[..., Any], *sources: Any,
                       has_aux: bool = False) -> tuple[Any, Any]:
    """Evaluate ``fn(*sources)`` and its gradient with respect to each source.

    Args:
      fn: a function of ``len(sources)`` arguments returning a tensor. A
        non-scalar result is summed before differentiating, as in TF.
      *sources: ``tf.Variable``, ``keras.Variable``, ``tf.Tensor``,
        ``tf.RaggedTensor``, NumPy arrays or numbers, or dicts, tuples and lists
        (nested) of them. Numbers become float32 scalars (integers only when
        float32 holds them exactly, as it does every integer up to 2**24; another
        raises TypeError; complex numbers become complex64). Tensors and arrays
        are watched automatically. Integer or bool arrays and tensors raise
        TypeError. A ``fn`` that needs a Python int (``range(n)``) should close
        over it rather than take it as a source.
      has_aux: if True, ``fn`` returns ``(value, aux)``; ``aux`` (any value)
        comes back untouched and is not differentiated, as in ``jax.value_and_grad``.

    Returns:
      ``(value, gradient)``: ``value`` is what ``fn`` returned (a tensor, or a
      ``tf.RaggedTensor``, summed as raw TF does); ``gradient`` is one gradient
      for one source, a tuple (in source order) for several, each in its
      source's structure. A leaf the value does not depend on gets None, as
      with raw TF (``tapelab.grad`` gives zeros, as JAX). With ``has_aux``:
      ``((value, aux), gradient)``.

    >>> import tapelab
    >>> value, grad = tapelab.value_and_gradient(lambda x: x**2 + 2*x + 1, 5.0)
    >>> float(value), float(grad)  # f(5) = 36, f'(x) = 2x + 2 = 12
    (36.0, 12.0)
    """
    t, result, trees, flat = record(fn, sources, tuple(range(len(sources))), persistent=False)
    value, aux = split_aux(result, has_aux, "value_and_gradient")
    if not isinstance(value, (tf.Tensor, tf.Variable, tf.RaggedTensor)) and not is_variable(value):
        raise TypeError(
            "`fn` must return a single tensor for value_and_gradient. Received: "
            f"{type(value).__name__}. For several targets (a dict, list or "
            "tuple), use tapelab.gradients(fn, *sources)."
        )
    grads = _gradients(t, value, trees, flat)
    return ((value, aux), grads) if has_aux else (value, grads)


def gradients(fn: Callable[..., Any], *sources: Any) -> Any:
    """Gradients of several targets from one persistent tape.

    Args:
      fn: a function of ``len(sources)`` arguments returning a dict, list or
        tuple (possibly nested) of target tensors.
      *sources: as for :func:`value_and_gradient`.

    Returns:
      The same structure as ``fn``'s result, each target replaced by its
      gradient: one for one source, a tuple for several (each in its source's
      structure). The tape is released before returning.

    >>> import tapelab
    >>> g = tapelab.gradients(lambda x: {"y": x**2, "z": (x**2)**2}, 3.0)
    >>> float(g["y"]), float(g["z"])  # 2x = 6, 4x**3 = 108
    (6.0, 108.0)
    """
    t, targets, trees, flat = record(fn, sources, tuple(range(len(sources))), persistent=True)
    try:
        if not isinstance(targets, (dict, list, tuple)):
            raise TypeError(
                "`fn` must return a dict, list or tuple of targets for "
                f"gradients. Received: {type(targets).__name__}. For a single "
                "target, use tapelab.value_and_gradient(fn, *sources)."
            )
        grads = [_gradients(t, target, trees, flat) for target in tf.nest.flatten(targets)]
        return tf.nest.pack_sequence_as(targets, grads)
    finally:
        del t  # a persistent tape holds every intermediate until released
