"""Where a cut's label goes: beside its arrow, clear of every arrow and of every other label.

An edge is a cubic curve from the bottom of its input's box, ``(x1, y1)``, to the top
of its consumer's, ``(x2, y2)``, with both control points at the middle height: along
it x moves monotonically from x1 to x2 and y from y1 to y2. So a label on the far side
of x2 from x1 never crosses its own curve.

A cut's label ("cut: stop_gradient") is one text row just above the end of its arrow,
or one row higher: both rows lie in the gap between two layers, where no box is. On
each row and each side of the arrow's end, the label slides away from the end until it
is clear of every curve at its height and of every label placed before it. The place
nearest the end wins, first among those at most ``NEAR`` px away, then among those no
nearer another arrow's end than to their own, then among those inside the picture as
grown so far (else the picture grows on that side); a tie goes to the far side, then
the lower row. A label that has no place within ``NEAR`` px or no nearer its own
arrow than another's names its input ("cut from a: ..."), and so do all the labels of
several cuts into one node.
"""

from __future__ import annotations

from typing import NamedTuple

from tapelab.drawing.sizes import CHAR, FONT, LABEL_GAP, LINE, PAD

HEAD = 5  # px either side of a curve kept clear: its arrow head is 9 px wide
DESCENT = 3  # px of a text row below its baseline
ROWS = (8, 8 + LINE)  # px from the arrow's box up to a label's baseline; GAP_Y holds both
NEAR = 48  # px at most between an arrow's end and its label, or the picture widens


class Curve(NamedTuple):
    """An edge from ``(x1, y1)`` to ``(x2, top - 1)``, just above the top of its consumer's
    box, with both control points halfway between ``y1`` and ``top``."""

    x1: float
    y1: float
    x2: float
    top: float

    @property
    def y2(self):
        return self.top - 1

    @property
    def mid(self):
        return (self.y1 + self.top) / 2

    def path(self):
        return (f"M{self.x1:.1f},{self.y1:.1f} C{self.x1:.1f},{self.mid:.1f} "
                f"{self.x2:.1f},{self.mid:.1f} {self.x2:.1f},{self.y2:.1f}")

    def x_at(self, y):
        """The curve's x where it is at height ``y`` (between ``y1`` and ``y2``), by bisection."""
        # x's control points are (x1, x1, x2, x2) and y's (y1, m, m, y2): both move
        # monotonically in t, but with different weights, so x is not linear in y. An
        # edge into a node drawn above its input (a target sits in the bottom layer, and
        # its consumers above it) goes up: y falls as t grows.
        down = self.y1 <= self.y2
        lo, hi = 0.0, 1.0
        for _ in range(30):  # 2**-30 of the height: far below a pixel
            t = (lo + hi) / 2
            if (self._at(t)[1] < y) == down:
                lo = t
            else:
                hi = t
        return self._at((lo + hi) / 2)[0]

    def _at(self, t):
        u = 1 - t
        x = (u**3 + 3 * u * u * t) * self.x1 + (3 * u * t * t + t**3) * self.x2
        y = u**3 * self.y1 + 3 * u * t * (u + t) * self.mid + t**3 * self.y2
        return x, y


def end_x(box, k, n):
    """Where the ``k``-th of ``n`` edges into ``box`` ends: spread along its top."""
    x, _, w, _ = box
    return x + w * (k + 1) / (n + 1)


def curve(a, b, k, n):
    """The edge from box ``a`` to box ``b``, the ``k``-th of ``b``'s ``n`` inputs."""
    ax, ay, aw, ah = a
    return Curve(ax + aw / 2, ay + ah, end_x(b, k, n), b[1])


def text(cause, source=None):
    """A cut's label: its cause, and the input it comes from when ``source`` is given
    (several cuts into one node: each label says which arrow is its own)."""
    return f"cut from {source}: {cause}" if source is not None else f"cut: {cause}"


def _band(base):
    return base - FONT, base + DESCENT


def _curve_spans(band, curves):
    """The x spans the curves take at heights ``band``, each with its head's room."""
    top, bottom = band
    spans = []
    for c in curves:
        lo, hi = max(top, min(c.y1, c.y2)), min(bottom, max(c.y1, c.y2))
        if lo <= hi:
            xs = (c.x_at(lo), c.x_at(hi))
            spans.append((min(xs) - HEAD, max(xs) + HEAD))
    return spans


def _label_spans(band, placed):
    """The x spans of the labels placed before whose row meets ``band``, with a
    character's room."""
    top, bottom = band
    return [(left - CHAR, right + CHAR) for left, right, (ptop, pbottom) in placed
            if ptop < bottom and top < pbottom]


def _slide(x, w, spans, step):
    """The span of width ``w`` nearest ``x`` on one side that meets no span of ``spans``:
    ``step`` +1 starts at ``x`` and moves right, -1 ends at ``x`` and moves left.

    Each move goes to a span's far end and only one way (rightward the left edge only
    grows, leftward the right edge only shrinks), so it ends after at most one move per
    span; the edge that moves is the one compared, so no ``x - w + w`` round-off can
    make a span meet again.
    """
    if step > 0:
        left, moved = x, True
        while moved:
            moved = False
            for a, b in spans:
                if left < b and a < left + w:
                    left, moved = b, True
        return left
    right, moved = x, True
    while moved:
        moved = False
        for a, b in spans:
            if right - w < b and a < right:
                right, moved = a, True
    return right - w


def _gap(left, right, x):
    """How far the span ``[left, right]`` is from ``x`` (0 if it holds ``x``)."""
    return max(left - x, x - right, 0.0)


def place(cuts, curves, width):
    """Each cut's label place and text, and how much the picture grows to hold them.

    Args:
      cuts: ``(key, curve, text, named)`` of each cut edge, in drawing order: its label,
        and the label that names its input, used where the first would sit more than
        ``NEAR`` px from its arrow's end or nearer another's.
      curves: every edge of the picture, cut or not.
      width: the picture's width before labels.

    Returns:
      ``({key: (x, baseline, text)}, (left, right))``: where each label's text starts,
      its baseline and its text, and the px the picture needs beyond its left and right
      edges (0 if the labels fit), so that every label keeps ``PAD`` from the edge.
    """
    places, placed, taken = {}, [], {}
    low, high = PAD, width - PAD  # the room for labels: the picture, as grown so far

    def best(c, label):
        w = len(label) * CHAR
        far = 1 if c.x1 <= c.x2 else -1  # the side away from where the curve comes
        others = [d.x2 for d in curves if d.top == c.top and d is not c]
        options = []
        for row, up in enumerate(ROWS):
            base = max(c.top - up, FONT)
            band = _band(base)
            if band not in taken:
                taken[band] = _curve_spans(band, curves)
            spans = taken[band] + _label_spans(band, placed)
            for step in (far, -far):
                left = _slide(c.x2 + step * LABEL_GAP, w, spans, step)
                distance = _gap(left, left + w, c.x2)
                # nearer another arrow's end than its own: a reader would pair it wrongly
                ambiguous = any(_gap(left, left + w, x) < distance for x in others)
                inside = low <= left and left + w <= high
                options.append((distance > NEAR, ambiguous, not inside, distance, row,
                                step != far, left, base, label))
        return min(options)

    for key, c, label, named in cuts:
        choice = best(c, label)
        if choice[0] or choice[1]:  # far from its arrow, or nearer another: say whose it is
            choice = best(c, named)
        *_, left, base, label = choice
        right = left + len(label) * CHAR
        placed.append((left, right, _band(base)))
        places[key] = (left, base, label)
        low, high = min(low, left), max(high, right)
    return places, (PAD - low, high - (width - PAD))
