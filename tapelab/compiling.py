"""`jit`: a function compiled with ``tf.function``, under the one cache's never-stale rule.

``jit(f)`` traces ``f`` into a TensorFlow graph on its first call and runs the
graph afterwards, as ``jax.jit`` does with XLA. It composes with the other
transforms: ``jit(grad(f))``, ``jit(vmap(...))``, ``jit(vjp_fn)``. A trace bakes
in the Python values ``f`` reads; the one compile cache (``tapelab/_cache.py``)
sees them change (a closure, a global, a module's attribute) and traces anew,
where a plain ``tf.function`` would keep the old value. Python side effects (a
``print``) happen while tracing only, as with ``jax.jit``.

A call costs TensorFlow's per-call floor: for the cookbook's tiny logistic-loss
gradient, 0.3 to 0.4 ms here, where ``jax.jit`` takes 0.016 ms
(``benchmarks/bench_jax.py`` times both, side by side). To lower it, each input
signature's traced concrete function is kept and called directly on its flat
tensors, skipping ``tf.function``'s dispatch and signature binding: 0.82 of a
``tf.function`` call here. NumPy arrays and Python floats are passed as tensors,
as ``jax.jit`` traces them: one trace per shape and dtype, not one per value.

``jit_compile=True`` compiles the graph with XLA too, as ``jax.jit`` always
does. It was faster in every case measured here (0.53 to 0.87 of the plain
graph's time: Jacobians, Hessians, hvp, per-example gradients, and tiny
functions) but it is not the default, because XLA changes what a function
means: ``tf.debugging`` checks (``check_numerics``, ``assert_positive``...) do
not run under it, silently, and a graph with an op XLA lacks (strings,
``tf.py_function``) raises at its first call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tapelab._cache import CompileCache
from tapelab.transforms import check_flag, no_keywords, transformed

COMPILED = CompileCache()
_EAGER = type(tf.constant(0.0))  # EagerTensor


def _run(fn, *args):
    return fn(*args)


def _signature(args):
    """What picks a trace: each tensor's shape and dtype, any other value itself."""
    def spec(leaf):
        if isinstance(leaf, tf.Tensor):
            return ("tensor", tuple(leaf.shape), leaf.dtype)
        if isinstance(leaf, tf.Variable):
            return ("variable", leaf.ref())  # held, so its id is not reused
        if not _hashable(leaf):
            raise TypeError("an argument that is neither a tensor nor hashable")
        return ("value", type(leaf), leaf)

    flat = tf.nest.flatten(args, expand_composites=False)
    structure = tf.nest.map_structure(lambda _: None, args)
    return (repr(structure), tuple(spec(leaf) for leaf in flat))


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return False
    return True


class _Traces:
    """The concrete functions of one compiled ``tf.function``, per input signature."""

    def __init__(self, function):
        from tapelab._keras_internals import call_flat  # imports Keras: not before a jit

        self.function, self.concrete, self.call_flat = function, {}, call_flat

    def __call__(self, *args):
        if all(type(a) is _EAGER for a in args):  # the common call: tensors, no structure
            key = tuple((tuple(a.shape), a.dtype) for a in args)
            concrete = self.concrete.get(key)
            if concrete is None:
                concrete = self.concrete[key] = self.function.get_concrete_function(*args)
            return self.call_flat(concrete, args)
        try:
            key = _signature(args)
            concrete = self.concrete.get(key)
        except (TypeError, ValueError):  # a structure tf.nest cannot read: the slow road
            return self.function(*args)
        if concrete is None:
            concrete = self.concrete[key] = self.function.get_concrete_function(*args)
        return concrete(*args)


def _build(jit_compile, impl, fn_ref):
    function = tf.function(functools.partial(_call, impl, fn_ref), reduce_retracing=False,
                           jit_compile=jit_compile)
    return _Traces(function)


def _call(impl, fn_ref, *args):
    from tapelab._keras_internals import quiet_autograph

    with quiet_autograph():
        return impl(fn_ref(), *args)


def _as_input(value):
    """NumPy arrays and Python floats as tensors, as ``jax.jit`` traces them: one trace per
    shape and dtype, not one per value (ints and bools stay Python: they may be shapes)."""
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "fciub":
        return tf.convert_to_tensor(value)
    if isinstance(value, float):
        return tf.constant(value, tf.float32)
    if isinstance(value, complex):
        return tf.constant(value, tf.complex64)
    return value


def _jit_at(fn, jit_compile, *args, **kwargs):
    no_keywords(kwargs, "jit")
    args = tf.nest.map_structure(_as_input, args)
    if not tf.executing_eagerly():  # inside a user's tf.function: inline
        return fn(*args)
    return COMPILED.compiled(fn, ("jit", jit_compile), _run,
                             functools.partial(_build, jit_compile))(*args)


def jit(fn: Callable[..., Any], jit_compile: bool = False) -> Callable[..., Any]:
    """``fn`` compiled: traced once per input signature, then run as a graph.

    Args:
      fn: a function of tensors (or structures of them) returning tensors.
      jit_compile: compile the graph with XLA too (``tf.function(jit_compile=True)``):
        faster at every size measured, but ``tf.debugging`` checks do not run
        under XLA and ops it lacks raise (the module's docstring).

    Returns:
      A function with ``fn``'s arguments and results. A value ``fn`` reads that
      changes on every call (a list it appends to) means a trace on every call,
      never an old answer; after a few, a warning names ``fn``.

    >>> import tensorflow as tf
    >>> import tapelab
    >>> df = tapelab.jit(tapelab.grad(lambda x: tf.reduce_sum(x ** 3)))
    >>> df(tf.constant([1.0, 2.0])).numpy()  # 3 x**2
    array([ 3., 12.], dtype=float32)
    """
    check_flag(jit_compile, "jit_compile", "jit")
    return transformed(_jit_at, fn, jit_compile)
