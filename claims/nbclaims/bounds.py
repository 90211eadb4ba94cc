"""Printing a value that is round-off as a bound, so a stored output holds everywhere.

The rule: a documented output never shows digits that are round-off. Another
CPU, thread count, BLAS or GPU changes them (``2e-08`` here, ``1.7e-10``
there), so a notebook prints a bound far above the noise instead
(``below 1e-6``), or digits far above it. A value that misses its bound prints
its own digits, so the stored output, and any claim on it, stops matching.
"""


def _shown(bound):
    """``bound`` as short as it is exact: ``1e-6`` (not ``1e-06``) for a one-digit
    mantissa, else its shortest repr (``0.15``, ``2.5e-05`` as ``2.5e-5``)."""
    mantissa, exponent = f"{bound:.0e}".split("e")
    if float(f"{mantissa}e{exponent}") == float(bound):
        return f"{mantissa}e{int(exponent)}"
    text = repr(float(bound))
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def below(value, bound):
    """``value`` as a documented output that holds on every machine.

    Round-off differs between CPUs, thread counts, math libraries and GPUs, so
    a stored output never shows its digits: a value whose size is under
    ``bound`` prints as ``"below 1e-6"``. Any other value (NaN included) prints
    its own digits, so the stored output stops matching and the reader sees
    the real number. The bound prints exactly as it compares.

    Args:
      value: a real Python or NumPy number (a difference, an error, a gradient).
      bound: a positive, finite number, far above the round-off of the computation.

    Returns:
      ``"below <bound>"``, or the value and the bound it missed.

    Raises:
      TypeError: ``value`` or ``bound`` is not a real number.
      ValueError: ``bound`` is not positive and finite.

    >>> below(2e-08, 1e-6), below(0.0, 1e-6), below(-3e-9, 1e-6), below(0.12, 0.15)
    ('below 1e-6', 'below 1e-6', 'below 1e-6', 'below 0.15')
    >>> below(0.25, 1e-6)
    '0.25 (not below 1e-6)'
    """
    for name, number in (("value", value), ("bound", bound)):
        if isinstance(number, (bool, complex)) or not hasattr(number, "__float__") or \
                isinstance(number, str):
            raise TypeError(f"`{name}` must be a real number. Received: {name}={number!r} "
                            f"of type {type(number).__name__}.")
        if hasattr(number, "dtype") and getattr(number.dtype, "kind", "f") == "c":
            raise TypeError(f"`{name}` must be a real number. Received: {name}={number!r}.")
    if not 0 < float(bound) < float("inf"):
        raise ValueError(f"`bound` must be a positive, finite number. Received: bound={bound!r}.")
    shown = _shown(bound)
    if abs(float(value)) < float(bound):
        return f"below {shown}"
    return f"{float(value):.2g} (not below {shown})"
