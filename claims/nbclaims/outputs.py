"""What a code cell shows as text, read the way Jupyter and nbval read it.

A stream (stdout, stderr) is a byte stream: the kernel sends it in pieces
whose borders depend on timing (a loaded machine flushes one ``print`` as two
outputs), and another stream's pieces may fall between them. So all the
pieces of one stream are joined as they are, with nothing between them, at
the place of the stream's first piece, and ``\\b`` and ``\\r`` are applied as a
terminal shows them. nbval coalesces streams the same way before it compares.
"""

import re

_BACKSPACE = re.compile("[^\n]\x08")  # a character and the backspace (\x08) that erases it
_CARRIAGE_RETURN = re.compile(r"^.*\r(?=[^\n])", re.MULTILINE)  # a line overwritten


def rendered(text):
    r"""Stream text as a terminal shows it: backspaces and carriage returns applied.

    >>> rendered("10%\r55%\r100%\n"), rendered("ab\bc")
    ('100%\n', 'ac')
    """
    old = None
    while old != text:
        old, text = text, _BACKSPACE.sub("", text)
    return _CARRIAGE_RETURN.sub("", text)


def output_text(cell):
    """Everything a code cell shows as text: streams, plain-text results, errors.

    Args:
      cell: a code cell (an ``nbformat.NotebookNode`` or a plain dict).

    Returns:
      The parts, in the order of their first output, one per line: each
      stream whole (its pieces joined as they are), each result's
      ``text/plain``, each error as ``Name: message``.

    >>> cell = {"outputs": [{"output_type": "stream", "name": "stdout", "text": "4.0"},
    ...                     {"output_type": "stream", "name": "stderr", "text": "careful\\n"},
    ...                     {"output_type": "stream", "name": "stdout", "text": " [1. 1.]\\n"}]}
    >>> print(output_text(cell))
    4.0 [1. 1.]
    <BLANKLINE>
    careful
    <BLANKLINE>
    """
    parts, streams = [], {}  # parts: text, or a list of one stream's pieces
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            pieces = streams.get(out.get("name", "stdout"))
            if pieces is None:
                pieces = streams[out.get("name", "stdout")] = []
                parts.append(pieces)
            pieces.append(_text(out.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            parts.append(_text(out.get("data", {}).get("text/plain", "")))
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "\n".join(rendered("".join(p)) if isinstance(p, list) else p for p in parts)


def _text(value):
    """A text field as one string: nbformat's JSON may split it into a list of lines."""
    return "".join(value) if isinstance(value, list) else str(value)
