"""The SVG of a drawing, laid out in pure Python: no Graphviz, nothing to install.

Layered, top to bottom, as Graphviz's ``dot`` draws a DAG: a node sits one layer
below its lowest input, the nodes of a layer are ordered by the mean position of
their neighbours (a few sweeps down and up, the barycentre heuristic), and edges
are curves from the bottom of a node to the top of its consumer. Each node is a
box of text rows: what it is, its value, its gradient, a note. A cut edge is
dashed and labelled with its cause, a node the tape did not record is dashed and
grey: both readable without colour. Text is 12 px monospace; the picture is at
most ``MAX_WIDTH`` wide at full size, so scaled to a 700 px column its text
stays above 9 px.
"""

from __future__ import annotations

import re
from collections import Counter
from xml.sax.saxutils import escape as _xml_escape

from tapelab.drawing import labels
from tapelab.drawing.numbers import shown
from tapelab.drawing.sizes import CHAR, FONT, GAP_X, GAP_Y, LINE, MAX_TITLE, MAX_WIDTH, PAD

# what XML 1.0 cannot hold (control characters), and terminal colour codes in error texts
_UNSHOWABLE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def escape(text):
    """``text`` as SVG text: colour codes and control characters dropped, ``<&>`` escaped."""
    return _xml_escape(_UNSHOWABLE.sub("", str(text)))

STYLE = {  # kind -> (fill, stroke)
    "source": ("#dbeafe", "#1d4ed8"),
    "variable": ("#ede9fe", "#6d28d9"),
    "op": ("#ffffff", "#374151"),
    "group": ("#fef9c3", "#a16207"),
    "target": ("#dcfce7", "#15803d"),
    "unrecorded": ("#f3f4f6", "#6b7280"),
    "collapsed": ("#f3f4f6", "#6b7280"),
}
CUT = "#b91c1c"


def title(n):
    """A node's first row: what it is."""
    if n.kind == "op":
        text = f"{n.name} = {n.op}({', '.join(n.args)})"
    elif n.kind == "group":
        kinds = [m.op for m in getattr(n, "members", []) if m.kind == "op"]
        text = (f"{n.name}: {', '.join(kinds)}" if 0 < len(kinds) <= 3
                else f"{n.name} ({n.ops} ops)")
    elif n.kind == "collapsed":
        text = n.name
    elif n.op == "variable":
        text = f"{n.name} (variable)"
    elif n.kind == "captured":
        text = f"{n.name} (captured constant)"
    else:
        text = f"{n.name} (source)"
    return text if len(text) <= MAX_TITLE else text[:MAX_TITLE - 1] + "…"


def rows(n):
    out = [title(n)]
    if n.kind != "collapsed":
        out.append(f"value {shown(n.value)}")
        out.append(f"grad  {shown(n.grad)}")
    note = n.note
    if not n.recorded and n.kind != "collapsed":
        note = ", ".join(x for x in (note, "not recorded") if x)
    if note:
        out.append(note)
    return out


def _layers(nodes):
    index = {n.name: n for n in nodes}
    layer = {}
    for n in nodes:  # topological order: inputs first
        layer[n.name] = 1 + max((layer[i] for i in n.inputs if i in layer), default=-1)
    for n in nodes:  # a variable or captured tensor sits just above its first consumer
        if n.kind in ("variable", "captured") and not n.inputs:
            used = [layer[m.name] for m in nodes if n.name in m.inputs]
            if used:
                layer[n.name] = max(0, min(used) - 1)
    if any(n.target for n in nodes):  # targets at the bottom
        bottom = max(layer.values())
        for n in nodes:
            if n.target:
                layer[n.name] = bottom
    by_layer = {}
    for n in nodes:
        by_layer.setdefault(layer[n.name], []).append(n.name)
    consumers = {}
    for n in nodes:
        for i in n.inputs:
            if i in index:
                consumers.setdefault(i, []).append(n.name)
    order = [by_layer[k] for k in sorted(by_layer)]
    for sweep in range(4):  # barycentre: down with inputs, up with consumers
        position = {name: i for names in order for i, name in enumerate(names)}
        rng = range(1, len(order)) if sweep % 2 == 0 else range(len(order) - 2, -1, -1)
        for k in rng:
            def key(name, down=sweep % 2 == 0, position=position):
                near = index[name].inputs if down else consumers.get(name, [])
                near = [position[x] for x in near if x in position]
                return sum(near) / len(near) if near else position[name]
            order[k] = sorted(order[k], key=key)
    return order, index


def layout(nodes):
    """``{name: (x, y, width, height)}`` and the picture's size."""
    order, index = _layers(nodes)
    boxes, y, widest = {}, PAD, 0
    sizes = {n.name: (max(len(r) for r in rows(n)) * CHAR + 2 * PAD,
                      len(rows(n)) * LINE + 2 * PAD) for n in nodes}
    for names in order:
        width = sum(sizes[name][0] for name in names) + GAP_X * (len(names) - 1)
        widest = max(widest, width)
    for names in order:
        width = sum(sizes[name][0] for name in names) + GAP_X * (len(names) - 1)
        x = PAD + (widest - width) / 2
        height = max(sizes[name][1] for name in names)
        for name in names:
            w, h = sizes[name]
            boxes[name] = (x, y, w, h)
            x += w + GAP_X
        y += height + GAP_Y
    return boxes, widest + 2 * PAD, y - GAP_Y + PAD, index


def _style(n):
    if n.kind == "collapsed":
        return STYLE["collapsed"], "4 3"
    if not n.recorded:
        return STYLE["unrecorded"], "4 3"
    if n.target:
        return STYLE["target"], None
    return STYLE.get(n.op if n.op == "variable" else n.kind, STYLE["op"]), None


def svg(recording, label="tape"):
    """The picture of ``recording`` as an SVG document (a string)."""
    nodes, cuts = recording.nodes, {(c.source, c.target): c.cause for c in recording.cuts}
    boxes, width, height, index = layout(nodes)
    edges = _edges(nodes, boxes)
    cut_edges = [(i, t, k, c) for i, t, k, c in edges if (i, t) in cuts]
    into = Counter(t for _, t, _, _ in cut_edges)  # several cuts into a node: name inputs
    places, (grow_left, grow_right) = labels.place(
        [((i, t, k), c, labels.text(cuts[i, t], i if into[t] > 1 else None),
          labels.text(cuts[i, t], i)) for i, t, k, c in cut_edges],
        [c for *_, c in edges], width)
    if grow_left or grow_right:  # room for a label beside its arrow: everything moves right
        boxes = {name: (x + grow_left, y, w, h) for name, (x, y, w, h) in boxes.items()}
        edges = _edges(nodes, boxes)
        places = {key: (x + grow_left, y, text) for key, (x, y, text) in places.items()}
        width += grow_left + grow_right
    note = recording.note
    if width > MAX_WIDTH:
        note = " ".join(x for x in (note, (
            f"This picture is {width:.0f} px wide: scaled to a page, its text is smaller "
            f"than {FONT} px. Draw fewer sources, by='scope', or a smaller part of fn.")) if x)
    note_rows = _wrap(note, int(max(width, 300) / CHAR) - 2) if note else []
    total = height + len(note_rows) * LINE + (PAD if note_rows else 0)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
            f'height="{total:.0f}" viewBox="0 0 {width:.0f} {total:.0f}" role="img" '
            'style="max-width:100%;height:auto" font-family="DejaVu Sans Mono, Menlo, '
            f'Consolas, monospace" font-size="{FONT}">')
    out = [head, f"<title>{escape(label)}</title>", "<defs>" + _marker("arrow", "#374151", 8)
           + _marker("cutarrow", CUT, 9) + "</defs>"]
    for i, t, k, c in edges:
        out.append(_edge(c, cuts.get((i, t)), index[i].recorded, places.get((i, t, k))))
    for n in nodes:
        out.append(_box(n, boxes[n.name]))
    for k, line in enumerate(note_rows):
        out.append(f'<text x="{PAD}" y="{height + (k + 1) * LINE:.0f}" '
                   f'fill="#374151">{escape(line)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _edges(nodes, boxes):
    """``(input, consumer, k, curve)`` of every edge, in drawing order: the consumer's
    ``k``-th input."""
    return [(i, n.name, k, labels.curve(boxes[i], boxes[n.name], k, len(n.inputs)))
            for n in nodes for k, i in enumerate(n.inputs) if i in boxes]


def _marker(name, colour, size):
    return (f'<marker id="{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="{size}" '
            f'markerHeight="{size}" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>')


def _wrap(text, width):
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def _edge(c, cause, recorded, place):
    path = c.path()
    if cause:  # dashed, with its label where labels.place put it
        x, y, label = place
        return (f'<g class="cut"><title>gradient cut: {escape(cause)}</title>'
                f'<path d="{path}" fill="none" stroke="{CUT}" stroke-width="2" '
                f'stroke-dasharray="7 4" marker-end="url(#cutarrow)"/>'
                f'<text x="{x:.1f}" y="{y:.1f}" fill="{CUT}" text-anchor="start" '
                f'font-weight="bold">{escape(label)}</text></g>')
    dash = "" if recorded else ' stroke-dasharray="2 3"'
    colour = "#374151" if recorded else "#9ca3af"
    return (f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.3"{dash} '
            'marker-end="url(#arrow)"/>')


def _box(n, box):
    x, y, w, h = box
    (fill, stroke), dash = _style(n)
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    heavy = 2.2 if n.target else 1.2
    rect = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="5" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{heavy}"{dash_attr}/>')
    out = [f'<g class="node"><title>{escape(n.name)}</title>', rect]
    for k, row in enumerate(rows(n)):
        weight = ' font-weight="bold"' if k == 0 else ""
        style = ' font-style="italic"' if k == 3 or (k > 0 and n.kind == "collapsed") else ""
        out.append(f'<text x="{x + PAD:.1f}" y="{y + PAD + (k + 1) * LINE - 4:.1f}" '
                   f'fill="#111827"{weight}{style}>{escape(row)}</text>')
    out.append("</g>")
    return "".join(out)
