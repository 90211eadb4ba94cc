"""The token rule: when the text of a claim occurs in an output.

A claim holds when its text occurs in the output as a whole token sequence:
no word and no number of the output goes on across either end of it. So
``2.0`` does not hold in ``12.0``, ``2.05``, ``-2.0`` or ``1,2.0``, while
``12.0`` holds in ``tf.Tensor(12.0, shape=(), dtype=float32)``.

What counts as "going on":
  - a letter, digit or ``_`` on both sides of an end (``Error`` in ``ValueError``);
  - a ``.`` between digits (``5`` in ``0.5``, ``2`` in ``2.5``, ``2.`` in ``2.05``);
  - an exponent (``5`` in ``1e-5``);
  - a sign that starts a number (``2.0`` or ``inf`` in ``-2.0`` or ``-inf``,
    but not in ``x-2.0``, where ``-`` is an operator);
  - a thousands separator: a comma between a digit and exactly three digits
    (``1`` or ``000`` in ``1,000``; but ``3`` holds in ``(2,3)``);
  - and the numbers of a tensor's shape are not its values: an occurrence that
    starts inside ``shape=(...)`` does not count (``2`` in
    ``tf.Tensor([0. 0.], shape=(2,), dtype=float32)``). A claim that names the
    shape, ``shape=(2,)``, holds.
"""

import re

# the inside of a shape in a TF or NumPy repr: "shape=(2, 3)" -> "2, 3"
_SHAPE = re.compile(r"shape=\((?P<dims>[^()]*)\)")


def _word(char):
    return bool(char) and (char.isalnum() or char == "_")


def _number_start(text):
    """Whether ``text`` starts with a number that a sign before it would belong to."""
    return (text[:1].isdigit() or (text[:1] == "." and text[1:2].isdigit())
            or text[:3].lower() in ("inf", "nan"))


def _joins_before(before, text):
    """Whether the text ``before`` an occurrence of ``text`` runs on into it.

    Only the last three characters of ``before`` matter.
    """
    prev, first = before[-1:], text[:1]
    if not prev:
        return False
    if _word(first) and _word(prev):
        return True  # Error in ValueError
    if first.isdigit() and prev == ".":
        return True  # 5 in 0.5
    if first == "." and prev.isdigit():
        return True  # .5 in 2.5
    if first.isdigit() and prev in "+-" and before[-2:-1] in ("e", "E") \
            and before[-3:-2].isdigit():
        return True  # 5 in 1e-5
    # a sign at the start of a number: 2.0 in -2.0, inf in -inf (but not in x-2.0)
    return _number_start(text) and prev in "+-" and not _word(before[-2:-1])


def _joins_after(text, after):
    """Whether the two characters ``after`` an occurrence of ``text`` go on with it."""
    last, nxt = text[-1:], after[:1]
    if _word(last) and _word(nxt):
        return True  # 2.0 in 2.05, True in Trueish
    if last == "." and nxt.isdigit():
        return True  # 2. in 2.05
    return last.isdigit() and nxt == "." and after[1:2].isdigit()  # 2 in 2.5


def _thousands(actual, comma):
    """Whether the comma at ``actual[comma]`` separates thousands: a digit before it, and
    exactly three digits after it (``1,000``, not ``(2,3)`` or ``1,2345``)."""
    return (comma > 0 and actual[comma:comma + 1] == "," and actual[comma - 1].isdigit()
            and actual[comma + 1:comma + 4].isdigit() and len(actual[comma + 1:comma + 4]) == 3
            and not actual[comma + 4:comma + 5].isdigit())


def _shape_spans(actual):
    """Where the insides of the shapes in ``actual`` are, as (start, end) pairs."""
    return [(m.start("dims"), m.end("dims")) for m in _SHAPE.finditer(actual)]


def occurs(text, actual):
    """Whether ``text`` occurs in ``actual`` on token boundaries (the module's rule).

    Args:
      text: the claim, as written after ``# Output:``.
      actual: the output, as :func:`nbclaims.output_text` gives it.

    Returns:
      True when some occurrence of ``text`` is whole; False otherwise, and
      always for an empty ``text``.

    >>> occurs("12.0", "tf.Tensor(12.0, shape=(), dtype=float32)")
    True
    >>> occurs("2.0", "12.0"), occurs("2.0", "2.05"), occurs("2.0", "-2.0"), occurs("6.0", "x: 6.0.")
    (False, False, False, True)
    >>> occurs("inf", "-inf"), occurs("1", "1,000"), occurs("2", "tf.Tensor([0. 0.], shape=(2,), dtype=float32)")
    (False, False, False)
    >>> occurs("5", "1e-5"), occurs("5", "x-5"), occurs("shape=(2,)", "shape=(2,)")
    (False, True, True)
    """
    start = actual.find(text) if text else -1
    shapes = None  # found once, on the first occurrence that is whole otherwise
    while start != -1:
        end = start + len(text)
        if not (_joins_before(actual[max(0, start - 3):start], text)
                or _joins_after(text, actual[end:end + 2])
                or (text[0].isdigit() and _thousands(actual, start - 1))  # 000 in 1,000
                or (text[-1].isdigit() and _thousands(actual, end))):  # 1 in 1,000
            shapes = _shape_spans(actual) if shapes is None else shapes
            if not any(lo <= start < hi for lo, hi in shapes):
                return True
        start = actual.find(text, start + 1)
    return False
