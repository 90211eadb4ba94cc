"""Function transforms on the tape, as in JAX and torch.func: grad, jvp, vjp.

``grad(fn)`` returns a function, as ``jax.grad`` and ``torch.func.grad`` do;
``jvp`` and ``vjp`` evaluate at a point, as theirs do; ``has_aux=True`` on
``grad`` and ``vjp`` (and ``value_and_gradient``) passes a second output back
untouched. The Jacobian family is in ``jacobians.py``. Each is a few lines over
``tf.GradientTape`` or ``tf.autodiff.ForwardAccumulator``, and they compose.
Inputs follow tapelab's one set of rules (``_sources.as_source``): Python
numbers become float32 tensors, integer sources raise ``TypeError``. Where a
source does not reach the output, the derivative is zeros, as in JAX.

Notation: for ``y = f(x)`` with Jacobian ``J = dy/dx``, a jvp is ``J @ t``
(forward mode: one pass per input direction ``t``, the *tangent*, at the point
``x``, the *primal*), a vjp is ``c @ J`` (reverse mode: one pass per output
direction ``c``, the *cotangent*).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tapelab._sources import as_sources, dense_only, watchable
from tapelab.value_grad import split_aux, value_and_gradient
from tapelab.watching import record

ZERO = tf.UnconnectedGradients.ZERO


def pick_args(argnums, n):
    """Validate ``argnums`` against ``n`` arguments; return a tuple of indices."""
    single = isinstance(argnums, numbers.Integral) and not isinstance(argnums, bool)
    items = (argnums,) if single else argnums
    if not isinstance(items, tuple) or not items or not all(
            isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in items):
        raise TypeError(
            "`argnums` must be an int or a non-empty tuple of ints. Received: "
            f"argnums={argnums!r}."
        )
    bad = [i for i in items if not -n <= i < n]
    if bad:
        raise ValueError(
            f"`argnums` must index the {n} argument(s) passed. Received: argnums="
            f"{argnums!r} for {n} argument(s)."
        )
    return tuple(i % n for i in items)


def grad(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """The gradient of a scalar function, as a function: ``grad(f)(x) = df/dx``.

    Args:
      fn: a function returning a scalar tensor (with ``has_aux``, a pair
        ``(scalar, aux)``).
      argnums: which argument to differentiate (an int), or a tuple of them.
      has_aux: if True, ``fn`` returns ``(scalar, aux)``; ``aux`` (any value, a
        metric say) comes back untouched and is not differentiated.

    Returns:
      A function taking ``fn``'s arguments and returning the gradient (one
      tensor, or a tuple when ``argnums`` is a tuple), or ``(gradient, aux)``
      with ``has_aux``. It composes: ``grad(grad(f))`` is the second derivative.

    >>> d2 = grad(grad(lambda x: x**3))  # 6x
    >>> float(d2(2.0))
    12.0
    >>> g, aux = grad(lambda x: (x**2, {"x": x}), has_aux=True)(3.0)
    >>> float(g), float(aux["x"])
    (6.0, 3.0)
    """
    def grad_fn(*args):
        picked = pick_args(argnums, len(args))
        aux = []

        def of_picked(*sources):
            full = list(args)
            for i, s in zip(picked, sources):
                full[i] = s
            y, extra = split_aux(fn(*full), has_aux, "grad")
            aux.append(extra)
            if isinstance(y, (numbers.Real, np.generic)):
                y = tf.constant(y, sources[0].dtype)  # a constant: its gradient is zero
            if not tf.is_tensor(y) or y.shape.rank != 0:
                raise ValueError(
                    "`fn` must return a scalar for grad. Received: "
                    f"{getattr(y, 'shape', type(y).__name__)}. Reduce it first "
                    "(tf.reduce_sum), or use jacobian or vjp for a non-scalar output."
                )
            return y

        sources = as_sources([args[i] for i in picked])
        _, g = value_and_gradient(of_picked, *sources)
        g = g if isinstance(g, tuple) else (g,)
        g = tuple(tf.zeros_like(s) if d is None else tf.convert_to_tensor(d)
                  for s, d in zip(sources, g))
        g = g[0] if isinstance(argnums, numbers.Integral) else g
        return (g, aux[0]) if has_aux else g

    return grad_fn


def jvp(fn: Callable[..., Any], primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    """Forward mode: ``fn(*primals)`` and its directional derivative ``J @ tangents``.

    Args:
      fn: a function of ``len(primals)`` arguments.
      primals: a tuple of points (tensors, arrays or numbers).
      tangents: a tuple of directions, one per primal, each of its primal's shape.

    Returns:
      ``(outputs, output_tangents)``: ``fn(*primals)`` and, with the same
      structure, how it changes along ``tangents``.

    >>> import tensorflow as tf
    >>> y, dy = jvp(lambda x: tf.sin(x) * x, (1.0,), (2.0,))  # dy = (sin x + x cos x) t
    >>> round(float(y), 4), round(float(dy), 4)
    (0.8415, 2.7635)
    """
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise TypeError(
            "`primals` and `tangents` must be tuples, one entry per argument of fn. "
            f"Received: {type(primals).__name__} and {type(tangents).__name__}. "
            "Write jvp(f, (x,), (t,)) for one argument."
        )
    if len(primals) != len(tangents):
        raise ValueError(
            "`tangents` must hold one direction per primal. Received: "
            f"{len(primals)} primal(s) and {len(tangents)} tangent(s)."
        )
    primals = dense_only(as_sources(primals), "jvp")
    tangents = tuple(like(t, p, "tangent", i) for i, (p, t) in enumerate(zip(primals, tangents)))
    with tf.autodiff.ForwardAccumulator([watchable(p) for p in primals], list(tangents)) as acc:
        out = fn(*primals)
    return out, acc.jvp(out, unconnected_gradients=ZERO)


def like(t, p, what, i=0):
    """``t`` as a tensor of ``p``'s dtype; its shape must equal ``p``'s."""
    t = tf.convert_to_tensor(t, dtype=p.dtype)
    if t.shape != p.shape:
        raise ValueError(
            f"Each {what} must have the shape of its primal. Received: {what} {i} of "
            f"shape {tuple(t.shape)} for a primal of shape {tuple(p.shape)}."
        )
    return t


def vjp(fn: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple:
    """Reverse mode: ``fn(*primals)`` and a function for ``cotangent @ J``.

    Args:
      fn: a function of ``len(primals)`` arguments returning a tensor (with
        ``has_aux``, a pair ``(tensor, aux)``).
      *primals: the point (tensors, arrays, numbers or variables).
      has_aux: if True, ``fn`` returns ``(output, aux)``, and ``aux`` comes back
        untouched as a third result.

    Returns:
      ``(outputs, vjp_fn)``, or ``(outputs, vjp_fn, aux)`` with ``has_aux``;
      ``vjp_fn(cotangent)``, with a cotangent of the outputs' shape, returns a
      tuple with one gradient per primal. The tape is kept, for as many calls as
      you like, until ``vjp_fn`` is deleted.

    >>> import tensorflow as tf
    >>> y, vjp_fn = vjp(lambda a, b: a * b, 2.0, 3.0)
    >>> [float(g) for g in vjp_fn(tf.constant(1.0))]  # (b, a)
    [3.0, 2.0]
    """
    t, result, sources = record(fn, primals, persistent=True)
    out, aux = split_aux(result, has_aux, "vjp")
    if not tf.is_tensor(out):
        raise TypeError(
            "`fn` must return a tensor for vjp. Received: "
            f"{type(out).__name__}."
        )

    def vjp_fn(cotangent):
        cotangent = like(cotangent, out, "cotangent")
        return tuple(t.gradient(out, sources, output_gradients=cotangent,
                                unconnected_gradients=ZERO))

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)
