"""What ``check_gradient`` returns: each check's worst element, and a verdict.

A check compares a derivative with its finite difference element by element
(:func:`compare`); :class:`GradientCheck` gathers the checks, says whether all
are within the dtype's tolerance (:attr:`GradientCheck.ok`), and names the worst
(:meth:`GradientCheck.assert_ok`). NaN and infinity are kept at every step, so a
broken derivative never reads as a small error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tapelab._user_warnings import warn

_SHOWN = 3  # non-finite elements named per source


@dataclass(frozen=True)
class Comparison:
    """One derivative against its finite difference: the worst element of one check."""

    check: str  # "rev order 1, source 0", "fwd order 2", ...
    autodiff: float
    numerical: float
    abs_error: float
    rel_error: float
    max_abs_error: float = 0.0  # over every element of the check, NaN and inf kept
    max_rel_error: float = 0.0
    error: float = 0.0  # this element's abs error over the check's scale: what must pass

    def __str__(self):
        return (f"{self.check}: autodiff {digits(self.autodiff)}, numerical "
                f"{digits(self.numerical)} (abs error {self.abs_error:.2e}, rel error "
                f"{self.rel_error:.2e}, {self.error:.2e} of the check's largest value)")


@dataclass(frozen=True)
class GradientCheck:
    """How far the derivatives are from central finite differences, with a verdict."""

    max_abs_error: float  # NaN or inf when a derivative is not finite
    max_rel_error: float
    tape_gradient: tuple  # the tape's gradient of sum(fn) per source (NumPy arrays)
    numerical: tuple  # its finite-difference gradient per source
    finite: bool = True  # every element of both sides is finite
    problems: tuple = ()  # one line per non-finite element shown
    comparisons: tuple = ()  # the worst element of each check (Comparison)
    tolerance: float = 1e-5  # an element passes when its error over the check's scale is below
    sources: int = 0  # how many sources were checked

    @property
    def ok(self):
        """Whether every check is finite and within :attr:`tolerance`: each element's
        absolute error at most ``tolerance`` times the largest value of its check."""
        return self.finite and all(passes(c, self.tolerance) for c in self.comparisons)

    def worst(self):
        """The comparison furthest out of tolerance (or the largest error when all pass)."""
        if not self.comparisons:
            return None
        return max(self.comparisons, key=lambda c: (not math.isfinite(c.error), c.error))

    def assert_ok(self):
        """Raise ``AssertionError`` naming the worst entry unless :attr:`ok`."""
        if not self.ok:
            worst = self.problems[0] if self.problems else str(self.worst())
            raise AssertionError(f"gradient check failed (tolerance {self.tolerance:g}): "
                                 f"{worst}")

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
                f"over {max(self.sources, len(self.tape_gradient))} source(s)")
        if self.finite:
            return head
        return "\n".join([head + " - NOT FINITE:", *(f"  {p}" for p in self.problems)])


def passes(c, tolerance):
    """Whether comparison ``c`` is finite and its error over its check's scale within
    ``tolerance``."""
    return math.isfinite(c.error) and c.error <= tolerance


def digits(value):
    """A value to 6 significant digits: the rest of a finite difference is round-off."""
    return float(f"{float(value):.6g}")


def non_finite(i, g, n):
    """Lines naming the first non-finite elements of source i."""
    bad = np.argwhere(~(np.isfinite(g) & np.isfinite(n)))
    lines = [f"source {i} element {tuple(int(k) for k in idx)}: tape {digits(g[tuple(idx)])}, "
             f"numerical {digits(n[tuple(idx)])}" for idx in bad[:_SHOWN]]
    if len(bad) > _SHOWN:
        lines.append(f"source {i}: {len(bad) - _SHOWN} more non-finite element(s)")
    return lines


def _errors(a, n):
    """Element-wise absolute and relative errors, NaN and inf kept (float64)."""
    a, n = np.asarray(a, np.float64), np.asarray(n, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.abs(a - n)
        scale = np.maximum(np.abs(a), np.abs(n))
        rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), diff)
    return diff, rel


def compare(check, a, n):
    """The :class:`Comparison` of one check: its worst element and its largest errors.

    An element's error is its absolute error over the check's scale, the largest
    value on either side: a finite difference errs in proportion to the size of
    what it differentiates, so an element far smaller than the rest may be off by
    round-off of the large ones, while a derivative that is wrong everywhere
    (zeros for small true values) is as wrong as its values are large.
    """
    a, n = np.asarray(a, np.float64).ravel(), np.asarray(n, np.float64).ravel()
    if not a.size:
        return Comparison(check, 0.0, 0.0, 0.0, 0.0)
    diff, rel = _errors(a, n)
    both = np.abs(np.concatenate([a, n]))
    scale = float(np.max(both[np.isfinite(both)], initial=0.0))
    with np.errstate(invalid="ignore"):
        error = diff / scale if scale > 0 else diff
    k = int(np.argmax(np.where(np.isfinite(error), error, np.inf)))
    # np.maximum propagates NaN; Python's max(0.0, nan) would return 0.0
    return Comparison(check, float(a[k]), float(n[k]), float(diff[k]), float(rel[k]),
                      float(np.maximum.reduce(diff)), float(np.maximum.reduce(rel)),
                      float(error[k]))


def _nan_first(value):
    """A key under which NaN and inf count as the largest (Python's max drops NaN)."""
    return math.inf if not math.isfinite(value) else value


def report(comparisons, tape, numerical, problems, tolerance, sources=0):
    """The :class:`GradientCheck` of ``comparisons`` (NaN and inf count as the largest)."""
    abs_err = max((c.max_abs_error for c in comparisons), default=0.0, key=_nan_first)
    rel_err = max((c.max_rel_error for c in comparisons), default=0.0, key=_nan_first)
    finite = not problems and all(math.isfinite(c.abs_error) for c in comparisons)
    if not finite and not problems:
        problems = [str(c) for c in comparisons if not math.isfinite(c.abs_error)]
    return GradientCheck(abs_err, rel_err, tuple(tape), tuple(numerical), finite,
                         tuple(problems), tuple(comparisons), tolerance, sources)
