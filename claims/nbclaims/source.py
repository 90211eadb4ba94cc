"""A code cell's comments, read by Python's own tokenizer, with IPython's syntax set aside.

A claim is a comment, and only a tokenizer tells a comment from a ``#`` inside a
string. A cell is read as Python, except:

- a cell magic (``%%time``, ``%%bash``): the body of ``%%time``, ``%%timeit``,
  ``%%capture`` and ``%%prun`` is Python and is read; any other body (bash,
  HTML, a file that ``%%writefile`` writes) is not Python, so a ``# Output:`` in
  it cannot be read as a claim;
- a line magic or shell line (``%time f(x)``, ``!ls``, ``files = !ls``): its
  arguments are not Python, so the line is set aside; one that holds
  ``# Output:`` cannot be read (its comment cannot be told from its arguments).

A cell that cannot be read gives a reason instead of comments: nothing is guessed.
"""

import io
import re
import tokenize

CLAIM_MARK = re.compile(r"#\s*Output:")
PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun")
_CELL_MAGIC = re.compile(r"\A\s*%%(?P<name>\w+)")
_LINE_MAGIC = re.compile(r"^(?P<indent>\s*)(?:[%!]|[A-Za-z_][\w.,\s]*=\s*[%!](?!=))")


class Unreadable(Exception):
    """A cell whose comments cannot be read; the message says why."""


def _python(source):
    """``source`` with IPython's magics and shell lines set aside (each a ``pass`` at
    its indentation, so line numbers and blocks stay), or Unreadable."""
    magic = _CELL_MAGIC.match(source)
    if magic:
        if magic["name"] not in PYTHON_CELL_MAGICS:
            raise Unreadable(f"a %%{magic['name']} cell is not Python, so a `# Output:` in "
                             "it cannot be told from its text")
        first_line_end = source.find("\n")
        source = "" if first_line_end == -1 else "\n" + source[first_line_end + 1:]
    lines = []
    for number, line in enumerate(source.split("\n"), start=1):
        found = _LINE_MAGIC.match(line)
        if found:
            if CLAIM_MARK.search(line):
                raise Unreadable(f"line {number} is a magic or shell command, whose "
                                 "`# Output:` cannot be told from its arguments; put the "
                                 "claim on a line of Python")
            line = found["indent"] + "pass"
        lines.append(line)
    return "\n".join(lines)


def comments(source):
    """The comment tokens of a cell's ``source``, in order.

    Raises:
      Unreadable: the source is not Python that the tokenizer reads whole (an
        unterminated string, a stray character, a non-Python cell magic).
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(_python(source)).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise Unreadable(f"{type(exc).__name__}: {exc.args[0] if exc.args else exc}") from None
    # before Python 3.12 the tokenizer does not stop at a stray character or an
    # unterminated string: it yields ERRORTOKEN and reads on, into the string
    errors = [tok for tok in tokens if tok.type == tokenize.ERRORTOKEN and tok.string.strip()]
    if errors:
        tok = errors[0]
        raise Unreadable(f"SyntaxError: unexpected {tok.string!r} at line {tok.start[0]}")
    return [tok.string for tok in tokens if tok.type == tokenize.COMMENT]
