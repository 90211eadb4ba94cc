"""`check_gradient`: the tape's gradient against a numerical one.

A gradient check must never read as clean when the gradient is broken: NaN or
infinity on either side makes the errors NaN or infinite, ``finite`` False, and
the message names the source and the element.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from tapelab._sources import as_sources, dense_only
from tapelab._user_warnings import warn
from tapelab.value_grad import value_and_gradient

_SHOWN = 3  # non-finite elements named per source
# Jacobian elements (fn's output elements x the sources' elements) past which
# check_gradient refuses: tf.test.compute_gradient builds two Jacobians that large
_MAX_JACOBIAN = 10_000_000


@dataclass(frozen=True)
class GradientCheck:
    """How far the tape's gradient is from central finite differences."""

    max_abs_error: float  # NaN or inf when a gradient is not finite
    max_rel_error: float
    tape_gradient: tuple  # the tape's gradient per source (NumPy arrays)
    numerical: tuple  # the finite-difference gradient per source
    finite: bool = True  # every element of both gradients is finite
    problems: tuple = ()  # one line per non-finite element shown

    @property
    def tape(self):
        """Deprecated: the old name of :attr:`tape_gradient` (``check_*`` and ``tape``
        name other things in tapelab)."""
        warn("GradientCheck.tape is deprecated; use GradientCheck.tape_gradient.",
             DeprecationWarning)
        return self.tape_gradient

    def __str__(self):
        head = (f"GradientCheck: max abs error {self.max_abs_error:.2e}, "
                f"max rel error {self.max_rel_error:.2e} "
                f"over {len(self.tape_gradient)} source(s)")
        if self.finite:
            return head
        return "\n".join([head + " - NOT FINITE:", *(f"  {p}" for p in self.problems)])


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
            "`delta` must be a number: the finite-difference step (or None for TF's "
            f"default). Received: delta={delta!r} of type {type(delta).__name__}. Pass a "
            "float, e.g. delta=1e-3.")
    if not (math.isfinite(delta) and delta > 0):
        raise ValueError(
            "`delta` must be a positive finite number: the finite-difference step, so "
            f"0, a negative step, NaN or infinity give no derivative. Received: delta={delta!r}. "
            "Pass e.g. delta=1e-3, or None for TF's default.")


def _check_size(value, tensors):
    """Refuse a Jacobian past ``_MAX_JACOBIAN`` elements before compute_gradient builds it."""
    outputs = int(tf.size(value))
    inputs = sum(int(tf.size(x)) for x in tensors)
    if outputs * inputs <= _MAX_JACOBIAN:
        return
    if outputs > 1:
        fix = ("check_gradient compares the gradient of the sum of fn's outputs anyway, so "
               "sum them first: check_gradient(lambda *xs: tf.reduce_sum(fn(*xs)), *sources) "
               f"has a Jacobian of {inputs:,} elements (it still runs fn twice per input "
               "element), or check at a smaller point.")
    else:
        fix = ("Check at a smaller point (a slice of the input), as fn runs twice per "
               "input element.")
    raise ValueError(
        "`check_gradient` builds two full Jacobians (the tape's and the numerical one, "
        "with tf.test.compute_gradient), of fn's output elements x the sources' "
        f"elements, and refuses past {_MAX_JACOBIAN:,} elements. Received: {outputs:,} "
        f"output element(s) x {inputs:,} input element(s) = {outputs * inputs:,} "
        f"elements (about {2 * 8 * outputs * inputs / 1e9:.1f} GB in float64). {fix}")


def _digits(value):
    """A value to 6 significant digits: the rest of a finite difference is round-off."""
    return float(f"{float(value):.6g}")


def _non_finite(i, g, n):
    """Lines naming the first non-finite elements of source i."""
    bad = np.argwhere(~(np.isfinite(g) & np.isfinite(n)))
    lines = [f"source {i} element {tuple(int(k) for k in idx)}: tape {_digits(g[tuple(idx)])}, "
             f"numerical {_digits(n[tuple(idx)])}" for idx in bad[:_SHOWN]]
    if len(bad) > _SHOWN:
        lines.append(f"source {i}: {len(bad) - _SHOWN} more non-finite element(s)")
    return lines


def check_gradient(fn: Callable[..., Any], *sources: Any,
                   delta: float | None = None) -> GradientCheck:
    """Compare the tape's gradient of ``fn`` with a numerical one.

    The numerical gradient comes from ``tf.test.compute_gradient`` (central
    differences); a non-scalar ``fn`` is summed first, as ``tape.gradient``
    does. Use float64 sources for tight errors: float32 differences are only
    good to about 1e-3, and float16/bfloat16 ones are mostly round-off (a
    warning says so). A NaN or infinite value on either side is never read as a
    small error: the errors become NaN or inf and ``finite`` is False. Runs
    eagerly only (``RuntimeError`` inside ``tf.function``); complex sources
    raise ``TypeError``.

    Cost: ``tf.test.compute_gradient`` builds the full Jacobian (fn's output
    elements x the sources' elements), twice, and runs ``fn`` twice per source
    element. So memory grows as outputs x inputs (as n**2 for a vector-valued fn
    of n elements) and time as n. Past 10 million Jacobian elements (about 160 MB
    in float64) ``check_gradient`` raises ``ValueError`` before building them:
    sum a vector-valued ``fn`` first (the check compares the gradient of the
    sum anyway), or check at a smaller point.

    Args:
      fn: a function of ``len(sources)`` real tensors.
      *sources: the point to check at (as for :func:`value_and_gradient`).
      delta: the finite-difference step, a positive finite number (TF's
        default when None); anything else raises ``ValueError``/``TypeError``.

    Returns:
      A :class:`GradientCheck` with ``max_abs_error``, ``max_rel_error``
      (relative to the larger of the two gradients, element-wise), ``finite``
      and ``problems`` (the non-finite elements, by source and index).

    >>> import numpy as np, tensorflow as tf
    >>> print(check_gradient(tf.sin, tf.constant([0.5, 1.0], tf.float64)).max_abs_error < 1e-6)
    True
    >>> broken = tf.custom_gradient(lambda a: (a * a, lambda dy: dy * np.nan))
    >>> print(check_gradient(broken, tf.constant([1.0, 2.0], tf.float64)))
    GradientCheck: max abs error nan, max rel error nan over 1 source(s) - NOT FINITE:
      source 0 element (0,): tape nan, numerical 2.0
      source 0 element (1,): tape nan, numerical 4.0
    """
    _check_delta(delta)
    tensors = [tf.convert_to_tensor(s) for s in dense_only(as_sources(sources),
                                                             "check_gradient")]
    _refuse(tensors)
    value, grads = value_and_gradient(fn, *tensors)
    _check_size(value, tensors)
    grads = grads if isinstance(grads, tuple) else (grads,)
    kwargs = {} if delta is None else {"delta": delta}
    _, jacobians = tf.test.compute_gradient(fn, tensors, **kwargs)
    tape, numerical, problems = [], [], []
    abs_err = rel_err = np.float64(0.0)
    for i, (x, g, jac) in enumerate(zip(tensors, grads, jacobians)):
        if g is None:
            g = np.zeros(x.shape, x.dtype.as_numpy_dtype)
        else:  # tf.gather on a source gives IndexedSlices: make them dense
            g = tf.convert_to_tensor(g).numpy()
        n = jac.sum(axis=0).reshape(x.shape)  # d sum(y) / dx  (rows of the Jacobian are y)
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.abs(g.astype(np.float64) - n.astype(np.float64))  # NaN, inf kept
            scale = np.maximum(np.abs(g), np.abs(n)).astype(np.float64)
            rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), diff)
        # np.maximum propagates NaN; Python's max(0.0, nan) would return 0.0
        abs_err = np.maximum(abs_err, diff.max(initial=0.0))
        rel_err = np.maximum(rel_err, rel.max(initial=0.0))
        problems += _non_finite(i, g, n)
        tape.append(g)
        numerical.append(n)
    return GradientCheck(float(abs_err), float(rel_err), tuple(tape), tuple(numerical),
                         not problems, tuple(problems))
