"""Values as a drawing shows them: digits well above float32 round-off, never below it.

Four significant digits (float32 round-off sits near the seventh), a whole number
with one decimal (``12.0``), anything below 1e-6 in size as ``~0`` (an exact zero
as ``0.0``), a small tensor in full (up to 4 elements), a larger one as its shape
and dtype. So the text of a drawing is the same on every machine.
"""

import numpy as np

SHOWN_ELEMENTS = 4  # a tensor of more elements is shown as its shape and dtype


def number(v):
    """One real number: ``12.0``, ``0.1235``, ``-3.5e+04``, ``~0``."""
    v = float(v)
    if v == 0:
        return "0.0"
    if not np.isfinite(v):
        return str(v)  # nan, inf, -inf
    if abs(v) < 1e-6:
        return "~0"
    text = f"{v:.4g}"
    return text if any(c in text for c in ".en") else text + ".0"


def scalar(v):
    """One element of any dtype."""
    v = np.asarray(v)
    if v.dtype == bool:
        return str(bool(v))
    if np.issubdtype(v.dtype, np.integer):
        return str(int(v))
    if np.issubdtype(v.dtype, np.complexfloating):
        return f"({number(v.real)}{'-' if v.imag < 0 else '+'}{number(abs(v.imag))}j)"
    if np.issubdtype(v.dtype, np.number):
        return number(v)
    return repr(v.item())


def shown(value):
    """A value as text: a scalar, a small tensor in full, or a large one's shape and dtype.

    >>> shown(np.float32(12.0)), shown(np.array([1.5, -2.0])), shown(np.zeros((3, 4)))
    ('12.0', '[1.5, -2.0]', '(3, 4) float64')
    """
    if value is None:
        return "None"
    value = np.asarray(value)
    if value.ndim == 0:
        return scalar(value)
    if value.size <= SHOWN_ELEMENTS and value.ndim == 1:
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    return f"{tuple(value.shape)} {value.dtype.name}"
