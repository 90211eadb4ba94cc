"""What a checker answers: right (and why), or not yet (and a hint that points at the idea)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class Verdict:
    """A checker's answer: ``ok`` and a message that says why, or what to look at.

    It prints as its message (in Jupyter too), never as a bare ``True`` or ``False``.

    >>> print(right("2x + 2 at x = -3 is -4."))
    Right. 2x + 2 at x = -3 is -4.
    """

    ok: bool
    message: str

    def __str__(self):
        return self.message

    __repr__ = __str__


def right(why: str) -> Verdict:
    return Verdict(True, f"Right. {why}")


def not_yet(hint: str) -> Verdict:
    return Verdict(False, f"Not yet. {hint}")


def no_answer(what: str) -> Verdict:
    return Verdict(False, f"No answer yet: set `answer` to {what}, then run the cell again.")


def number(answer) -> float | None:
    """``answer`` as a float (a Python number, a NumPy or TF scalar), or None if it is none."""
    if answer is None or isinstance(answer, (bool, str, np.bool_)):
        return None
    try:
        value = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(value) if value.ndim == 0 else None  # [2.0] is a list, not a number


def near(value, want, tol=1e-5) -> bool:
    """Whether ``value`` is within ``tol`` of ``want`` (relative to its size); NaN never is."""
    return value is not None and bool(abs(value - want) <= tol * max(1.0, abs(want)))


def array(answer) -> np.ndarray | None:
    """``answer`` as a float64 array (a tensor, a variable, nested lists), or None."""
    if answer is None or isinstance(answer, (str, dict)):
        return None
    try:
        return np.asarray(tf.convert_to_tensor(answer), dtype=np.float64)
    except (TypeError, ValueError):
        return None


def close(a, b, tol=1e-5) -> bool:
    """Whether ``a`` and ``b`` have one shape and agree within ``tol`` (relative and absolute,
    far above float32 round-off)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=tol, atol=tol))


def call(fn, *args):
    """``(result, None)`` of the learner's ``fn(*args)``, or ``(None, the exception)``."""
    if not callable(fn):
        return None, TypeError(f"expected a function. Received: {type(fn).__name__}")
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - the learner's error becomes a hint
        return None, exc


def raised(exc: Exception) -> str:
    """One line naming a learner's error: its type and the line of its message that says
    what went wrong (TF's "in user code:" errors put it last)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.endswith(":") and not ln.startswith("File ")]
    text = (useful[-1] if len(lines) > 1 and useful else (lines[0] if lines else ""))
    text = text[:160].rstrip(". ")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def calls_to(cls, method):
    """The objects whose ``cls.method`` is called while the block runs, one entry per call
    (the object itself, held, so a freed object's id reused by a later one is never taken
    for it). The method is put back on exit, whatever happens.

    >>> with calls_to(tf.GradientTape, "gradient") as calls:
    ...     x = tf.constant(2.0)
    ...     with tf.GradientTape() as tape:
    ...         tape.watch(x)
    ...         y = x * x
    ...     _ = tape.gradient(y, x)
    >>> len(calls)
    1
    """
    calls, real = [], getattr(cls, method)

    def counted(self, *args, **kwargs):
        calls.append(self)
        return real(self, *args, **kwargs)

    setattr(cls, method, counted)
    try:
        yield calls
    finally:
        setattr(cls, method, real)
