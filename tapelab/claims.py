"""``# Output:`` claims: a comment in a notebook cell that states what the cell prints.

``tapelab check-claims`` holds every claim against the cell's stored output. A
claim holds when its text occurs in the output on token boundaries: ``2.0`` does
not hold in ``12.0``, ``2.05`` or ``-2.0``, while ``12.0`` holds in
``tf.Tensor(12.0, shape=(), dtype=float32)``.
"""

import io
import re
import tokenize
from dataclasses import dataclass

CLAIM = re.compile(r"#\s*Output:\s*(?P<text>.*?)\s*$")  # in one comment
CLAIM_MARK = re.compile(r"#\s*Output:")  # anywhere in a cell


def output_text(cell):
    """Everything a code cell shows as text: streams, plain-text results, errors."""
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(out.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "\n".join(parts)


def _comments(source):
    """The comment tokens of a cell's source.

    Raises ``SyntaxError`` (or ``tokenize.TokenError``) when the source cannot
    be tokenized: then nothing tells a comment from a string.
    """
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [tok.string for tok in tokens if tok.type == tokenize.COMMENT]


def _word(char):
    return bool(char) and (char.isalnum() or char == "_")


def _joins(before, first):
    """Whether the text ``before`` a claim that starts with ``first`` runs on into it.

    Only the last three characters of ``before`` matter: a letter before a
    letter (``Error`` in ``ValueError``), a digit or ``.`` before a digit, a
    sign that starts a number (``2.0`` in ``-2.0``, not in ``x-2.0``), or an
    exponent (``5`` in ``1e-5``).
    """
    prev = before[-1:]
    if not prev:
        return False
    if _word(first) and _word(prev):
        return True
    if first.isdigit() and prev == ".":  # 5 in 0.5
        return True
    if first == "." and prev.isdigit():  # .5 in 2.5
        return True
    if first.isdigit() and prev in "+-" and before[-2:-1] in ("e", "E") \
            and before[-3:-2].isdigit():  # 5 in 1e-5
        return True
    # a sign at the start of a number: 2.0 in -2.0 (but not in x-2.0)
    return first.isdigit() and prev in "+-" and not _word(before[-2:-1])


def _bounded(actual, start, end):
    """Whether ``actual[start:end]`` is whole: no word or number goes on across its ends."""
    text, after = actual[start:end], actual[end:end + 2]
    if _joins(actual[max(0, start - 3):start], text[0]):
        return False
    last, nxt = text[-1], after[:1]
    if _word(last) and _word(nxt):
        return False  # 2.0 in 2.05, True in Trueish
    if last == "." and nxt.isdigit():  # 2. in 2.05
        return False
    return not (last.isdigit() and nxt == "." and after[1:2].isdigit())  # 2 in 2.5


def occurs(text, actual):
    """Whether ``text`` occurs in ``actual`` on token boundaries.

    An occurrence counts when no word or number goes on across either end:
    the characters just before and after it are not letters, digits or ``_``
    joined to a letter, digit or ``_`` of the text, nor a ``.`` and a digit
    (or a sign) that make a longer number.

    >>> occurs("12.0", "tf.Tensor(12.0, shape=(), dtype=float32)")
    True
    >>> occurs("2.0", "12.0"), occurs("2.0", "2.05"), occurs("2.0", "-2.0"), occurs("6.0", "x: 6.0.")
    (False, False, False, True)
    >>> occurs("5", "1e-5"), occurs("5", "x-5")
    (False, True)
    """
    start = actual.find(text)
    while text and start != -1:
        if _bounded(actual, start, start + len(text)):
            return True
        start = actual.find(text, start + 1)
    return False


@dataclass(frozen=True)
class Claim:
    """One ``# Output: <text>`` comment and whether the stored output holds it.

    A cell whose source cannot be tokenized gives one ``Claim`` with
    ``unreadable`` set (the reason) and no text: it never holds.
    """

    notebook: str
    cell: int  # 1-based position among all the notebook's cells
    text: str
    actual: str
    unreadable: str = ""  # why the cell's claims could not be read; "" when they could

    @property
    def holds(self):
        """Whether the text is in the output on token boundaries (never for an empty claim)."""
        return not self.unreadable and occurs(self.text, self.actual)


def claims(path):
    """Every ``# Output:`` claim in the code cells of the notebook at ``path``.

    A claim is a comment, so a cell is tokenized to find its comments. A cell
    that cannot be tokenized but shows ``# Output:`` somewhere gives one
    unreadable ``Claim`` instead of guesses.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        try:
            comments = _comments(cell.source)
        except (tokenize.TokenError, SyntaxError) as exc:
            if CLAIM_MARK.search(cell.source):
                reason = f"{type(exc).__name__}: {exc.args[0] if exc.args else exc}"
                found.append(Claim(str(path), number, "", output_text(cell), reason))
            continue
        for comment in comments:
            match = CLAIM.search(comment)
            if match:
                found.append(Claim(str(path), number, match["text"], output_text(cell)))
    return found
