"""Function transforms on the tape, as in JAX and torch.func: grad, jvp, vjp.

``grad(fn)`` returns a function, as ``jax.grad`` and ``torch.func.grad`` do;
``jvp`` and ``vjp`` evaluate at a point, as theirs do; ``has_aux=True`` on
``grad`` and ``vjp`` (and ``value_and_gradient``) passes a second output back
untouched. The Jacobian family is in ``jacobians.py``, ``vmap`` in
``vectorize.py``, ``jit`` in ``compiling.py``. Each is a few lines over
``tf.GradientTape`` or ``tf.autodiff.ForwardAccumulator``, and they compose.

Arguments follow tapelab's one set of input rules (``_sources.as_source``):
Python numbers become float32 tensors (complex numbers complex64), integer
sources raise ``TypeError``; and each may be a structure, a dict, tuple or list
(nested) of them, whose derivative comes back in that structure
(``_trees.py``, JAX's pytrees). Where a source does not reach the output, the
derivative is zeros, as in JAX. They run eagerly (a ``print`` in ``fn`` prints
on every call, as with ``jax.grad``); wrap them in ``tapelab.jit`` to compile.

Notation: for ``y = f(x)`` with Jacobian ``J = dy/dx``, a jvp is ``J @ t``
(forward mode: one pass per input direction ``t``, the *tangent*, at the point
``x``, the *primal*), a vjp is ``c @ J`` (reverse mode: one pass per output
direction ``c``, the *cotangent*).

Complex numbers: TensorFlow's reverse mode gives, for a real ``f`` of complex
``z``, the conjugate of JAX's gradient (``|z|**2`` at ``3+4j``: ``6+8j`` here,
``6-8j`` in JAX), the direction of steepest ascent; for a holomorphic ``f``,
``tape.gradient`` gives ``conj(f'(z))``. ``grad(f, holomorphic=True)`` returns
``f'(z)`` itself, as JAX's does; without it a complex output is refused, as in
JAX. ``vjp`` keeps TF's convention, the adjoint: ``vjp_fn(c)`` here is
``conj(jax_vjp_fn(conj(c)))``. Forward mode (``jvp``) is the same in both:
``J @ t``. ``tests/test_cookbook.py`` checks each against JAX's own answers.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tapelab import _trees
from tapelab._sources import dense_only, is_variable, watchable
from tapelab.watching import tape

ZERO = tf.UnconnectedGradients.ZERO


def pick_args(argnums, n):
    """Validate ``argnums`` against ``n`` arguments; return a tuple of indices."""
    single = isinstance(argnums, numbers.Integral) and not isinstance(argnums, bool)
    items = (argnums,) if single else (tuple(argnums) if isinstance(argnums, list) else argnums)
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
    picked = tuple(i % n for i in items)
    if len(set(picked)) < len(picked):
        raise ValueError(
            f"`argnums` must name each argument once. Received: argnums={argnums!r}. Drop the "
            "repeated position (its gradient is the same).")
    return picked


def no_keywords(kwargs, helper):
    """Refuse keyword arguments to a transformed function, naming them and the fix."""
    if kwargs:
        names = ", ".join(sorted(kwargs))
        raise TypeError(
            f"A function made by tapelab.{helper} takes positional arguments only. Received: "
            f"keyword argument(s) {names}. Bind them first, e.g. "
            f"{helper}(functools.partial(f, {names.split(', ')[0]}=...)), or pass them "
            "positionally.")


def check_callable(fn, helper):
    if not callable(fn):
        raise TypeError(f"`fn` must be a callable for {helper}. Received: "
                        f"{type(fn).__name__} {fn!r}.")


def check_flag(value, name, helper):
    """Refuse a flag that is not a bool (``has_aux="yes"`` meaning True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False in {helper}. Received: "
                        f"{name}={value!r}.")


def split_aux(result, has_aux, helper):
    """``(output, aux)`` of what ``fn`` returned: ``aux`` is None without ``has_aux``."""
    check_flag(has_aux, "has_aux", helper)
    if not has_aux:
        return result, None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(
            f"`fn` must return a pair (output, aux) when has_aux=True in {helper}. Received: "
            f"{type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
            + ". Return (output, aux), or call without has_aux.")
    return result[0], result[1]


def transformed(impl, fn, *settings):
    """``impl`` bound to ``fn`` and its settings, named after ``fn``: a partial of a
    module-level function, so the compile cache reads ``fn`` through it (a closure of
    tapelab's own code would count only by identity)."""
    name = getattr(impl, "__name__", getattr(getattr(impl, "func", None), "__name__", "a"))
    check_callable(fn, name.strip("_").split("_")[0])
    bound = functools.partial(impl, fn, *settings)
    try:
        functools.update_wrapper(bound, fn)
    except AttributeError:  # a callable without __name__ (a partial): keep the partial's
        pass
    return bound


def record(fn, args, picked, persistent, watch_variables=False):
    """``fn(*args)`` on a tape that watches the leaves of the arguments at ``picked``.

    Each picked argument is converted by :func:`tapelab._trees.as_tree` (a source
    or a structure of them) and passed to ``fn`` as converted; tensors are watched
    explicitly, variables on access as in raw TF (so a non-trainable one gets
    None), or explicitly too with ``watch_variables`` (JAX's transforms
    differentiate whatever they are given). A tensor passed in two places is
    given to ``fn`` as two tensors (``tf.identity``), so each place gets its own
    gradient, as in JAX, not their sum.

    Returns:
      ``(tape, fn's result, the picked arguments as converted, their leaves)``.
    """
    if not picked:
        raise TypeError(
            "At least one source is required: the values to differentiate with respect "
            "to. Received: no sources. Call e.g. value_and_gradient(f, x).")
    trees = distinct([_trees.as_tree(args[i], i) for i in picked])
    flat = _trees.leaves(trees)
    full = list(args)
    for i, tree in zip(picked, trees):
        full[i] = tree
    watched = [leaf for leaf in flat if watch_variables or not is_variable(leaf)]
    with tape(watch=watched, persistent=persistent) as t:
        out = fn(*full)
    return t, out, trees, flat


def distinct(trees):
    """``trees`` with a tensor that stands in several places copied (``tf.identity``), so
    that each place is its own source (a tape would give each the sum of all)."""
    flat, seen, copied = _trees.leaves(trees), set(), False
    out = []
    for leaf in flat:
        if id(leaf) in seen and not is_variable(leaf):
            leaf, copied = tf.identity(leaf), True
        seen.add(id(leaf))
        out.append(leaf)
    return _trees.rebuild(trees, out) if copied else trees


def real_output(y, helper, holomorphic, fix):
    """Refuse a complex output without ``holomorphic=True`` (as JAX), and a real one
    with it; ``fix`` says what else to use."""
    complex_ = tf.as_dtype(y.dtype).is_complex
    if complex_ and not holomorphic:
        raise TypeError(
            f"{helper} requires a real-valued output, as JAX's does. Received: dtype "
            f"{tf.as_dtype(y.dtype).name}. For a holomorphic function pass holomorphic=True "
            f"(the complex derivative f'(z)); for a non-holomorphic one {fix}.")
    if holomorphic and not complex_:
        raise TypeError(
            f"{helper} with holomorphic=True requires a complex output, as JAX's does. "
            f"Received: dtype {tf.as_dtype(y.dtype).name}. Drop holomorphic=True.")


def complex_inputs(flat, helper):
    """With ``holomorphic=True`` every source must be complex, as in JAX."""
    real = [x for x in flat if not tf.as_dtype(x.dtype).is_complex]
    if real:
        raise TypeError(
            f"{helper} with holomorphic=True requires complex inputs, as JAX's does. "
            f"Received: a source of dtype {tf.as_dtype(real[0].dtype).name}. Make it "
            "complex (tf.cast(x, tf.complex64)), or drop holomorphic=True.")


def real_or_complex(y, helper):
    """Refuse an integer or bool output: it has no derivative (JAX refuses it too)."""
    dtype = tf.as_dtype(y.dtype)
    if not (dtype.is_floating or dtype.is_complex):
        raise TypeError(
            f"{helper} requires a float output to differentiate, as JAX's does. Received: "
            f"dtype {dtype.name}. An integer or bool result has no derivative: return the "
            "float value before the cast (or argmax, or comparison).")


def _grad(fn, argnums, has_aux, holomorphic, *args, **kwargs):
    no_keywords(kwargs, "grad")
    picked = pick_args(argnums, len(args))
    t, result, trees, flat = record(fn, args, picked, persistent=False, watch_variables=True)
    y, aux = split_aux(result, has_aux, "grad")
    if isinstance(y, (numbers.Number, np.generic)):
        y = tf.constant(y, flat[0].dtype)  # a constant: its gradient is zero
    if not tf.is_tensor(y) or y.shape.rank != 0:
        raise ValueError(
            "`fn` must return a scalar for grad. Received: "
            f"{getattr(y, 'shape', type(y).__name__)}. Reduce it first "
            "(tf.reduce_sum), or use jacrev or vjp for a non-scalar output.")
    real_or_complex(y, "grad")
    real_output(y, "grad", holomorphic, "use jvp or vjp")
    if holomorphic:
        complex_inputs(flat, "grad")
    g = [tf.convert_to_tensor(d) for d in t.gradient(y, flat, unconnected_gradients=ZERO)]
    if holomorphic:  # the tape gives conj(f'(z)); JAX's grad gives f'(z)
        g = [tf.math.conj(d) for d in g]
    per_arg = _trees.rebuild(trees, g)
    g = per_arg[0] if isinstance(argnums, numbers.Integral) else tuple(per_arg)
    return (g, aux) if has_aux else g


def grad(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0, has_aux: bool = False,
         holomorphic: bool = False) -> Callable[..., Any]:
    """The gradient of a scalar function, as a function: ``grad(f)(x) = df/dx``.

    Args:
      fn: a function returning a scalar tensor (with ``has_aux``, a pair
        ``(scalar, aux)``).
      argnums: which argument to differentiate (an int), or a tuple of them. Each
        may be a structure (a dict, tuple or list of tensors).
      has_aux: if True, ``fn`` returns ``(scalar, aux)``; ``aux`` (any value, a
        metric say) comes back untouched and is not differentiated.
      holomorphic: for a complex ``fn`` of complex arguments that is holomorphic:
        return ``f'(z)``, as ``jax.grad`` does (without it a complex output is
        refused; the module's docstring gives TF's convention for real ones).

    Returns:
      A function taking ``fn``'s arguments and returning the gradient, in the
      argument's structure (one, or a tuple when ``argnums`` is a tuple), or
      ``(gradient, aux)`` with ``has_aux``. It composes: ``grad(grad(f))`` is the
      second derivative.

    >>> import tensorflow as tf
    >>> from tapelab import grad
    >>> d2 = grad(grad(lambda x: x**3))  # 6x
    >>> float(d2(2.0))
    12.0
    >>> g = grad(lambda p: p["w"] ** 2 + 3.0 * p["b"])({"w": 2.0, "b": 1.0})
    >>> {k: float(v) for k, v in g.items()}
    {'w': 4.0, 'b': 3.0}
    >>> complex(grad(tf.square, holomorphic=True)(1 + 2j))  # f'(z) = 2z, as jax.grad
    (2+4j)
    >>> complex(grad(lambda z: tf.math.real(z * tf.math.conj(z)))(3 + 4j))  # |z|**2: TF's, JAX 6-8j
    (6+8j)
    """
    check_flag(has_aux, "has_aux", "grad")
    check_flag(holomorphic, "holomorphic", "grad")
    return transformed(_grad, fn, argnums, has_aux, holomorphic)


def jvp(fn: Callable[..., Any], primals: tuple, tangents: tuple,
        has_aux: bool = False) -> tuple:
    """Forward mode: ``fn(*primals)`` and its directional derivative ``J @ tangents``.

    Args:
      fn: a function of ``len(primals)`` arguments (with ``has_aux``, returning a
        pair ``(output, aux)``).
      primals: a tuple of points (tensors, arrays, numbers, or structures of them).
      tangents: a tuple of directions, one per primal, each of its primal's
        structure, shapes and dtype.
      has_aux: if True, ``aux`` comes back untouched as a third result.

    Returns:
      ``(outputs, output_tangents)``: ``fn(*primals)`` and, with the same
      structure, how it changes along ``tangents``; ``(outputs, output_tangents,
      aux)`` with ``has_aux``.

    >>> import tensorflow as tf
    >>> import tapelab
    >>> y, dy = tapelab.jvp(lambda x: tf.sin(x) * x, (1.0,), (2.0,))  # dy = (sin x + x cos x) t
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
    check_callable(fn, "jvp")
    trees = distinct([_trees.as_tree(p, i) for i, p in enumerate(primals)])
    flat = dense_only(_trees.leaves(trees), "jvp")
    directions = [_trees.like(t, tree, f"tangents[{i}]")
                  for i, (t, tree) in enumerate(zip(tangents, trees))]
    quiet = contextlib.nullcontext()
    if any(p.dtype.is_complex for p in flat):  # TF warns, wrongly, of a complex primal
        from tapelab._keras_internals import quiet_complex_forward  # imports Keras: not before

        quiet = quiet_complex_forward()
    with quiet, tf.autodiff.ForwardAccumulator(
            [watchable(p) for p in flat], _trees.leaves(directions)) as acc:
        result = fn(*trees)
    out, aux = split_aux(result, has_aux, "jvp")
    out = tf.nest.map_structure(tf.convert_to_tensor, out)
    tangent = tf.nest.map_structure(lambda o: acc.jvp(o, unconnected_gradients=ZERO), out)
    return (out, tangent, aux) if has_aux else (out, tangent)


def vjp(fn: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple:
    """Reverse mode: ``fn(*primals)`` and a function for ``cotangent @ J``.

    Args:
      fn: a function of ``len(primals)`` arguments returning a tensor or a
        structure of tensors (with ``has_aux``, a pair ``(output, aux)``).
      *primals: the point (tensors, arrays, numbers, variables, or structures of them).
      has_aux: if True, ``fn`` returns ``(output, aux)``, and ``aux`` comes back
        untouched as a third result.

    Returns:
      ``(outputs, vjp_fn)``, or ``(outputs, vjp_fn, aux)`` with ``has_aux``;
      ``vjp_fn(cotangent)``, with a cotangent of the outputs' structure, shapes
      and dtypes, returns a tuple with one gradient per primal, each in its
      primal's structure. The tape is kept, for as many calls as you like, until
      ``vjp_fn`` is deleted. (For complex values it is ``tape.gradient`` with
      ``output_gradients``, the adjoint: ``vjp_fn(c)`` is
      ``conj(jax_vjp_fn(conj(c)))``; the module's docstring has more.)

    >>> import tensorflow as tf
    >>> import tapelab
    >>> y, vjp_fn = tapelab.vjp(lambda a, b: a * b, 2.0, 3.0)
    >>> [float(g) for g in vjp_fn(tf.constant(1.0))]  # (b, a)
    [3.0, 2.0]
    """
    check_callable(fn, "vjp")
    t, result, trees, flat = record(fn, primals, tuple(range(len(primals))), persistent=True,
                                    watch_variables=True)
    out, aux = split_aux(result, has_aux, "vjp")
    for leaf in _trees.leaves(out):
        if not tf.is_tensor(leaf):
            raise TypeError(
                "`fn` must return a tensor, or a structure of tensors, for vjp. Received: "
                f"{type(leaf).__name__} in {type(out).__name__} output.")
        real_or_complex(leaf, "vjp")
    vjp_fn = functools.partial(_pull_back, t, out, trees, flat)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def _pull_back(t, out, trees, flat, cotangent):
    """``cotangent @ J`` from the kept tape: one gradient per primal, in its structure."""
    cotangent = _trees.like(cotangent, out, "cotangent", of="output")
    g = t.gradient(_trees.leaves(out), flat, output_gradients=_trees.leaves(cotangent),
                   unconnected_gradients=ZERO)
    return tuple(_trees.rebuild(trees, [tf.convert_to_tensor(d) for d in g]))
