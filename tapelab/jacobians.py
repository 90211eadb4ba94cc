"""Jacobians, Hessians and Hessian-vector products, vectorised (pfor) and compiled.

``jacrev(fn)``, ``jacfwd(fn)`` and ``hessian(fn)`` return functions, as
``jax.jacrev``, ``jax.jacfwd`` and ``jax.hessian`` do; ``jacobian(fn, *sources)``,
``hessian(fn, x)`` and ``hvp(fn, x, v)`` evaluate at a point, as
``torch.autograd.functional.jacobian`` and ``tape.jacobian`` do. Every one takes
structures (dicts, tuples and lists of tensors, JAX's pytrees) and gives its
result in them. ``hessian`` is the Jacobian of the Jacobian; ``hvp`` is the vjp
of ``grad``.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tapelab import _trees
from tapelab._cache import CompileCache
from tapelab._jacobian_modes import HELPERS, MODES, jacobian_of
from tapelab._sources import dense_only
from tapelab.transforms import check_flag, grad, no_keywords, pick_args, transformed, vjp

# --- Jacobians: vectorised (pfor), so compiled ---------------------------------------------
#
# tape.jacobian and tf.vectorized_map compile a tf.function on every eager call
# (and TF warns "triggered tf.function retracing"). So, eagerly, we compile the
# whole computation once per fn, mode and what fn reads (tapelab/_cache.py: a
# changed closure or global is a new trace, never a stale answer) and reuse it.
# Inside a user's tf.function it simply runs inline (CompileCache.function).

COMPILED = CompileCache()


def _checked(sources, helper):
    """Sources (each a tensor, or a structure of them) under tapelab's rules, dense."""
    trees = tuple(_trees.as_tree(x, i) for i, x in enumerate(sources))
    if not trees:
        raise TypeError(f"`{helper}` needs at least one source to differentiate. Received: "
                        "none. Call it with the point, e.g. jacobian(f, x).")
    dense_only(tf.nest.flatten(trees), helper)
    return trees


def _picked_jacobian(mode, picked, single, has_aux, holomorphic, fn, *args):
    """The Jacobian of ``fn(*args)`` with respect to the arguments at ``picked``."""
    def of_picked(*sources):
        full = list(args)
        for i, s in zip(picked, sources):
            full[i] = s
        return fn(*full)

    return jacobian_of(mode, single, of_picked, *[args[i] for i in picked], has_aux=has_aux,
                       holomorphic=holomorphic)


def _jacobian_at(mode, fn, argnums, has_aux, holomorphic, *args, **kwargs):
    """``jacrev``'s and ``jacfwd``'s function: the Jacobian at ``args``, compiled."""
    no_keywords(kwargs, HELPERS[mode])
    picked = pick_args(argnums, len(args))
    single = isinstance(argnums, numbers.Integral)
    helper = HELPERS[mode]
    args = list(args)
    for i, source in zip(picked, _checked([args[i] for i in picked], helper)):
        args[i] = source
    impl = functools.partial(_picked_jacobian, mode, picked, single, has_aux, holomorphic)
    return COMPILED.function(fn, (helper, picked, single, has_aux, holomorphic), impl)(*args)


def _function(mode, fn, argnums, has_aux, holomorphic):
    helper = HELPERS[mode]
    check_flag(has_aux, "has_aux", helper)
    check_flag(holomorphic, "holomorphic", helper)
    return transformed(functools.partial(_jacobian_at, mode), fn, argnums, has_aux, holomorphic)


_JAC_ARGS = """
    Args:
      fn: a function returning a tensor, or a dict, tuple or list of tensors
        (with ``has_aux``, a pair ``(output, aux)``).
      argnums: which argument to differentiate (an int), or a tuple of them; the
        others are passed through unchanged (a Python number among them is traced
        as a constant, as ``tf.function`` does: pass a tensor for a value that
        changes). A differentiated argument may be a structure of tensors.
      has_aux: ``fn`` returns ``(output, aux)``; the result is ``(Jacobian, aux)``.
      holomorphic: ``fn`` is holomorphic in complex arguments: give its complex
        Jacobian ``f'(z)``, as JAX's does.

    Returns:
      A function of ``fn``'s arguments returning the Jacobian, of shape
      ``out.shape + arg.shape`` (a tuple of them when ``argnums`` is a tuple),
      in the structures :func:`jacobian` gives.
"""


def jacrev(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0, has_aux: bool = False,
           holomorphic: bool = False) -> Callable[..., Any]:
    """The Jacobian of ``fn`` as a function, in reverse mode, as ``jax.jacrev``.

    One backward pass per output element, vectorised; the better mode for few
    outputs and many inputs. ``jacrev(fn)(*args)`` equals ``jacobian(fn, *args)``
    when ``argnums`` picks every argument. A complex output needs ``holomorphic``.
    {args}
    >>> import tensorflow as tf
    >>> import tapelab
    >>> J = tapelab.jacrev(lambda x, a: a * x**2)
    >>> J(tf.constant([1.0, 2.0]), 3.0).numpy().tolist()  # diag(2 a x)
    [[6.0, 0.0], [0.0, 12.0]]
    """
    return _function("reverse", fn, argnums, has_aux, holomorphic)


def jacfwd(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0, has_aux: bool = False,
           holomorphic: bool = False) -> Callable[..., Any]:
    """The Jacobian of ``fn`` as a function, in forward mode, as ``jax.jacfwd``.

    One forward pass per input element, vectorised; the better mode for few
    inputs and many outputs. A complex input needs ``holomorphic``.
    {args}
    >>> import tensorflow as tf
    >>> import tapelab
    >>> tapelab.jacfwd(tf.sin)(tf.constant([0.0])).numpy().tolist()  # cos(0)
    [[1.0]]
    """
    return _function("forward", fn, argnums, has_aux, holomorphic)


jacrev.__doc__ = jacrev.__doc__.format(args=_JAC_ARGS)
jacfwd.__doc__ = jacfwd.__doc__.format(args=_JAC_ARGS)


def jacobian(fn: Callable[..., Any], *sources: Any, mode: str = "reverse",
             holomorphic: bool = False) -> Any:
    """The Jacobian of ``fn`` at ``sources``: shape ``out.shape + source.shape``.

    ``mode="reverse"`` (``tape.jacobian``) costs one backward pass per output
    element; ``mode="forward"`` (``ForwardAccumulator``) one forward pass per
    input element. Both are vectorised (pfor: TF's automatic batching of a
    loop), and they agree to round-off. Pick reverse for few outputs and many
    inputs (a loss against weights), forward for few inputs and many outputs.
    Eagerly, the computation is compiled with ``tf.function`` once per ``fn``,
    mode, structure and the values ``fn`` reads, so ``fn`` runs as a traced graph (Python
    side effects happen at tracing only). A value ``fn`` reads from a closure,
    a default argument, a global or a module's attribute (numbers, NumPy arrays,
    and containers of them) that changes makes a new trace, never an old answer;
    an attribute of another object is not seen: pass it as an argument, or keep it
    in a ``tf.Variable`` (``tapelab/_cache.py``).

    Structures nest as in ``jax.jacrev``: a source that is a dict, tuple or list
    of tensors gives its Jacobians in that structure, and an output that is a
    dict, tuple or list gives that structure outside, each entry holding what a
    single tensor output would give. Both modes take the same structures.

    Args:
      fn: a function of ``len(sources)`` arguments returning a tensor, or a
        dict, tuple or list of tensors.
      *sources: the point, as for ``value_and_gradient``; each may also be a
        dict, tuple or list (nested) of such values.
      mode: ``"reverse"`` or ``"forward"``.
      holomorphic: give the complex Jacobian ``f'(z)`` of a holomorphic ``fn``.

    Returns:
      One Jacobian for one source, a tuple for several (each in its source's
      structure); in ``fn``'s output structure when it returns one.

    >>> import tensorflow as tf
    >>> import tapelab
    >>> J = tapelab.jacobian(lambda x: x**2, tf.constant([1.0, 2.0]))
    >>> J.numpy().tolist()  # diag(2x)
    [[2.0, 0.0], [0.0, 4.0]]
    >>> J = tapelab.jacobian(lambda p: {"y": p["a"] * p["b"]}, {"a": 2.0, "b": 3.0})
    >>> {k: float(v) for k, v in J["y"].items()}  # {"y": {"a": b, "b": a}}
    {'a': 3.0, 'b': 2.0}
    """
    if mode not in MODES:
        raise ValueError(
            f"`mode` must be 'reverse' or 'forward'. Received: mode={mode!r}."
        )
    check_flag(holomorphic, "holomorphic", "jacobian")
    sources = _checked(sources, "jacobian")
    single = len(sources) == 1
    impl = functools.partial(_jacobian_all, mode, single, holomorphic)
    return COMPILED.function(fn, ("jacobian", mode, single, holomorphic), impl)(*sources)


def _jacobian_all(mode, single, holomorphic, fn, *sources):
    return jacobian_of(mode, single, fn, *sources, holomorphic=holomorphic)


def _hessian_at(fn, argnums, has_aux, holomorphic, *args, **kwargs):
    """``hessian``'s function: the Jacobian of the Jacobian, reverse over reverse."""
    no_keywords(kwargs, "hessian")
    picked = pick_args(argnums, len(args))
    single = isinstance(argnums, numbers.Integral)
    args = list(args)
    for i, source in zip(picked, _checked([args[i] for i in picked], "hessian")):
        args[i] = source
    impl = functools.partial(_picked_hessian, picked, single, has_aux, holomorphic)
    return COMPILED.function(fn, ("hessian", picked, single, has_aux, holomorphic), impl)(*args)


def _picked_hessian(picked, single, has_aux, holomorphic, fn, *args):
    aux = []

    def first(*full):  # the Jacobian as a function of the picked arguments (and its aux)
        def of_picked(*sources):
            rebuilt = list(full)
            for i, s in zip(picked, sources):
                rebuilt[i] = s
            return fn(*rebuilt)

        result = jacobian_of("reverse", single, of_picked, *[full[i] for i in picked],
                             has_aux=has_aux, holomorphic=holomorphic)
        if has_aux:
            result, extra = result
            aux[:] = [extra]
        return result

    H = _picked_jacobian("reverse", picked, single, False, holomorphic, first, *args)
    return (H, aux[0]) if has_aux else H


def hessian(fn: Callable[..., Any], *args: Any, argnums: int | tuple[int, ...] = 0,
            has_aux: bool = False, holomorphic: bool = False) -> Any:
    """The Hessian of ``fn``: ``hessian(fn)`` is a function, as ``jax.hessian``; with a
    point, ``hessian(fn, x)`` is its value there.

    It is the Jacobian of the Jacobian, with the shape ``out.shape + x.shape +
    x.shape``: a scalar ``fn`` of a vector gives a matrix, a vector-valued one a
    stack of them. Structures nest as in JAX (output outside, then the argument's
    structure twice). Computed reverse over reverse, vectorised (pfor), compiled
    once per ``fn`` as :func:`jacobian` is.

    Args:
      fn: a function returning a tensor or a structure of them.
      *args: the point; none to get the function.
      argnums: which argument to differentiate (an int), or a tuple of them.
      has_aux: ``fn`` returns ``(output, aux)``; the result is ``(Hessian, aux)``.
      holomorphic: the complex Hessian of a holomorphic ``fn``.

    Returns:
      The Hessian at ``args``, or, with no ``args``, a function of them.

    >>> import tensorflow as tf
    >>> import tapelab
    >>> H = tapelab.hessian(lambda x: tf.reduce_sum(x**3) + x[0] * x[1], tf.constant([1.0, 2.0]))
    >>> H.numpy().tolist()  # [[6 x0, 1], [1, 6 x1]]
    [[6.0, 1.0], [1.0, 12.0]]
    >>> tapelab.hessian(lambda x: x**3)(tf.constant([1.0, 2.0])).shape  # a vector-valued fn
    TensorShape([2, 2, 2])
    """
    check_flag(has_aux, "has_aux", "hessian")
    check_flag(holomorphic, "holomorphic", "hessian")
    function = transformed(_hessian_at, fn, argnums, has_aux, holomorphic)
    return function(*args) if args else function


def hvp(fn: Callable[..., Any], x: Any, v: Any) -> Any:
    """The Hessian-vector product ``H(x) @ v`` of a scalar ``fn``, without forming ``H``.

    Computed reverse-over-reverse, as the vjp of the gradient: since ``H`` is
    symmetric, ``v @ H == H @ v``. Of the three nestings, this one measured
    fastest here, eagerly and compiled; eagerly it also held the least memory,
    and compiled the three held about the same. Forward over reverse (JAX's
    choice) gains nothing in TensorFlow, which computes a forward-mode jvp from
    each op's backward function. The times are on the book's Speed page
    (``benchmarks/bench_transforms.py``, ``make bench``); notebook 09 measures
    time and memory. Eagerly it is compiled once per ``fn``, as :func:`jacobian`
    is.

    Args:
      fn: a function of one argument returning a scalar.
      x: the point: a tensor, or a structure of tensors.
      v: a direction of ``x``'s structure, shapes and dtype.

    Returns:
      ``H @ v``, in ``x``'s structure.

    >>> import tensorflow as tf
    >>> import tapelab
    >>> f = lambda x: tf.reduce_sum(x**3)  # H = diag(6x)
    >>> tapelab.hvp(f, tf.constant([1.0, 2.0]), tf.constant([1.0, 1.0])).numpy().tolist()
    [6.0, 12.0]
    """
    (x,) = _checked((x,), "hvp")
    v = _trees.like(v, x, "v")
    return COMPILED.function(fn, ("hvp",), _hvp)(x, v)


def _hvp(fn, x, v):
    _, vjp_fn = vjp(grad(fn), x)  # reverse over reverse: v @ H = H @ v
    return vjp_fn(v)[0]
