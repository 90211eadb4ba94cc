"""The token rule: when the text of a claim occurs in an output.

A claim holds when its text occurs in the output as a whole token sequence:
no word and no number of the output goes on across either end of it. So
``2.0`` does not hold in ``12.0``, ``2.05`` or ``-2.0``, while ``12.0`` holds in
``tf.Tensor(12.0, shape=(), dtype=float32)``.

What counts as "going on":
  - a letter, digit or ``_`` on both sides of an end (``Error`` in ``ValueError``);
  - a ``.`` between digits (``5`` in ``0.5``, ``2`` in ``2.5``, ``2.`` in ``2.05``),
    and the ``.`` of a float that goes on into an exponent or ends inside
    brackets (``2`` in ``2.e5``, ``3`` in ``tensor(3.)``, ``1`` in ``[1., 2.]``);
  - an exponent (``5`` and ``-5`` in ``1e-5``);
  - a sign that starts a number (``2.0`` or ``inf`` in ``-2.0`` or ``-inf``,
    ``−`` U+2212 too; but not in ``x-2.0``, where ``-`` is an operator);
  - the parts of a complex number (``3``, ``4j`` or ``+4j`` in ``3+4j``);
  - a thousands separator: a comma between a digit and exactly three digits
    (``1`` or ``000`` in ``1,000``; but ``3`` holds in ``(2,3)``);
  - and the numbers of a tensor's shape are not its values: an occurrence that
    starts inside ``shape=(...)`` does not count (``2`` in
    ``tf.Tensor([0. 0.], shape=(2,), dtype=float32)``). A claim that names the
    shape, ``shape=(2,)``, holds.

Known limits: ``2.`` followed by a space reads as a full stop, so ``2`` holds in
``[2. 3.]`` (NumPy's float) as in ``the answer is 2.``; write ``[2. 3.]``. A
comma before exactly three digits reads as a thousands separator, so ``250``
does not hold in the CSV row ``1,250``; write ``1,250``. Each claim is held
against its whole cell's output, wherever it sits in the cell.
"""

import re

# the inside of a shape in a TF or NumPy repr: "shape=(2, 3)" -> "2, 3"
_SHAPE = re.compile(r"shape=\((?P<dims>[^()]*)\)")
SIGNS = "+-\u2212"  # plus, hyphen-minus, and the minus sign U+2212
# what follows a number's digits when the number is complex: "+4j", "-2.5e-3j"
_IMAGINARY = re.compile(r"[+\-\u2212](?:\d+\.?\d*|\.\d+)(?:[eE][+\-]?\d+)?[jJ]")


def _word(char):
    return bool(char) and (char.isalnum() or char == "_")


def _number_start(text):
    """Whether ``text`` starts with a number that a sign before it would belong to."""
    return (text[:1].isdigit() or (text[:1] == "." and text[1:2].isdigit())
            or text[:3].lower() in ("inf", "nan"))


def _exponent_before(before):
    """Whether ``before`` ends with a mantissa and ``e``: what ``-5`` goes on in ``1e-5``."""
    return before[-1:] in ("e", "E") and (before[-2:-1].isdigit() or before[-2:-1] == ".")


def _joins_before(before, text):
    """Whether the text ``before`` an occurrence of ``text`` runs on into it.

    Only the last few characters of ``before`` matter.
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
    if first in SIGNS and _exponent_before(before):
        return True  # -5 in 1e-5
    if first.isdigit() and prev in SIGNS and _exponent_before(before[:-1]):
        return True  # 5 in 1e-5
    if text[-1:] in ("j", "J") and (prev.isdigit() or prev == "." or (
            prev in SIGNS and (before[-2:-1].isdigit() or before[-2:-1] == "."))):
        return True  # 4j or +4j in 3+4j
    # a sign at the start of a number: 2.0 in -2.0, inf in -inf (but not in x-2.0)
    return _number_start(text) and prev in SIGNS and not _word(before[-2:-1])


def _joins_after(text, after):
    """Whether the characters ``after`` an occurrence of ``text`` go on with it."""
    last, nxt = text[-1:], after[:1]
    if _word(last) and _word(nxt):
        return True  # 2.0 in 2.05, True in Trueish
    if last == "." and nxt.isdigit():
        return True  # 2. in 2.05
    if last == "." and text[-2:-1].isdigit() and nxt in ("e", "E"):
        return True  # 1. in 1.e5
    if last.isdigit() and nxt == ".":
        rest = after[1:2]
        if rest.isdigit() or rest in ("e", "E", ")", "]", ","):
            return True  # 2 in 2.5, 2.e5, tensor(2.), [2., 3.]
    return last.isdigit() and bool(_IMAGINARY.match(after))  # 3 in 3+4j


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
    >>> occurs("5", "1e-5"), occurs("-5", "1e-5"), occurs("3", "3+4j"), occurs("5", "x-5")
    (False, False, False, True)
    """
    start = actual.find(text) if text else -1
    shapes = None  # found once, on the first occurrence that is whole otherwise
    while start != -1:
        end = start + len(text)
        if not (_joins_before(actual[max(0, start - 3):start], text)
                or _joins_after(text, actual[end:end + 40])
                or (text[0].isdigit() and _thousands(actual, start - 1))  # 000 in 1,000
                or (text[-1].isdigit() and _thousands(actual, end))):  # 1 in 1,000
            shapes = _shape_spans(actual) if shapes is None else shapes
            if not any(lo <= start < hi for lo, hi in shapes):
                return True
        start = actual.find(text, start + 1)
    return False
