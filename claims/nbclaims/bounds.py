"""Printing a value that is round-off as a bound, so a stored output holds everywhere.

The rule: a documented output never shows digits that are round-off. Another
CPU, thread count, BLAS or GPU changes them (``2e-08`` here, ``1.7e-10``
there), so a notebook prints a bound far above the noise instead
(``below 1e-6``), or digits far above it. A value that misses its bound prints
its own digits, so the stored output, and any claim on it, stops matching.
"""


def below(value, bound):
    """``value`` as a documented output that holds on every machine.

    Round-off differs between CPUs, thread counts, math libraries and GPUs, so
    a stored output never shows its digits: a value whose size is under
    ``bound`` prints as ``"below 1e-6"``. Any other value (NaN included) prints
    its own digits, so the stored output stops matching and the reader sees
    the real number.

    Args:
      value: a Python or NumPy number (a difference, an error, a gradient).
      bound: the bound to print, far above the round-off of the computation.

    Returns:
      ``"below <bound>"``, or the value and the bound it missed.

    >>> below(2e-08, 1e-6), below(0.0, 1e-6), below(-3e-9, 1e-6)
    ('below 1e-6', 'below 1e-6', 'below 1e-6')
    >>> below(0.25, 1e-6)
    '0.25 (not below 1e-6)'
    """
    mantissa, exponent = f"{bound:.0e}".split("e")
    shown = f"{mantissa}e{int(exponent)}"
    if abs(value) < bound:
        return f"below {shown}"
    return f"{float(value):.2g} (not below {shown})"
