"""Function transforms on the tape, as in JAX and torch.func: grad, jvp, vjp, jacobian, hessian, hvp.

Each is a few lines over ``tf.GradientTape`` or ``tf.autodiff.ForwardAccumulator``,
and they compose: ``hessian`` is the Jacobian of ``grad``, ``hvp`` is the vjp of
``grad``. Inputs follow tapelab's one set of rules (``_sources.as_source``):
Python numbers become float32 tensors, integer sources raise ``TypeError``.
Where a source does not reach the output, the derivative is zeros, as in JAX.

Notation: for ``y = f(x)`` with Jacobian ``J = dy/dx``, a jvp is ``J @ t``
(forward mode: one pass per input direction ``t``, the *tangent*, at the point
``x``, the *primal*), a vjp is ``c @ J`` (reverse mode: one pass per output
direction ``c``, the *cotangent*).
"""

import functools
import numbers
import weakref

import numpy as np
import tensorflow as tf

from tapelab._cache import CompileCache
from tapelab._sources import as_source, as_sources, dense_only, watchable
from tapelab.value_grad import value_and_gradient
from tapelab.watching import record

ZERO = tf.UnconnectedGradients.ZERO


def _argnums(argnums, n):
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


def grad(fn, argnums=0):
    """The gradient of a scalar function, as a function: ``grad(f)(x) = df/dx``.

    Args:
      fn: a function returning a scalar tensor.
      argnums: which argument to differentiate (an int), or a tuple of them.

    Returns:
      A function taking ``fn``'s arguments and returning the gradient (one
      tensor, or a tuple when ``argnums`` is a tuple). It composes:
      ``grad(grad(f))`` is the second derivative.

    >>> d2 = grad(grad(lambda x: x**3))  # 6x
    >>> float(d2(2.0))
    12.0
    """
    def grad_fn(*args):
        picked = _argnums(argnums, len(args))

        def of_picked(*sources):
            full = list(args)
            for i, s in zip(picked, sources):
                full[i] = s
            y = fn(*full)
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
        return g[0] if isinstance(argnums, numbers.Integral) else g

    return grad_fn


def jvp(fn, primals, tangents):
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
    tangents = tuple(_like(t, p, "tangent", i) for i, (p, t) in enumerate(zip(primals, tangents)))
    with tf.autodiff.ForwardAccumulator([watchable(p) for p in primals], list(tangents)) as acc:
        out = fn(*primals)
    return out, acc.jvp(out, unconnected_gradients=ZERO)


def _like(t, p, what, i=0):
    """``t`` as a tensor of ``p``'s dtype; its shape must equal ``p``'s."""
    t = tf.convert_to_tensor(t, dtype=p.dtype)
    if t.shape != p.shape:
        raise ValueError(
            f"Each {what} must have the shape of its primal. Received: {what} {i} of "
            f"shape {tuple(t.shape)} for a primal of shape {tuple(p.shape)}."
        )
    return t


def vjp(fn, *primals):
    """Reverse mode: ``fn(*primals)`` and a function for ``cotangent @ J``.

    Args:
      fn: a function of ``len(primals)`` arguments returning a tensor.
      *primals: the point (tensors, arrays, numbers or variables).

    Returns:
      ``(outputs, vjp_fn)``; ``vjp_fn(cotangent)``, with a cotangent of the
      outputs' shape, returns a tuple with one gradient per primal. The tape is
      kept, for as many calls as you like, until ``vjp_fn`` is deleted.

    >>> import tensorflow as tf
    >>> y, vjp_fn = vjp(lambda a, b: a * b, 2.0, 3.0)
    >>> [float(g) for g in vjp_fn(tf.constant(1.0))]  # (b, a)
    [3.0, 2.0]
    """
    t, out, sources = record(fn, primals, persistent=True)
    if not tf.is_tensor(out):
        raise TypeError(
            "`fn` must return a tensor for vjp. Received: "
            f"{type(out).__name__}."
        )

    def vjp_fn(cotangent):
        cotangent = _like(cotangent, out, "cotangent")
        return tuple(t.gradient(out, sources, output_gradients=cotangent,
                                unconnected_gradients=ZERO))

    return out, vjp_fn


# --- Jacobians: vectorised (pfor), so compiled ---------------------------------------------
#
# tape.jacobian and tf.vectorized_map compile a tf.function on every eager call
# (and TF warns "triggered tf.function retracing"). So, eagerly, we compile the
# whole computation once per fn, mode and what fn reads (tapelab/_cache.py: a
# changed closure or global is a new trace, never a stale answer) and reuse it.
# Inside a user's tf.function it simply runs inline.

COMPILED = CompileCache()


def _compiled(fn, key, impl):
    """``impl(fn, *args)``, compiled as a tf.function cached per ``fn`` and ``key``."""
    if not tf.executing_eagerly():
        return functools.partial(impl, fn)  # inside the user's tf.function: inline
    try:
        ref = weakref.ref(fn)
    except TypeError:  # fn cannot be weakly referenced: compiled each call, uncached
        ref = functools.partial(_identity, fn)
    build = functools.partial(_build, impl, ref)
    return COMPILED.get(fn, (key, fn), build)


def _identity(value):
    return value


def _build(impl, ref):
    return tf.function(functools.partial(_call, impl, ref), reduce_retracing=True)


def _call(impl, ref, *args):
    return impl(ref(), *args)


def _reverse_jacobian(fn, *sources):
    t, out, sources = record(fn, sources, persistent=True)
    return tuple(t.jacobian(out, sources, unconnected_gradients=ZERO))


def _forward_jacobian(fn, *sources):
    columns = []
    for i, source in enumerate(sources):
        n = tf.size(source)

        def column(direction, i=i, source=source):  # J @ e_k, one input direction
            tangent = tf.reshape(direction, tf.shape(source))
            with tf.autodiff.ForwardAccumulator(watchable(source), tangent) as acc:
                out = fn(*sources)
            return acc.jvp(out, unconnected_gradients=ZERO)

        basis = tf.eye(n, dtype=source.dtype)
        stacked = tf.vectorized_map(column, basis)  # [n] + out.shape
        out_rank = tf.rank(stacked) - 1
        moved = tf.transpose(stacked, tf.concat([tf.range(1, out_rank + 1), [0]], 0))
        columns.append(tf.reshape(moved, tf.concat([tf.shape(moved)[:-1], tf.shape(source)], 0)))
    return tuple(columns)


_MODES = {"reverse": _reverse_jacobian, "forward": _forward_jacobian}


def jacobian(fn, *sources, mode="reverse"):
    """The Jacobian of ``fn`` at ``sources``: shape ``out.shape + source.shape``.

    ``mode="reverse"`` (``tape.jacobian``) costs one backward pass per output
    element; ``mode="forward"`` (``ForwardAccumulator``) one forward pass per
    input element. Both are vectorised (pfor: TF's automatic batching of a
    loop), and they agree to round-off. Pick reverse for few outputs and many
    inputs (a loss against weights), forward for few inputs and many outputs.
    Eagerly, the computation is compiled with ``tf.function`` once per ``fn``
    and mode, so ``fn`` runs as a traced graph (Python side effects happen at
    tracing only).

    Args:
      fn: a function of ``len(sources)`` arguments returning a tensor.
      *sources: the point, as for ``value_and_gradient``.
      mode: ``"reverse"`` or ``"forward"``.

    Returns:
      One tensor for one source, a tuple for several.

    >>> import tensorflow as tf
    >>> J = jacobian(lambda x: x**2, tf.constant([1.0, 2.0]))
    >>> J.numpy().tolist()  # diag(2x)
    [[2.0, 0.0], [0.0, 4.0]]
    """
    if mode not in _MODES:
        raise ValueError(
            f"`mode` must be 'reverse' or 'forward'. Received: mode={mode!r}."
        )
    sources = dense_only(as_sources(sources), "jacobian")
    result = _compiled(fn, ("jacobian", mode), _MODES[mode])(*sources)
    return result[0] if len(result) == 1 else result


def hessian(fn, x):
    """The Hessian of a scalar ``fn`` at ``x``: shape ``x.shape + x.shape``.

    It is the Jacobian of the gradient, ``jacobian(grad(fn), x)``: one reverse
    pass per element of ``x``, vectorised.

    >>> import tensorflow as tf
    >>> H = hessian(lambda x: tf.reduce_sum(x**3) + x[0] * x[1], tf.constant([1.0, 2.0]))
    >>> H.numpy().tolist()  # [[6 x0, 1], [1, 6 x1]]
    [[6.0, 1.0], [1.0, 12.0]]
    """
    (x,) = dense_only((as_source(x),), "hessian")
    return _compiled(fn, ("hessian",), lambda f, x: _reverse_jacobian(grad(f), x))(x)[0]


def hvp(fn, x, v):
    """The Hessian-vector product ``H(x) @ v`` of a scalar ``fn``, without forming ``H``.

    Computed reverse-over-reverse, as the vjp of the gradient: since ``H`` is
    symmetric, ``v @ H == H @ v``. Measured on a 2-core CPU (``benchmarks/
    bench_transforms.py``, n = 1000), that beats forward-over-reverse (the jvp
    of the gradient, JAX's choice) by about 5x eagerly, where
    ``ForwardAccumulator`` adds Python overhead to every op, and by about 1.2x
    inside ``tf.function``. Eagerly it is compiled once per ``fn``, as
    :func:`jacobian` is.

    Args:
      fn: a function of one argument returning a scalar.
      x: the point.
      v: a direction of ``x``'s shape.

    Returns:
      A tensor of ``x``'s shape.

    >>> import tensorflow as tf
    >>> f = lambda x: tf.reduce_sum(x**3)  # H = diag(6x)
    >>> hvp(f, tf.constant([1.0, 2.0]), tf.constant([1.0, 1.0])).numpy().tolist()
    [6.0, 12.0]
    """
    (x,) = dense_only((as_source(x),), "hvp")
    v = tf.convert_to_tensor(v, dtype=x.dtype)
    if v.shape != x.shape:
        raise ValueError(
            "`v` must have the shape of `x`. Received: v of shape "
            f"{tuple(v.shape)} and x of shape {tuple(x.shape)}."
        )
    return _compiled(fn, ("hvp",), _hvp)(x, v)


def _hvp(fn, x, v):
    _, vjp_fn = vjp(grad(fn), x)  # reverse over reverse: v @ H = H @ v
    return vjp_fn(v)[0]
