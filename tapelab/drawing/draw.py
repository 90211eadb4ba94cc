"""`draw`: a picture of what a tape records, with each value, each gradient, and the cuts.

micrograd's ``draw_dot`` and torchviz's ``make_dot`` for ``tf.GradientTape``: one
node per op between the sources and the target, each with its forward value and
its gradient ``tape.gradient(target, node)``, so the chain rule can be read off,
node by node; the edges where a gradient stops are dashed and labelled with the
cause ``explain_none`` would give. ``record.py`` finds the nodes, ``group.py``
makes a layer one node, ``picture.py`` draws the SVG.
"""

from __future__ import annotations

import inspect
import operator
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import tensorflow as tf

from tapelab.drawing import group, picture
from tapelab.drawing.numbers import shown
from tapelab.drawing.record import record
from tapelab.replace_file import replace_file

GRANULARITY = ("auto", "op", "scope")


class Drawing:
    """What :func:`draw` returns: an SVG picture in Jupyter, one line per node as text.

    Attributes:
      nodes: the nodes (``tapelab.drawing.record.Node``), inputs first, each
        with ``name``, ``op``, ``inputs``, ``value``, ``grad`` (None where the tape
        gives none), ``recorded`` and ``note``.
      cuts: the cut edges (``tapelab.drawing.record.Cut``), each with its ``cause``.
      note: what the picture leaves out (a collapse, a failed trace), or "".
    """

    def __init__(self, recording, label):
        self.nodes, self.cuts, self.note, self.label = (
            recording.nodes, recording.cuts, recording.note, label)
        self._recording = recording

    def node(self, name: str):
        """The node called ``name`` (``KeyError`` naming the ones there are)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"No node {name!r} in this drawing. Received: {name!r}; its nodes "
                       f"are {[n.name for n in self.nodes]}.")

    def svg(self) -> str:
        """The picture, as an SVG document."""
        return picture.svg(self._recording, self.label)

    def _repr_svg_(self):  # Jupyter shows this
        return self.svg()

    def __str__(self):
        rows = [(n.name, _what(n), "target" if n.target else "",
                 "" if n.kind == "collapsed" else f"value {shown(n.value)}",
                 "" if n.kind == "collapsed" else f"grad {shown(n.grad)}", _note(n))
                for n in self.nodes]
        widths = [max(len(r[k]) for r in rows) for k in range(5)]
        lines = [f"{self.label}: {len(self.nodes)} nodes, {len(self.cuts)} cut(s)"]
        for r in rows:
            cells = [r[k].ljust(widths[k]) for k in range(5)] + [r[5]]
            lines.append("  ".join(cells).rstrip())
        lines += [f"cut {c.source} -> {c.target}: {c.cause}" for c in self.cuts]
        if self.note:
            lines.append(f"note: {self.note}")
        return "\n".join(lines)

    __repr__ = __str__

    def save(self, path: str | os.PathLike) -> Path:
        """Write the picture to ``path`` (``.svg``), atomically: a temporary file, then
        ``os.replace``, so an existing file is never left half-written (its mode is kept).

        Returns:
          The path written.
        """
        path = Path(path)
        if path.suffix.lower() != ".svg":
            raise ValueError(
                "`path` must end in .svg: the drawing is an SVG, laid out in Python without "
                f"a renderer that makes PNG. Received: path={str(path)!r}. Save it as "
                "picture.svg (a browser opens it, and converts it to PNG if you need one).")
        if path.is_dir():
            raise IsADirectoryError(f"`path` must name a file, not a folder. Received: "
                                    f"path={str(path)!r}. Add a file name: {path / 'tape.svg'}")
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise FileNotFoundError(f"`path`'s folder does not exist. Received: "
                                    f"path={str(path)!r}. Create {str(folder)!r} first.")
        replace_file(path, self.svg().encode("utf-8"))
        return path


def _what(n):
    if n.kind == "op":
        return f"{n.op}({', '.join(n.args)})"
    if n.kind == "group":
        kinds = [m.op for m in getattr(n, "members", []) if m.kind == "op"]
        return ", ".join(kinds) if 0 < len(kinds) <= 3 else f"{n.ops} ops"
    if n.kind == "captured":
        return "captured constant"
    return {"variable": "variable", "source": "source"}.get(n.op, n.kind)


def _note(n):
    notes = [n.note] if n.note else []
    if not n.recorded and n.kind != "collapsed":
        notes.append("not recorded")
    return ", ".join(notes)


def draw(fn: Callable[..., Any], *sources: Any, watch: bool | Iterable[int] = True,
         by: str = "auto", expand: Iterable[str] = (), max_nodes: int = 50) -> Drawing:
    """Draw what a tape records when it runs ``fn(*sources)``: every op, value and gradient.

    Each node is a source, a variable ``fn`` reads, a tensor it captured, or an op
    between them and the target (what ``fn`` returns); it shows its value (small
    tensors in full, larger ones as shape and dtype) and its gradient, what
    ``tape.gradient(target, node)`` gives (None where the tape gives none).
    Where the gradient stops, the edge is dashed and labelled with
    :func:`explain_none`'s cause (``stop_gradient``, ``integer_path``,
    ``variable_assign``, ``no_gradient_registered``; ``unknown`` where an op's
    registered gradient is None, as ``tf.round``'s); an input the tape did not
    watch is drawn dashed, "not recorded"; a comparison (a bool) is not recorded
    and no cut. ``fn`` runs once eagerly and is traced once, without AutoGraph;
    a variable it changes (``assign``, a BatchNormalization's moving statistics)
    is put back, and the drawing reads it as it was before ``fn`` ran. A ``fn``
    that cannot be traced (a Python ``if`` on a tensor, ``.numpy()``) is drawn as
    its sources and target, with the gradients an eager tape gives them and, for
    a source without one, :func:`explain_none`'s cause.

    Args:
      fn: a function of the sources returning a tensor (or a structure of them,
        summed as ``tape.gradient`` sums them). It may read variables and
        tensors by closure, call Keras models and losses, and take gradients
        itself (a second-order graph).
      *sources: what the tape watches, as for :func:`value_and_gradient`
        (numbers become float32), or none.
      watch: True (every source watched, as ``value_and_gradient`` does), False
        (none: a plain tape, as :func:`explain_none` runs it), or the positions
        of the sources to watch. Trainable variables are watched when read, as
        a tape does.
      by: ``"op"`` (one node per op), ``"scope"`` (one per name scope: a Keras
        layer, a loss, a TF function such as ``logistic_loss``), or ``"auto"``
        (by scope; the ops of a gradient taken inside ``fn`` are never grouped).
      expand: scope names (a layer's name) to draw op by op; a name that is no
        scope of the drawing raises ``ValueError``, listing the scopes.
      max_nodes: the most nodes drawn; the sources stay, and the earliest nodes
        after them are drawn as one node, with a note.

    Returns:
      A :class:`Drawing`: an SVG in Jupyter (and in the book), one line per
      node with ``print``, ``.nodes`` and ``.cuts`` to inspect, ``.save(path)``.

    >>> import tapelab
    >>> d = tapelab.draw(lambda x: x**2 + 2*x + 1, 5.0)
    >>> print(d)  # d/dx at 5 is 2x + 2 = 12
    tape: 5 nodes, 0 cut(s)
    x      source                   value 5.0   grad 12.0
    pow    Pow(x, 2.0)              value 25.0  grad 1.0
    mul    Mul(2.0, x)              value 10.0  grad 1.0
    add    AddV2(pow, mul)          value 35.0  grad 1.0
    add_1  AddV2(add, 1.0)  target  value 36.0  grad 1.0
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be a callable for draw. Received: {type(fn).__name__} "
                        f"{fn!r}.")
    if not tf.executing_eagerly():
        raise RuntimeError("draw runs fn eagerly and traces it itself: call it outside "
                           "tf.function (it draws what a tape records, not a graph's step).")
    expand = _check(watch, by, expand, max_nodes)
    _check_arity(fn, sources)
    if isinstance(watch, bool):
        positions = range(len(sources)) if watch else ()
    else:
        positions = tuple(watch)
        bad = [p for p in positions if isinstance(p, bool) or not isinstance(p, int)
               or not 0 <= p < len(sources)]
        if bad:
            raise ValueError(f"`watch` must hold positions of sources, 0 to {len(sources) - 1}. "
                             f"Received: watch={tuple(positions)!r}.")
    recording = record(fn, sources, positions)
    if by != "op":
        recording = group.by_scope(recording, tuple(expand))
    recording = group.collapse(recording, operator.index(max_nodes))
    return Drawing(recording, "tape")


def _check_arity(fn, sources):
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: fn's call will say
        return
    try:
        signature.bind(*sources)
    except TypeError as exc:
        raise TypeError(f"`fn` cannot take the {len(sources)} source(s) given ({exc}). "
                        f"Received: fn{signature} and {len(sources)} source(s). Pass one "
                        "source per positional parameter; read the rest by closure.") from None


def _check(watch, by, expand, max_nodes):
    """Check draw's options; ``expand`` as a tuple of names."""
    if not isinstance(watch, bool) and not isinstance(watch, Iterable):
        raise TypeError(f"`watch` must be True, False or a tuple of source positions. "
                        f"Received: watch={watch!r}.")
    if by not in GRANULARITY:
        raise ValueError(f"`by` must be one of {GRANULARITY}. Received: by={by!r}.")
    if isinstance(expand, str):
        raise TypeError(f"`expand` must be a tuple of scope names, e.g. ({expand!r},). "
                        f"Received: expand={expand!r}.")
    if not isinstance(expand, Iterable) or not all(isinstance(e, str) for e in expand):
        raise TypeError(f"`expand` must be a tuple of scope names, e.g. ('dense',). "
                        f"Received: expand={expand!r}.")
    try:
        count = operator.index(max_nodes) if not isinstance(max_nodes, bool) else None
    except TypeError:
        count = None
    if count is None:
        raise TypeError(f"`max_nodes` must be an int >= 2. Received: max_nodes={max_nodes!r}.")
    if count < 2:
        raise ValueError(f"`max_nodes` must be an int >= 2. Received: max_nodes={max_nodes!r}.")
    return tuple(expand)
