"""`check_gradient`: derivatives against finite differences, to first or second order.

As JAX's ``check_grads``: reverse mode (``"rev"``) and forward mode (``"fwd"``)
are each compared with central differences, and ``order=2`` checks the
derivatives of the derivatives too. A check never reads as clean when a
derivative is broken: NaN or infinity on either side makes the errors NaN or
infinite, ``finite`` False, and the message names the source and the element.
Memory stays in proportion to the inputs: the checks take directional
derivatives and gradients, never a dense Jacobian.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tapelab._sources import as_sources, dense_only
from tapelab._user_warnings import warn
from tapelab.diagnose.gradcheck_report import GradientCheck, compare, non_finite, report
from tapelab.transforms import jvp, vjp
from tapelab.value_grad import value_and_gradient

_MAX_ELEMENTS = 100_000  # the reverse check runs fn twice per input element
# The default step per dtype. A central difference errs by truncation, delta**2 |f'''|/6,
# plus round-off, eps |f| / delta; the sum is smallest near delta = (3 eps)**(1/3).
# float64 keeps TF's own step (tf.test.compute_gradient), 1/1024: truncation ~1e-7.
# float32 takes 1/128: with 1/1024 its round-off (eps32 = 1.2e-7) is ~1e-3 relative
# (measured 2e-3 on the cookbook's logistic loss), with 1/128 ~5e-4 (measured 4.5e-4).
DELTA = {"float64": 1.0 / 1024, "float32": 1.0 / 128, "float16": 1.0 / 32, "bfloat16": 1.0 / 32}
# the absolute and relative error each dtype's central differences reach (both at once):
# float64 ~ delta**2 truncation; float32 ~5e-4 relative, so 1e-2 keeps a margin of 20
TOLERANCE = {"float64": 1e-5, "float32": 1e-2, "float16": 1e-1, "bfloat16": 1e-1}


def _refuse(tensors):
    if not tf.executing_eagerly():
        raise RuntimeError(
            "`check_gradient` runs eagerly: it evaluates fn many times at points it "
            "picks, with NumPy. Received: a call inside tf.function (graph mode). Call "
            "it outside, on the same fn, e.g. check_gradient(fn, x) before compiling.")
    for i, x in enumerate(tensors):
        if x.dtype.is_complex:
            raise TypeError(
                "`check_gradient` compares real derivatives, so sources must be real. "
                f"Received: source {i} of dtype {x.dtype.name}. Check a complex function "
                "through its real and imaginary parts, e.g. f(re, im) = g(tf.complex(re, "
                "im)) with float64 re and im.")
        if x.dtype in (tf.float16, tf.bfloat16):
            warn(f"check_gradient: source {i} is {x.dtype.name}, whose finite differences "
                 "are mostly round-off (the numerical gradient often comes out 0). Check "
                 "in float64: cast the sources, e.g. tf.cast(x, tf.float64).")


def _check_delta(delta):
    """Raise unless ``delta`` is None or a positive finite number."""
    if delta is None:
        return
    if isinstance(delta, (bool, np.bool_)) or not isinstance(delta, numbers.Real):
        raise TypeError(
            "`delta` must be a number: the finite-difference step (or None for the "
            f"dtype's default). Received: delta={delta!r} of type {type(delta).__name__}. Pass a "
            "float, e.g. delta=1e-3.")
    if not (math.isfinite(delta) and delta > 0):
        raise ValueError(
            "`delta` must be a positive finite number: the finite-difference step, so "
            f"0, a negative step, NaN or infinity give no derivative. Received: delta={delta!r}. "
            "Pass e.g. delta=1e-3, or None for the dtype's default.")


def _check_options(order, modes):
    if isinstance(order, bool) or order not in (1, 2):
        raise ValueError(f"`order` must be 1 or 2 (first or second derivatives). Received: "
                         f"order={order!r}.")
    if isinstance(modes, str) or not isinstance(modes, (tuple, list)) or not modes or not set(
            modes) <= {"fwd", "rev"}:
        raise ValueError("`modes` must be a non-empty tuple of 'fwd' and 'rev', as in JAX's "
                         f"check_grads. Received: modes={modes!r}.")


def _real(out):
    """``fn``'s output leaves, refused when complex or not numbers to differentiate."""
    leaves = tf.nest.flatten(out)
    for leaf in leaves:
        dtype = tf.as_dtype(getattr(leaf, "dtype", tf.float32))
        if dtype.is_complex or not (dtype.is_floating or not tf.is_tensor(leaf)):
            raise TypeError(
                "`check_gradient` compares real derivatives, so fn must return real floats. "
                f"Received: an output of dtype {dtype.name}. Check the real and imaginary "
                "parts as two real outputs, e.g. (tf.math.real(y), tf.math.imag(y)).")
    return leaves


def _summed(fn):
    """``fn``'s outputs (a tensor, or a structure of them) summed to one scalar."""
    return lambda *xs: tf.add_n([tf.reduce_sum(leaf) for leaf in _real(fn(*xs))])


def _reverse_first_order(fn, tensors, delta):
    """The tape's gradient of sum(fn), element by element against central differences."""
    _, grads = value_and_gradient(_summed(fn), *tensors)
    grads = grads if isinstance(grads, tuple) else (grads,)
    tape, numerical, problems, comparisons = [], [], [], []
    for i, (x, g) in enumerate(zip(tensors, grads)):
        g = np.zeros(x.shape, x.dtype.as_numpy_dtype) if g is None else \
            tf.convert_to_tensor(g).numpy()  # tf.gather gives IndexedSlices: make them dense
        base = x.numpy()
        n = np.zeros(base.size, np.float64)
        for k in range(base.size):  # fn twice per element: memory stays that of one call
            step = np.zeros(base.size, base.dtype)
            step[k] = delta
            step = step.reshape(base.shape)
            shifted = list(tensors)
            shifted[i] = tf.constant(base + step)
            up = float(_summed(fn)(*shifted))
            shifted[i] = tf.constant(base - step)
            down = float(_summed(fn)(*shifted))
            n[k] = (up - down) / (2 * delta)
        n = n.reshape(base.shape).astype(base.dtype)
        problems += non_finite(i, g, n)
        tape.append(g)
        numerical.append(n)
        comparisons.append(compare(f"rev order 1, source {i}", g, n))
    return tuple(tape), tuple(numerical), problems, comparisons


def _directions(tensors, rng):
    """A random direction per source, of unit length over all of them."""
    raw = [rng.standard_normal(x.shape.as_list()) for x in tensors]
    norm = math.sqrt(sum(float(np.sum(r * r)) for r in raw)) or 1.0
    return [tf.constant(r / norm, x.dtype) for r, x in zip(raw, tensors)]


def _numerical_jvp(fn, tensors, v, delta):
    up = fn(*[x + delta * d for x, d in zip(tensors, v)])
    down = fn(*[x - delta * d for x, d in zip(tensors, v)])
    return tf.nest.map_structure(lambda a, b: (a - b) / (2 * delta), up, down)


def _forward(fn, tensors, v, delta, name):
    """jvp along ``v`` against the central difference along ``v``, output by output."""
    out, tangent = jvp(fn, tuple(tensors), tuple(v))
    _real(out)
    numerical = _numerical_jvp(fn, tensors, v, delta)
    a = np.concatenate([np.ravel(t) for t in tf.nest.flatten(tangent)])
    n = np.concatenate([np.ravel(t) for t in tf.nest.flatten(numerical)])
    return compare(name, a, n)


def _reverse(fn, tensors, rng, delta, name):
    """JAX's vjp check: <u, J v> by finite differences against <vjp(u), v>."""
    out, vjp_fn = vjp(fn, *tensors)
    _real(out)
    u = tf.nest.map_structure(
        lambda o: tf.constant(rng.standard_normal(o.shape.as_list()), o.dtype), out)
    v = _directions(tensors, rng)
    pulled = vjp_fn(u)
    autodiff = sum(float(tf.reduce_sum(p * d)) for p, d in zip(pulled, v))
    numerical_out = _numerical_jvp(fn, tensors, v, delta)
    numerical = sum(float(tf.reduce_sum(a * b)) for a, b in zip(
        tf.nest.flatten(numerical_out), tf.nest.flatten(u)))
    return compare(name, [autodiff], [numerical])


def check_gradient(fn: Callable[..., Any], *sources: Any, delta: float | None = None,
                   order: int = 1, modes: tuple = ("fwd", "rev"),
                   seed: int = 0) -> GradientCheck:
    """Compare ``fn``'s derivatives with central finite differences, as JAX's ``check_grads``.

    ``"rev"``: the tape's gradient of ``sum(fn)`` against central differences,
    element by element (``fn`` runs twice per input element), or past 100,000
    input elements as JAX checks it, ``<u, J v>`` along random directions; with
    ``order=2`` also a vjp of that gradient (a Hessian-vector product) along
    random directions. ``"fwd"``: ``jvp`` along a random direction against the
    difference along it, output by output, and with ``order=2`` the jvp of that
    jvp (TensorFlow's forward mode does not use a ``tf.custom_gradient``'s
    backward function: keep ``"rev"`` to check one). The directions come from
    ``seed``. Each check keeps its worst element
    (``GradientCheck.comparisons``); an element passes when its absolute
    error is at most the dtype's tolerance times the largest value of its check
    (float64 1e-5; float32 1e-2, where central differences are good to about
    5e-4), and ``GradientCheck.ok`` is the verdict.
    A NaN or infinite value on either side is never read as a small error: the
    errors become NaN or inf and ``finite`` is False. Memory stays in proportion
    to the inputs: no dense Jacobian is built. Runs eagerly only
    (``RuntimeError`` inside ``tf.function``); complex sources raise ``TypeError``.

    Args:
      fn: a function of ``len(sources)`` real tensors, returning a real tensor or a
        structure of them (summed for the element-wise check).
      *sources: the point to check at (as for :func:`value_and_gradient`).
      delta: the finite-difference step, a positive finite number. None picks
        one by dtype: 1/1024 for float64 (TF's own), 1/128 for float32 (where a
        smaller step is mostly round-off), 1/32 for float16.
      order: 1, or 2 for second derivatives too.
      modes: ``("fwd", "rev")``, or one of them.
      seed: the seed of the random directions.

    Returns:
      A :class:`GradientCheck`: ``max_abs_error``, ``max_rel_error`` (relative to
      the larger side, element-wise), ``finite``, ``problems`` (the non-finite
      elements of the gradient, by source and index), ``comparisons``, ``ok`` and
      ``assert_ok()``.

    >>> import numpy as np, tensorflow as tf
    >>> import tapelab
    >>> tapelab.check_gradient(tf.sin, tf.constant([0.5, 1.0], tf.float64), order=2).ok
    True
    >>> broken = tf.custom_gradient(lambda a: (a * a, lambda dy: dy * np.nan))
    >>> print(tapelab.check_gradient(broken, tf.constant([1.0, 2.0], tf.float64), modes=("rev",)))
    GradientCheck: max abs error nan, max rel error nan over 1 source(s) - NOT FINITE:
      source 0 element (0,): tape nan, numerical 2.0
      source 0 element (1,): tape nan, numerical 4.0
    """
    _check_delta(delta)
    _check_options(order, modes)
    tensors = [tf.convert_to_tensor(s) for s in dense_only(as_sources(sources),
                                                             "check_gradient")]
    _refuse(tensors)
    if delta is None:  # the least precise source sets the step
        delta = max((DELTA.get(x.dtype.name, DELTA["float64"]) for x in tensors),
                    default=DELTA["float64"])
    delta = float(delta)
    rng = np.random.default_rng(seed)
    tape = numerical = ()
    problems, comparisons = [], []
    if "rev" in modes:
        if sum(int(tf.size(x)) for x in tensors) <= _MAX_ELEMENTS:
            tape, numerical, problems, comparisons = _reverse_first_order(fn, tensors, delta)
        else:  # fn twice per element would take too long: along random directions
            comparisons.append(_reverse(fn, tensors, rng, delta, "rev order 1"))
        if order == 2:
            gradient = _gradient_function(fn, len(tensors))
            comparisons.append(_reverse(gradient, tensors, rng, delta, "rev order 2"))
    if "fwd" in modes:
        v = _directions(tensors, rng)
        comparisons.append(_forward(fn, tensors, v, delta, "fwd order 1"))
        if order == 2:
            w = _directions(tensors, rng)
            comparisons.append(_forward(lambda *xs: jvp(fn, xs, tuple(v))[1], tensors, w,
                                        delta, "fwd order 2"))
    tolerance = max(TOLERANCE.get(x.dtype.name, 1e-5) for x in tensors)
    return report(comparisons, tape, numerical, problems, tolerance, len(tensors))


def _gradient_function(fn, n):
    """``xs -> d sum(fn) / d xs``, one gradient per source (zeros where none)."""
    def gradient(*xs):
        _, grads = value_and_gradient(_summed(fn), *xs)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return tuple(tf.zeros_like(x) if g is None else tf.convert_to_tensor(g)
                     for x, g in zip(xs, grads))
    return gradient
