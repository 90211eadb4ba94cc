"""The prose rule: the figures a notebook's text states are figures its outputs show.

A claim comment holds a code cell to its output; this rule holds the markdown
cells to the outputs of their notebook. Two checks:

**Measured figures.** In a markdown cell, a *measured figure* is

  - a number with a decimal point: ``12.0``, ``0.82``, ``-3.5``;
  - a percentage: ``97.8%``, ``75 %``;
  - a ratio: ``3×``, ``2.4x``, ``100 times``;
  - a time or a memory size with its unit: ``12 ms``, ``1.5 s``, ``38 MiB``, ``2.4 GB``.

Each must occur in an output of the same notebook, on token boundaries as
claims are matched (for a number with a decimal point, the number alone is
enough: ``8.1×`` holds where ``8.1x`` or ``8.1`` is printed, and ``2.3`` where
``+2.3`` is; a whole number needs its unit: ``4 KB`` does not hold on any ``4``),
in a cell whose output
nbval compares (a timing cell's output differs by machine), or its sentence must
name its source: a Markdown link,
or a parenthesis that starts with ``source:`` (``(source: the seed's code
comment)``); a figure sourced once is known in the whole notebook. Outside the rule: code spans, fenced code, math (``$...$``), link
targets and HTML tags; whole numbers without a unit (notebook numbers, counts,
issue numbers such as ``#23``, years); and versions, a number after a name such
as ``TF``, ``TensorFlow``, ``Keras``, ``Python``, ``JAX``, ``NumPy`` or ``version``.

**Verdicts beside a bound.** A sentence that says values are the same, as
"the same values", "identical weights", "equal numbers" or "the gradients are
the same" (``same``, ``identical`` or ``equal`` next to ``value``, ``number``,
``result``, ``gradient``, ``weight``, ``output``, ``Jacobian``, ``Hessian``,
``derivative``, ``loss`` or ``answer``), in a markdown cell next to a code cell
whose output prints a bound (``below 1e-6``), must say how the same: it names
``round-off``, a bound (``below``, ``within``, ``up to``) or ``digits``. The
words "exactly the same" beside a bound are a contradiction, not a qualifier.

>>> nb = {"cells": [{"cell_type": "markdown", "source": "The slope is 12.0, not 6.5."},
...                 {"cell_type": "code", "source": "", "outputs": [
...                     {"output_type": "stream", "name": "stdout", "text": "12.0\\n"}]}]}
>>> [p.figure for p in prose_problems(nb)]
['6.5']
"""

import re
from dataclasses import dataclass

from nbclaims.match import occurs
from nbclaims.outputs import output_text

_UNIT = (r"(?:ms|µs|μs|us|ns|s|sec|seconds?|minutes?|min|hours?|h|"
         r"KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB|bytes)")
# a number: digits with an optional decimal part and thousands separators, a sign
_NUMBER = r"[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
FIGURE = re.compile(
    rf"(?<![\w.,#/])(?P<number>{_NUMBER})"
    rf"(?P<suffix>[ \u00a0]?%|[ \u00a0]?[×x](?![ \u00a0]?\d)|[ \u00a0]times|[ \u00a0]?{_UNIT})?"
    r"(?![\w])(?!\.\d)")
_VERSION = re.compile(r"\b(?:TF|TensorFlow|Keras|Python|JAX|jaxlib|NumPy|nbformat|pip|"
                      r"Sphinx|version|versions|v)\s*$", re.IGNORECASE)
_SOURCED = re.compile(r"\]\(|\(source:", re.IGNORECASE)

_VALUES = (r"(?:values?|numbers?|results?|gradients?|weights?|outputs?|jacobians?|"
           r"hessians?|derivatives?|loss(?:es)?|answers?)")
_SAME = r"(?:the\s+same|identical|equal)"
VERDICT = re.compile(rf"\b{_SAME}\s+{_VALUES}\b|\b{_VALUES}\s+(?:are|is|were|was)\s+"
                     rf"(?:all\s+)?{_SAME}\b", re.IGNORECASE)
_QUALIFIED = re.compile(r"round-?off|\bbelow\b|\bwithin\b|\bup\s+to\b|\bdigits\b",
                        re.IGNORECASE)
BOUND = re.compile(r"\bbelow\s+[-−]?\d")


@dataclass(frozen=True)
class ProseProblem:
    """A figure no output shows, or a verdict that a bound beside it contradicts."""

    notebook: str
    cell: int  # counted from 1, markdown cells included
    kind: str  # "figure" or "verdict"
    figure: str  # the figure, or the verdict's words
    sentence: str
    detail: str = ""  # for a verdict: the bound printed beside it

    def report(self):
        where = f"{self.notebook}: cell {self.cell}"
        if self.kind == "figure":
            return (f"{where}: the figure {self.figure!r} appears in no output of this "
                    f"notebook.\n  sentence: {self.sentence}\n  Print it in a cell, name "
                    "its source in the sentence (a link, or '(source: ...)'), or remove it.")
        return (f"{where}: says {self.figure!r} beside an output that prints a bound "
                f"({self.detail!r}).\n  sentence: {self.sentence}\n  Say how the same: "
                "'the same up to round-off (below 1e-6)', or name the bound.")


def prose_text(markdown):
    """A markdown cell's prose: code, math, HTML tags and link targets blanked out with
    spaces, so every other character keeps its place.

    >>> prose_text("See `x = 2.5` and $f(5) = 12$ in [the docs](https://a.b/1.5).")
    'See           and             in [the docs]                 .'
    """
    def blank(m):
        return " " * len(m.group(0))

    text = re.sub(r"```.*?```|~~~.*?~~~", blank, markdown, flags=re.DOTALL)
    text = re.sub(r"\$\$.*?\$\$", blank, text, flags=re.DOTALL)
    text = re.sub(r"(?<!\\)\$[^$\n]*(?<!\\)\$", blank, text)
    text = re.sub(r"`[^`]*`", blank, text)
    text = re.sub(r"<!--.*?-->|<[^>\n]+>", blank, text, flags=re.DOTALL)
    return re.sub(r"(?<=\])\([^)\s]*\)", blank, text)


def _sentences(text):
    """``(start, end)`` spans of the sentences of ``text`` (ends at . ! ? or a blank line)."""
    start = 0
    for m in re.finditer(r"(?<=[.!?])\s+(?=[A-Z(*\[\"'`$])|\n\s*\n", text):
        yield start, m.start()
        start = m.end()
    yield start, len(text)


# a number that names a thing, not a measurement: "notebook 09", "section 5", "cell 3"
_REFERENCE = re.compile(r"\b(?:notebooks?|sections?|cells?|chapters?|steps?|epochs?|issues?|"
                        r"figures?|tables?)\s*$", re.IGNORECASE)


def figures(markdown):
    """The measured figures of a markdown cell: ``(figure, number, sentence, sourced)``.

    ``sentence`` is the sentence as written (code and links included); it is
    ``sourced`` when it holds a Markdown link or a ``(source: ...)`` parenthesis.

    >>> [f[0] for f in figures("It took 1.5 s, 3× faster, on TF 2.16; 97.8% (notebook 05).")]
    ['1.5 s', '3×', '97.8%']
    """
    text = prose_text(markdown)
    spans = list(_sentences(text))
    found = []
    for m in FIGURE.finditer(text):
        number = m.group("number")
        if "." not in number and not m.group("suffix"):
            continue  # a whole number without a unit: a count, not a measurement
        before = text[:m.start()]
        if _VERSION.search(before) or _REFERENCE.search(before):
            continue
        start, end = next((a, b) for a, b in spans if a <= m.start() <= b)
        sentence = " ".join(markdown[start:end].split())
        found.append((" ".join(m.group(0).split()), number, sentence,
                      bool(_SOURCED.search(sentence))))
    return found


def prose_problems(nb, notebook="notebook"):
    """Every figure and verdict of ``nb``'s markdown that its outputs do not bear out.

    Args:
      nb: a notebook (an ``nbformat.NotebookNode`` or a plain dict).
      notebook: its name, for the reports.

    Returns:
      A list of :class:`ProseProblem`, in cell order.
    """
    cells = nb.get("cells", [])
    shown = [output_text(c) if c.get("cell_type") == "code" else "" for c in cells]
    # an output nbval does not compare (a timing) differs by machine: no figure rests on it
    steady = [text if not _ignored(c) else "" for text, c in zip(shown, cells)]
    everything = "\n".join(steady)
    markdown = {i: _source(c) for i, c in enumerate(cells) if c.get("cell_type") == "markdown"}
    found = {i: figures(text) for i, text in markdown.items()}
    # a figure whose source one sentence names is known in the whole notebook
    sourced_here = {f[1] for fs in found.values() for f in fs if f[3]}
    problems = []
    for index, source in markdown.items():
        for figure, number, sentence, sourced in found[index]:
            plain = number.replace("−", "-")
            # the figure as written, a ratio or percentage printed without a space (8.1x,
            # 8.1×, 97.8%); a number with a decimal point may also stand alone (8.1) or
            # signed (+2.3); a whole number only with its unit ("4 KB" is not any 4)
            forms = {figure, plain + "x", plain + "×", plain + "%"}
            if "." in number:
                forms |= {number, plain, "+" + plain.lstrip("-")}
            if sourced or number in sourced_here or any(occurs(f, everything) for f in forms):
                continue
            problems.append(ProseProblem(notebook, index + 1, "figure", figure, sentence))
        bounds = [BOUND.search(shown[j]) for j in (index - 1, index + 1)
                  if 0 <= j < len(cells) and cells[j].get("cell_type") == "code"]
        bound = next((b for b in bounds if b), None)
        if bound is None:
            continue
        text = prose_text(source)
        for start, end in _sentences(text):
            sentence = " ".join(source[start:end].split())
            verdict = VERDICT.search(" ".join(text[start:end].split()))
            if verdict and (not _QUALIFIED.search(sentence)
                            or re.search(r"\bexactly\s+(?:the\s+same|identical|equal)\b",
                                         sentence, re.IGNORECASE)):
                problems.append(ProseProblem(notebook, index + 1, "verdict",
                                             verdict.group(0), sentence, _line_of(bound)))
    return problems


def _ignored(cell):
    """Whether nbval leaves the cell's output uncompared (a tag, or its first-line marker)."""
    tags = (cell.get("metadata") or {}).get("tags") or []
    first = _source(cell).lstrip().split("\n", 1)[0]
    return ("nbval-ignore-output" in tags or "nbval-skip" in tags
            or first.startswith(("# NBVAL_IGNORE_OUTPUT", "# NBVAL_SKIP")))


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _line_of(match):
    """The output line that holds a bound ``match``."""
    text = match.string
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return text[start:end if end >= 0 else len(text)].strip()
