"""Jacobians, Hessians and Hessian-vector products, vectorised (pfor) and compiled.

``jacrev(fn)`` and ``jacfwd(fn)`` return functions, as ``jax.jacrev`` and
``jax.jacfwd`` do; ``jacobian(fn, *sources)``, ``hessian(fn, x)`` and
``hvp(fn, x, v)`` evaluate at a point, as ``torch.autograd.functional.jacobian``
and ``tape.jacobian`` do. ``hessian`` is the Jacobian of ``grad``; ``hvp`` is the
vjp of ``grad``.
"""

from __future__ import annotations

import functools
import numbers
import weakref
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tapelab._cache import CompileCache
from tapelab._sources import as_source, as_sources, dense_only, watchable
from tapelab.transforms import grad, pick_args, vjp
from tapelab.watching import record

ZERO = tf.UnconnectedGradients.ZERO


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


def _picked_jacobian(mode, picked, fn, *args):
    """The Jacobian of ``fn(*args)`` with respect to the arguments at ``picked``."""
    def of_picked(*sources):
        full = list(args)
        for i, s in zip(picked, sources):
            full[i] = s
        return fn(*full)

    return _MODES[mode](of_picked, *[args[i] for i in picked])


def _jacobian_function(fn, argnums, mode):
    """``jacrev`` and ``jacfwd``: the Jacobian as a function of ``fn``'s arguments."""
    def jacobian_fn(*args):
        picked = pick_args(argnums, len(args))
        args = list(args)
        for i, source in zip(picked, dense_only(as_sources([args[i] for i in picked]),
                                                 f"jac{mode[:3]}")):
            args[i] = source
        impl = functools.partial(_picked_jacobian, mode, picked)
        result = _compiled(fn, (f"jac{mode[:3]}", picked), impl)(*args)
        return result[0] if isinstance(argnums, numbers.Integral) else result

    return jacobian_fn


def jacrev(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """The Jacobian of ``fn`` as a function, in reverse mode, as ``jax.jacrev``.

    One backward pass per output element, vectorised; the better mode for few
    outputs and many inputs. ``jacrev(fn)(*args)`` equals
    ``jacobian(fn, *args)`` when ``argnums`` picks every argument.

    Args:
      fn: a function returning a tensor.
      argnums: which argument to differentiate (an int), or a tuple of them; the
        others are passed through unchanged.

    Returns:
      A function of ``fn``'s arguments returning the Jacobian, of shape
      ``out.shape + arg.shape`` (a tuple of them when ``argnums`` is a tuple).

    >>> import tensorflow as tf
    >>> J = jacrev(lambda x, a: a * x**2)
    >>> J(tf.constant([1.0, 2.0]), 3.0).numpy().tolist()  # diag(2 a x)
    [[6.0, 0.0], [0.0, 12.0]]
    """
    return _jacobian_function(fn, argnums, "reverse")


def jacfwd(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """The Jacobian of ``fn`` as a function, in forward mode, as ``jax.jacfwd``.

    One forward pass per input element, vectorised; the better mode for few
    inputs and many outputs. Same arguments and result as :func:`jacrev`.

    >>> import tensorflow as tf
    >>> jacfwd(tf.sin)(tf.constant([0.0])).numpy().tolist()  # cos(0)
    [[1.0]]
    """
    return _jacobian_function(fn, argnums, "forward")


def jacobian(fn: Callable[..., Any], *sources: Any, mode: str = "reverse") -> Any:
    """The Jacobian of ``fn`` at ``sources``: shape ``out.shape + source.shape``.

    ``mode="reverse"`` (``tape.jacobian``) costs one backward pass per output
    element; ``mode="forward"`` (``ForwardAccumulator``) one forward pass per
    input element. Both are vectorised (pfor: TF's automatic batching of a
    loop), and they agree to round-off. Pick reverse for few outputs and many
    inputs (a loss against weights), forward for few inputs and many outputs.
    Eagerly, the computation is compiled with ``tf.function`` once per ``fn``,
    mode and the values ``fn`` reads, so ``fn`` runs as a traced graph (Python
    side effects happen at tracing only). A value ``fn`` reads from a closure,
    a default argument or a global (numbers, NumPy arrays, and lists, tuples and
    dicts of them) that changes makes a new trace, never an old answer; an
    attribute of another object is not seen: pass it as an argument, or keep it
    in a ``tf.Variable`` (``tapelab/_cache.py``).

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


def hessian(fn: Callable[..., Any], x: Any) -> tf.Tensor:
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


def hvp(fn: Callable[..., Any], x: Any, v: Any) -> tf.Tensor:
    """The Hessian-vector product ``H(x) @ v`` of a scalar ``fn``, without forming ``H``.

    Computed reverse-over-reverse, as the vjp of the gradient: since ``H`` is
    symmetric, ``v @ H == H @ v``. TensorFlow's forward mode (the jvp of the
    gradient, JAX's choice) measured slower here, eagerly and compiled: the
    README's speed table and ``benchmarks/bench_transforms.py`` (``make bench``)
    have the numbers. Eagerly it is compiled once per ``fn``, as
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
