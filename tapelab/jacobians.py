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
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tapelab._cache import CompileCache
from tapelab._jacobian_modes import MODES, jacobian_of
from tapelab._sources import as_source, as_structured_sources, dense_only
from tapelab.transforms import grad, pick_args, vjp

# --- Jacobians: vectorised (pfor), so compiled ---------------------------------------------
#
# tape.jacobian and tf.vectorized_map compile a tf.function on every eager call
# (and TF warns "triggered tf.function retracing"). So, eagerly, we compile the
# whole computation once per fn, mode and what fn reads (tapelab/_cache.py: a
# changed closure or global is a new trace, never a stale answer) and reuse it.
# Inside a user's tf.function it simply runs inline (CompileCache.function).

COMPILED = CompileCache()


def _picked_jacobian(mode, picked, single, fn, *args):
    """The Jacobian of ``fn(*args)`` with respect to the arguments at ``picked``."""
    def of_picked(*sources):
        full = list(args)
        for i, s in zip(picked, sources):
            full[i] = s
        return fn(*full)

    return jacobian_of(mode, single, of_picked, *[args[i] for i in picked])


def _checked(sources, helper):
    """Sources (each a tensor, or a dict or tuple of them) under tapelab's rules, dense."""
    sources = as_structured_sources(sources)
    dense_only(tf.nest.flatten(sources), helper)
    return sources


_HELPER_NAMES = {"reverse": "jacrev", "forward": "jacfwd"}


def _jacobian_function(fn, argnums, mode):
    """``jacrev`` and ``jacfwd``: the Jacobian as a function of ``fn``'s arguments."""
    helper = _HELPER_NAMES[mode]

    def jacobian_fn(*args):
        picked = pick_args(argnums, len(args))
        single = isinstance(argnums, numbers.Integral)
        args = list(args)
        for i, source in zip(picked, _checked([args[i] for i in picked], helper)):
            args[i] = source
        impl = functools.partial(_picked_jacobian, mode, picked, single)
        return COMPILED.function(fn, (helper, picked, single), impl)(*args)

    return jacobian_fn


def jacrev(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """The Jacobian of ``fn`` as a function, in reverse mode, as ``jax.jacrev``.

    One backward pass per output element, vectorised; the better mode for few
    outputs and many inputs. ``jacrev(fn)(*args)`` equals
    ``jacobian(fn, *args)`` when ``argnums`` picks every argument.

    Args:
      fn: a function returning a tensor, or a dict, tuple or list of tensors.
      argnums: which argument to differentiate (an int), or a tuple of them; the
        others are passed through unchanged (a Python number among them is traced
        as a constant, as ``tf.function`` does: pass a tensor for a value that changes). A differentiated argument may be a
        dict or tuple of tensors, as in :func:`jacobian`.

    Returns:
      A function of ``fn``'s arguments returning the Jacobian, of shape
      ``out.shape + arg.shape`` (a tuple of them when ``argnums`` is a tuple),
      in the structures :func:`jacobian` gives.

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
    mode, structure and the values ``fn`` reads, so ``fn`` runs as a traced graph (Python
    side effects happen at tracing only). A value ``fn`` reads from a closure,
    a default argument or a global (numbers, NumPy arrays, and lists, tuples and
    dicts of them) that changes makes a new trace, never an old answer; an
    attribute of another object is not seen: pass it as an argument, or keep it
    in a ``tf.Variable`` (``tapelab/_cache.py``).

    Structures nest as in ``jax.jacrev``: a source that is a dict or tuple of
    tensors (as ``tape.jacobian`` takes them) gives its Jacobians in that
    structure, and an output that is a dict, tuple or list gives that structure
    outside, each entry holding what a single tensor output would give. Both
    modes take the same structures.

    Args:
      fn: a function of ``len(sources)`` arguments returning a tensor, or a
        dict, tuple or list of tensors.
      *sources: the point, as for ``value_and_gradient``; each may also be a
        dict or tuple (nested) of such values (a list is refused, as there).
      mode: ``"reverse"`` or ``"forward"``.

    Returns:
      One Jacobian for one source, a tuple for several (each in its source's
      structure); in ``fn``'s output structure when it returns one.

    >>> import tensorflow as tf
    >>> J = jacobian(lambda x: x**2, tf.constant([1.0, 2.0]))
    >>> J.numpy().tolist()  # diag(2x)
    [[2.0, 0.0], [0.0, 4.0]]
    >>> J = jacobian(lambda p: {"y": p["a"] * p["b"]}, {"a": 2.0, "b": 3.0})
    >>> {k: float(v) for k, v in J["y"].items()}  # {"y": {"a": b, "b": a}}
    {'a': 3.0, 'b': 2.0}
    """
    if mode not in MODES:
        raise ValueError(
            f"`mode` must be 'reverse' or 'forward'. Received: mode={mode!r}."
        )
    sources = _checked(sources, "jacobian")
    single = len(sources) == 1
    return COMPILED.function(fn, ("jacobian", mode, single),
                     functools.partial(jacobian_of, mode, single))(*sources)


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
    return COMPILED.function(fn, ("hessian",), _hessian)(x)


def hvp(fn: Callable[..., Any], x: Any, v: Any) -> tf.Tensor:
    """The Hessian-vector product ``H(x) @ v`` of a scalar ``fn``, without forming ``H``.

    Computed reverse-over-reverse, as the vjp of the gradient: since ``H`` is
    symmetric, ``v @ H == H @ v``. Of the three nestings, this one measured
    fastest here, eagerly and compiled; eagerly it also held the least memory,
    and compiled the three held about the same. Forward over reverse (JAX's
    choice) gains nothing in TensorFlow, which computes a forward-mode jvp from
    each op's backward function. The times are in the README's speed table
    (``benchmarks/bench_transforms.py``, ``make bench``); notebook 09 measures
    time and memory. Eagerly it is compiled once per ``fn``, as :func:`jacobian`
    is.

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
    return COMPILED.function(fn, ("hvp",), _hvp)(x, v)


def _hessian(fn, x):
    return jacobian_of("reverse", True, grad(fn), x)


def _hvp(fn, x, v):
    _, vjp_fn = vjp(grad(fn), x)  # reverse over reverse: v @ H = H @ v
    return vjp_fn(v)[0]
