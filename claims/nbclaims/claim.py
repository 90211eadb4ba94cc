"""``# Output:`` claims: the comment in a notebook cell that states what the cell prints.

A claim is a Python comment ``# Output: <text>`` anywhere in a code cell. It
holds when ``<text>`` occurs in the cell's output on token boundaries
(:mod:`nbclaims.match`). Comments are read by Python's tokenizer, with IPython's
magics set aside (:mod:`nbclaims.source`); a cell that cannot be read gives one
unreadable claim instead of guesses. A comment that looks like a claim but is
not one (``# output: 4``, ``# Output : 4``) is reported, never skipped silently.
"""

import json
import re
import warnings
from dataclasses import dataclass

from nbclaims.match import occurs
from nbclaims.outputs import output_text, shown_types
from nbclaims.source import CLAIM_MARK, Unreadable, comments

CLAIM = re.compile(r"#\s*Output:\s*(?P<text>.*?)\s*$")  # in one comment
NEAR_MISS = re.compile(r"#\s*output\s*:", re.IGNORECASE)  # "# output: 4", "# Output : 4"


class NotebookError(ValueError):
    """A file that cannot be read as a notebook: missing, unreadable, not JSON, not nbformat 3 or 4."""


@dataclass(frozen=True)
class Claim:
    """One ``# Output: <text>`` comment and the output it is held against.

    A cell that cannot be read gives one ``Claim`` with ``unreadable`` set (the
    reason) and no text; a comment that looks like a claim but is not one gives
    a ``Claim`` with ``malformed`` set (the comment). Neither ever holds.
    """

    notebook: str
    cell: int  # 1-based position among all the notebook's cells, markdown cells included
    text: str
    actual: str
    unreadable: str = ""  # why the cell's claims could not be read; "" when they could
    malformed: str = ""  # a comment like "# output: 4": not a claim, and not silently one
    shows: str = ""  # what else the cell shows that is not text ("image/png"), for reports

    @property
    def holds(self):
        """Whether the text is in the output on token boundaries (never for an empty claim)."""
        return not (self.unreadable or self.malformed) and occurs(self.text, self.actual)

    def report(self, outputs="stored"):
        """Why the claim does not hold, as the lines ``check-claims`` prints ("" if it holds).

        Args:
          outputs: which outputs it was held against, ``"stored"`` or ``"fresh"``.
        """
        where = f"{self.notebook}: cell {self.cell}"
        if self.unreadable:
            return (f"{where}: unreadable cell: {self.unreadable}; its `# Output:` claims "
                    "cannot be told from the rest, so none is checked. Fix the cell, or "
                    "move the claim to a cell of plain Python.")
        if self.malformed:
            return (f"{where}: malformed claim: `{self.malformed}` looks like a claim, but a "
                    "claim starts with exactly `# Output:` (capital O, the colon right after). "
                    "Fix the marker, or reword the comment.")
        if not self.text:
            return (f"{where}: empty claim: `# Output:` with nothing after it. Write the "
                    "output the cell shows after the colon, or remove the comment.")
        if self.holds:
            return ""
        actual = shorten(self.actual.strip()) or (
            f"(no text output; it shows {self.shows})" if self.shows else "(no output)")
        return (f"{where}: claim not in the {outputs} output\n  claim:  {self.text}\n"
                "  actual: " + actual.replace("\n", "\n          "))


def shorten(text, lines=20, chars=2000):
    """The first ``lines`` lines (at most ``chars`` characters) of ``text``, and how much is left.

    >>> shorten("a\\nb\\nc", lines=2)
    'a\\nb\\n… (2 more characters)'
    """
    head = "\n".join(text[:chars].split("\n")[:lines])
    rest = len(text) - len(head)
    return head if rest <= 0 else f"{head}\n… ({rest} more characters)"


class _Malformed(Exception):
    """What :func:`_check_structure` found wrong; read_notebook makes it a NotebookError."""


def _kind(value):
    return "null" if value is None else type(value).__name__


def _check_structure(nb):
    """Raise ValueError naming the first part of ``nb`` (a parsed JSON document) that is
    not what an nbformat 3 or 4 notebook holds."""
    if not isinstance(nb, dict):
        raise _Malformed(f"its top level is a JSON {_kind(nb)}, not an object")
    version = nb.get("nbformat")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _Malformed("it has no nbformat version (the top-level key 'nbformat')")
    if version not in (3, 4):
        raise _Malformed(f"it is nbformat {version}; nbformat 3 and 4 are read. Open and "
                         "save it in Jupyter to convert it")
    cells = nb.get("cells") if version == 4 else [
        c for ws in nb.get("worksheets") or [] for c in (ws.get("cells") or [])]
    if not isinstance(cells, list):
        raise _Malformed(f"its 'cells' is a {_kind(cells)}, not a list")
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise _Malformed(f"cell {number} is not a cell (an object with a 'cell_type')")
        source = cell.get("source" if version == 4 else "input", "")
        if not isinstance(source, (str, list)):
            raise _Malformed(f"cell {number}'s source is a {_kind(source)}, not text")
        outputs = cell.get("outputs", [])
        if cell["cell_type"] == "code" and not isinstance(outputs, list):
            raise _Malformed(f"cell {number}'s 'outputs' is a {_kind(outputs)}, not a list")
        if cell["cell_type"] == "code" and not all(isinstance(o, dict) for o in outputs):
            raise _Malformed(f"cell {number} has an output that is not an object")


def read_notebook(path):
    """The notebook at ``path``, as nbformat 4 (an nbformat 3 one is converted).

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
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"it is not JSON ({exc})") from None
        _check_structure(parsed)
        with warnings.catch_warnings():  # nbformat's notes on missing cell ids and the like
            warnings.simplefilter("ignore")
            return nbformat.reads(text, as_version=4)
    except RecursionError as exc:
        raise NotebookError("its JSON is nested too deeply to read") from exc
    except (_Malformed, ValueError, KeyError, TypeError, AttributeError,
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
        source = "".join(source) if isinstance(source, list) else source
        actual, shows = output_text(cell), shown_types(cell)
        try:
            notes = comments(source)
        except Unreadable as exc:
            if CLAIM_MARK.search(source) or NEAR_MISS.search(source):
                found.append(Claim(name, number, "", actual, str(exc), shows=shows))
            continue
        for comment in notes:
            match = CLAIM.search(comment)
            if match:
                found.append(Claim(name, number, match["text"], actual, shows=shows))
            elif NEAR_MISS.search(comment):
                found.append(Claim(name, number, "", actual, malformed=comment.strip(),
                                   shows=shows))
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
