"""Where a cut's label goes: beside its arrow, clear of every arrow and of every other label.

An edge is a cubic curve from the bottom of its input's box, ``(x1, y1)``, to the top
of its consumer's, ``(x2, y2)``, with both control points at the middle height: along
it x moves monotonically from x1 to x2 and y from y1 to y2. So a label on the far side
of x2 from x1 never crosses its own curve.

A cut's label ("cut: stop_gradient") is one text row just above the end of its arrow,
or one row higher: both rows lie in the gap between two layers, where no box is. On
each row and each side of the arrow's end, the label slides away from the end until it
is clear of every curve at its height and of every label placed before it. The place
nearest the end wins: first among those at most ``NEAR`` px away and inside the picture,
then among those near but outside it (the picture grows on that side), then any (a tie
goes to the far side, then the lower row).
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
        """The curve's x where it is at height ``y`` (``y1 <= y <= y2``), by bisection."""
        # x's control points are (x1, x1, x2, x2) and y's (y1, m, m, y2): both rise
        # monotonically in t, but with different weights, so x is not linear in y.
        lo, hi = 0.0, 1.0
        for _ in range(40):
            t = (lo + hi) / 2
            if self._at(t)[1] < y:
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


def text(cause):
    return f"cut: {cause}"


def width_of(cause):
    return len(text(cause)) * CHAR


def _band(base):
    return base - FONT, base + DESCENT


def _taken(band, curves, placed):
    """The x spans taken at heights ``band``: each curve there (with its head's room),
    and each label placed before whose row meets the band (with a character's room)."""
    top, bottom = band
    spans = []
    for c in curves:
        lo, hi = max(top, c.y1), min(bottom, c.y2)
        if lo <= hi:
            xs = (c.x_at(lo), c.x_at(hi))
            spans.append((min(xs) - HEAD, max(xs) + HEAD))
    for left, right, (ptop, pbottom) in placed:
        if ptop < bottom and top < pbottom:
            spans.append((left - CHAR, right + CHAR))
    return spans


def _slide(x, w, spans, step):
    """The span of width ``w`` nearest ``x`` on one side that meets no span of ``spans``:
    ``step`` +1 starts at ``x`` and moves right, -1 ends at ``x`` and moves left."""
    left = x if step > 0 else x - w
    moved = True
    while moved:
        moved = False
        for a, b in spans:
            if left < b and a < left + w:
                left = b if step > 0 else a - w
                moved = True
    return left


def place(cuts, curves, width):
    """Each cut's label place, and how much the picture grows to hold them.

    Args:
      cuts: ``(key, curve, cause)`` of each cut edge, in drawing order.
      curves: every edge of the picture, cut or not.
      width: the picture's width before labels.

    Returns:
      ``({key: (x, baseline)}, (left, right))``: where each label's text starts and
      its baseline, and the px the picture needs beyond its left and right edges
      (0 if the labels fit), so that every label keeps ``PAD`` from the edge.
    """
    places, placed = {}, []
    for key, c, cause in cuts:
        w = width_of(cause)
        far = 1 if c.x1 <= c.x2 else -1  # the side away from where the curve comes
        options = []
        for row, up in enumerate(ROWS):
            base = max(c.top - up, FONT)
            spans = _taken(_band(base), curves, placed)
            for step in (far, -far):
                left = _slide(c.x2 + step * LABEL_GAP, w, spans, step)
                distance = left - c.x2 if step > 0 else c.x2 - (left + w)
                inside = PAD <= left and left + w <= width - PAD
                options.append((distance > NEAR, not inside, distance, row, step != far,
                                left, base))
        *_, left, base = min(options)
        placed.append((left, left + w, _band(base)))
        places[key] = (left, base)
    lefts = [left for left, _, _ in placed]
    rights = [right for _, right, _ in placed]
    return places, (max([0, *(PAD - x for x in lefts)]),
                    max([0, *(x + PAD - width for x in rights)]))
