"""What a code cell shows as text, read the way Jupyter shows it.

A stream (stdout, stderr) is a byte stream: the kernel sends it in pieces
whose borders depend on timing (a loaded machine flushes one ``print`` as two
outputs), and another stream's pieces may fall between them. So all the
pieces of one stream are joined as they are, with nothing between them, at
the place of the stream's first piece (nbval merges streams the same way).
Then the text is shown as Jupyter shows it: terminal colour codes removed, a
backspace erases the character before it (as in a terminal: Jupyter's own
regular expression also lets two backspaces cancel each other), and a carriage
return goes back to the start of the line, where the text after it overwrites
(a progress bar reads as its last state).
"""

import re

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")  # colour and cursor codes (CSI sequences)
_BACKSPACE = re.compile("[^\n\x08]\x08")  # a character and the backspace that erases it


def _carriage_returns(line):
    """One line (no ``\\n``) with each ``\\r`` applied: the text after it overwrites the
    start of the text before it, as Jupyter's output area shows it."""
    shown = ""
    for part in line.split("\r"):
        shown = part + shown[len(part):]
    return shown


def rendered(text):
    r"""Stream text as Jupyter shows it: colour codes out, backspaces and carriage returns applied.

    >>> rendered("10%\r55%\r100%\n"), rendered("ab\bc"), rendered("abcdef\rXY")
    ('100%\n', 'ac', 'XYcdef')
    >>> rendered("\x1b[1mEpoch 1/5\x1b[0m")
    'Epoch 1/5'
    """
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    old = None
    while old != text:
        old, text = text, _BACKSPACE.sub("", text)
    text = text.replace("\x08", "")  # a backspace at a line's start erases nothing
    return "\n".join(_carriage_returns(line) for line in text.split("\n"))


def _text(value):
    """A text field as one string: nbformat's JSON may split it into a list of lines;
    a missing (null) field is no text."""
    if value is None:
        return ""
    return "".join(value) if isinstance(value, list) else str(value)


def output_text(cell):
    """Everything a code cell shows as text: streams, plain-text results, errors.

    Args:
      cell: a code cell (an ``nbformat.NotebookNode`` or a plain dict).

    Returns:
      The parts, in the order of their first output, one per line: each
      stream whole (its pieces joined as they are), each result's
      ``text/plain``, each error as ``Name: message``; as Jupyter shows them.

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
            name = out.get("name", "stdout")
            if name not in streams:
                streams[name] = []
                parts.append(streams[name])
            streams[name].append(_text(out.get("text")))
        elif kind in ("execute_result", "display_data"):
            parts.append(_ANSI.sub("", _text((out.get("data") or {}).get("text/plain"))))
        elif kind == "error":
            name, message = _text(out.get("ename")), _text(out.get("evalue"))
            parts.append(_ANSI.sub("", f"{name}: {message}" if message else name))
    return "\n".join(rendered("".join(p)) if isinstance(p, list) else p for p in parts)


def shown_types(cell):
    """The non-text things a cell shows (``"image/png, text/html"``), for a report."""
    kinds = []
    for out in cell.get("outputs", []):
        for mime in (out.get("data") or {}):
            if mime != "text/plain" and mime not in kinds:
                kinds.append(mime)
    return ", ".join(kinds)
