"""``# Output:`` claims: the comment in a notebook cell that states what the cell prints.

A claim is a Python comment ``# Output: <text>`` anywhere in a code cell. It
holds when ``<text>`` occurs in the cell's output on token boundaries
(:mod:`nbclaims.match`). A cell that Python cannot tokenize gives one
unreadable claim instead of guesses: a ``# Output:`` inside a string is not a
claim, and without tokens the two cannot be told apart.
"""

import io
import json
import re
import tokenize
from dataclasses import dataclass

from nbclaims.match import occurs
from nbclaims.outputs import output_text

CLAIM = re.compile(r"#\s*Output:\s*(?P<text>.*?)\s*$")  # in one comment
CLAIM_MARK = re.compile(r"#\s*Output:")  # anywhere in a cell


class NotebookError(ValueError):
    """A file that cannot be read as a notebook: missing, unreadable, not JSON, not nbformat 4."""


@dataclass(frozen=True)
class Claim:
    """One ``# Output: <text>`` comment and the output it is held against.

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

    def report(self):
        """Why the claim does not hold, as the lines ``check-claims`` prints ("" if it holds)."""
        where = f"{self.notebook}: cell {self.cell}"
        if self.unreadable:
            return (f"{where}: unreadable cell: Python cannot tokenize its source "
                    f"({self.unreadable}), so its `# Output:` claims cannot be told from "
                    "strings and none is checked. Fix the cell's syntax.")
        if not self.text:
            return (f"{where}: empty claim: `# Output:` with nothing after it. Write the "
                    "output the cell shows after the colon, or remove the comment.")
        if self.holds:
            return ""
        actual = shorten(self.actual.strip()) or "(no output)"
        return (f"{where}: claim not in output\n  claim:  {self.text}\n  actual: "
                + actual.replace("\n", "\n          "))


def shorten(text, lines=20, chars=2000):
    """The first ``lines`` lines (at most ``chars`` characters) of ``text``, and how much is left.

    >>> shorten("a\\nb\\nc", lines=2)
    'a\\nb\\n… (2 more characters)'
    """
    head = "\n".join(text[:chars].split("\n")[:lines])
    rest = len(text) - len(head)
    return head if rest <= 0 else f"{head}\n… ({rest} more characters)"


def _comments(source):
    """The comment tokens of a cell's source.

    Raises ``SyntaxError`` (or ``tokenize.TokenError``) when the source cannot
    be tokenized: then nothing tells a comment from a string.
    """
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [tok.string for tok in tokens if tok.type == tokenize.COMMENT]


def read_notebook(path):
    """The notebook at ``path``, as nbformat 4.

    Raises:
      NotebookError: the file cannot be read (missing, a folder, no permission),
        is not JSON (or nested too deeply to parse), or is not a notebook.
    """
    import nbformat

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"cannot read it ({type(exc).__name__}: "
                            f"{getattr(exc, 'strerror', None) or exc})") from exc
    try:
        nb = nbformat.reads(text, as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise TypeError("it has no list of cells")
        for cell in nb.cells:
            _ = cell.cell_type, cell.get("source", "")
        return nb
    except RecursionError as exc:
        raise NotebookError("its JSON is nested too deeply to read") from exc
    except (ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError,
            nbformat.ValidationError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise NotebookError(reason[:200]) from exc


def claims_in(nb, name):
    """Every ``# Output:`` claim in the code cells of notebook ``nb``, reported as ``name``."""
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        source = cell.get("source", "")
        try:
            comments = _comments(source)
        except (tokenize.TokenError, SyntaxError) as exc:
            if CLAIM_MARK.search(source):
                reason = f"{type(exc).__name__}: {exc.args[0] if exc.args else exc}"
                found.append(Claim(name, number, "", output_text(cell), reason))
            continue
        for comment in comments:
            match = CLAIM.search(comment)
            if match:
                found.append(Claim(name, number, match["text"], output_text(cell)))
    return found


def claims(path):
    """Every ``# Output:`` claim in the notebook at ``path``, held against its stored outputs.

    Args:
      path: a ``.ipynb`` file.

    Returns:
      A list of :class:`Claim`, in cell order.

    Raises:
      NotebookError: ``path`` is not a readable notebook.
    """
    return claims_in(read_notebook(path), str(path))
