"""`value_and_gradient` and `gradients`: one call, value and derivatives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tapelab._sources import is_variable
from tapelab.watching import record


def _one_or_tuple(grads):
    return grads[0] if len(grads) == 1 else tuple(grads)


def split_aux(result, has_aux, helper):
    """``(output, aux)`` of what ``fn`` returned: ``aux`` is None without ``has_aux``."""
    if not isinstance(has_aux, bool):
        raise TypeError(f"`has_aux` must be True or False in {helper}. Received: "
                        f"has_aux={has_aux!r}.")
    if not has_aux:
        return result, None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(
            f"`fn` must return a pair (output, aux) when has_aux=True in {helper}. Received: "
            f"{type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
            + ". Return (output, aux), or call without has_aux.")
    return result[0], result[1]


def value_and_gradient(fn: Callable[..., Any], *sources: Any,
                       has_aux: bool = False) -> tuple[Any, Any]:
    """Evaluate ``fn(*sources)`` and its gradient with respect to each source.

    Args:
      fn: a function of ``len(sources)`` arguments returning a tensor. A
        non-scalar result is summed before differentiating, as in TF.
      *sources: ``tf.Variable``, ``keras.Variable``, ``tf.Tensor``,
        ``tf.RaggedTensor``, NumPy arrays or numbers. Numbers become float32
        scalars (integers only when float32 holds them exactly, as it does
        every integer up to 2**24; another raises TypeError). Tensors and
        arrays are watched automatically. Integer or bool arrays and tensors raise TypeError. A
        ``fn`` that needs a Python int (``range(n)``) should close over it
        rather than take it as a source.
      has_aux: if True, ``fn`` returns ``(value, aux)``; ``aux`` (any value)
        comes back untouched and is not differentiated, as in ``jax.value_and_grad``.

    Returns:
      ``(value, gradient)``: ``value`` is what ``fn`` returned (a tensor, or a
      ``tf.RaggedTensor``, summed as raw TF does); ``gradient`` is
      one tensor for one source, a tuple (in source order) for several. A
      source the value does not depend on gets None, as with raw TF. With
      ``has_aux``: ``((value, aux), gradient)``.

    >>> value, grad = value_and_gradient(lambda x: x**2 + 2*x + 1, 5.0)
    >>> float(value), float(grad)  # f(5) = 36, f'(x) = 2x + 2 = 12
    (36.0, 12.0)
    """
    t, result, sources = record(fn, sources, persistent=False)
    value, aux = split_aux(result, has_aux, "value_and_gradient")
    if not isinstance(value, (tf.Tensor, tf.Variable, tf.RaggedTensor)) and not is_variable(value):
        raise TypeError(
            "`fn` must return a single tensor for value_and_gradient. Received: "
            f"{type(value).__name__}. For several targets (a dict, list or "
            "tuple), use tapelab.gradients(fn, *sources)."
        )
    grads = _one_or_tuple(t.gradient(value, sources))
    return ((value, aux), grads) if has_aux else (value, grads)


def gradients(fn: Callable[..., Any], *sources: Any) -> Any:
    """Gradients of several targets from one persistent tape.

    Args:
      fn: a function of ``len(sources)`` arguments returning a dict, list or
        tuple (possibly nested) of target tensors.
      *sources: as for :func:`value_and_gradient`.

    Returns:
      The same structure as ``fn``'s result, each target replaced by its
      gradient: one tensor for one source, a tuple for several. The tape is
      released before returning.

    >>> g = gradients(lambda x: {"y": x**2, "z": (x**2)**2}, 3.0)
    >>> float(g["y"]), float(g["z"])  # 2x = 6, 4x**3 = 108
    (6.0, 108.0)
    """
    t, targets, sources = record(fn, sources, persistent=True)
    try:
        if not isinstance(targets, (dict, list, tuple)):
            raise TypeError(
                "`fn` must return a dict, list or tuple of targets for "
                f"gradients. Received: {type(targets).__name__}. For a single "
                "target, use tapelab.value_and_gradient(fn, *sources)."
            )
        grads = []
        for target in tf.nest.flatten(targets):
            grads.append(_one_or_tuple(t.gradient(target, sources)))
        return tf.nest.pack_sequence_as(targets, grads)
    finally:
        del t  # a persistent tape holds every intermediate until released
