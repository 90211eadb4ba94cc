"""`value_and_gradient` and `gradients`: one call, value and derivatives."""

import tensorflow as tf

from tapelab._sources import is_variable
from tapelab.watching import record


def _one_or_tuple(grads):
    return grads[0] if len(grads) == 1 else tuple(grads)


def value_and_gradient(fn, *sources):
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

    Returns:
      ``(value, gradient)``: ``value`` is what ``fn`` returned (a tensor, or a
      ``tf.RaggedTensor``, summed as raw TF does); ``gradient`` is
      one tensor for one source, a tuple (in source order) for several. A
      source the value does not depend on gets None, as with raw TF.

    >>> value, grad = value_and_gradient(lambda x: x**2 + 2*x + 1, 5.0)
    >>> float(value), float(grad)  # f(5) = 36, f'(x) = 2x + 2 = 12
    (36.0, 12.0)
    """
    t, value, sources = record(fn, sources, persistent=False)
    if not isinstance(value, (tf.Tensor, tf.Variable, tf.RaggedTensor)) and not is_variable(value):
        raise TypeError(
            "`fn` must return a single tensor for value_and_gradient. Received: "
            f"{type(value).__name__}. For several targets (a dict, list or "
            "tuple), use tapelab.gradients(fn, *sources)."
        )
    return value, _one_or_tuple(t.gradient(value, sources))


def gradients(fn, *sources):
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
