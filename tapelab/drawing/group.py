"""Fewer, larger nodes: one per layer (name scope), and a long graph's start collapsed.

A Keras layer runs its ops in a name scope (``sequential/dense/MatMul``), and so
do many TF functions (``logistic_loss/...``). :func:`by_scope` draws each such
scope as one node: the scope a graph walks into is the first one that holds ops
of its own (a model's scope holds only its layers' scopes, so a model becomes one
node per layer). The node's value and gradient are those of the scope's output,
the variables only its ops read (a layer's kernel and bias) go inside it, and a
cut inside it stays visible on it. The ops of a gradient tape run inside ``fn``
(``gradient_tape/...``, a second-order graph) are never grouped: they are the
picture. :func:`collapse` then keeps the last ``max_nodes`` nodes (those nearest
the target) and draws the earlier ones as one node, with a note: a large graph
is never drawn as a hairball.
"""

from __future__ import annotations

import re

from tapelab.drawing.record import Cut, Node, Recording

NEVER_GROUPED = ("gradient_tape", "gradients")


def _scopes(node):
    return node.scope.split("/") if node.scope else []


def _names(part):
    return {part, re.sub(r"_\d+$", "", part)}


def _group_of(node, holding, expand, layers=frozenset()):
    """The scope ``node`` is drawn in (a tuple of components), or None: drawn alone.

    A Keras layer's scope (one its weights live in: ``bn`` for a BatchNormalization's
    ``moments`` and ``batchnorm``) is the group; else the first scope with ops."""
    parts = _scopes(node)
    if not parts or parts[0] in NEVER_GROUPED:
        return None
    for i in range(1, len(parts) + 1):
        prefix = tuple(parts[:i])
        if _names(prefix[-1]) & layers or prefix in holding:
            names = {prefix[-1], re.sub(r"_\d+$", "", prefix[-1]), "/".join(prefix)}
            return None if names & expand else prefix
    return None


def by_scope(recording, expand=()):
    """``recording`` with the ops of each scope drawn as one node (``expand`` names opened)."""
    ops = [n for n in recording.nodes if n.kind == "op"]
    holding = {tuple(_scopes(n)) for n in ops if n.scope}  # scopes with ops of their own
    known = {name for prefix in holding for i in range(1, len(prefix) + 1)
             for name in (prefix[i - 1], re.sub(r"_\d+$", "", prefix[i - 1]),
                          "/".join(prefix[:i]))}
    unknown = [e for e in expand if e not in known]
    if unknown and not holding:
        raise ValueError(f"`expand` names scopes, and this drawing has none (fn runs no "
                         f"Keras layer or named scope). Received: expand={tuple(expand)!r}.")
    if unknown:
        shown = sorted({re.sub(r"_\d+$", "", p[-1]) for p in holding
                        if p[0] not in NEVER_GROUPED})
        raise ValueError(f"`expand` must name scopes of this drawing: {shown}. Received: "
                         f"expand={tuple(expand)!r}, and {unknown} name none.")
    layers = {v.scope.rsplit("/", 1)[-1] for v in recording.nodes
              if v.kind == "variable" and v.scope}
    group_of = {n.name: _group_of(n, holding, set(expand), layers) for n in ops}
    groups = {}
    for n in ops:
        if group_of[n.name] is not None:
            groups.setdefault(group_of[n.name], []).append(n)

    if not groups:
        return recording
    member = {n.name: "/".join(k) for k, members in groups.items() for n in members}
    # a variable read only inside one group belongs to it (a layer's kernel and bias)
    consumers = {}
    for n in recording.nodes:
        for i in n.inputs:
            consumers.setdefault(i, set()).add(member.get(n.name, n.name))
    inside = {}
    for n in recording.nodes:
        if n.kind == "variable" and len(consumers.get(n.name, ())) == 1:
            (only,) = consumers[n.name]
            if only in {"/".join(k) for k in groups}:
                member[n.name] = only
                inside.setdefault(only, []).append(n)
    users = {}  # node name -> the names of the nodes it feeds
    for n in recording.nodes:
        for i in n.inputs:
            users.setdefault(i, set()).add(n.name)
    nodes, placed = [], set()
    for n in recording.nodes:
        g = member.get(n.name)
        if g is None:
            nodes.append(_renamed_inputs(n, member))
        elif g not in placed:
            placed.add(g)
            members = [m for m in recording.nodes if member.get(m.name) == g]
            nodes.append(_group_node(g, members, member, inside.get(g, []), users))
    taken = {n.name for n in nodes if n.kind != "group"}
    renamed = {}
    for n in nodes:
        if n.kind == "group":
            renamed[n.name] = _display(n.name, inside.get(n.name, []), taken)
            taken.add(renamed[n.name])
    for n in nodes:
        n.name = renamed.get(n.name, n.name)
        n.inputs = [renamed.get(i, i) for i in n.inputs]
        n.args = [renamed.get(a, a) for a in n.args]
    member = {k: renamed.get(v, v) for k, v in member.items()}
    cuts = []
    for c in recording.cuts:
        a, b = member.get(c.source, c.source), member.get(c.target, c.target)
        if a == b:  # inside one group: the group says so
            group = next(n for n in nodes if n.name == a)
            group.note = ", ".join(x for x in (group.note, f"cut inside: {c.cause}") if x)
        cuts.append(Cut(a, b, c.cause))
    cuts = [c for c in cuts if c.source != c.target]
    return Recording(_in_order(nodes), _dedupe(cuts), recording.note)


def _renamed_inputs(n, member):
    inputs = []
    for i in n.inputs:
        name = member.get(i, i)
        if name not in inputs:
            inputs.append(name)
    n.inputs = inputs
    n.args = [member.get(a, a) for a in n.args]
    return n


def _group_node(name, members, member, variables, users):
    ops = [m for m in members if m.kind == "op"]
    names = {m.name for m in members}
    inputs = []
    for m in members:
        for i in m.inputs:
            outside = member.get(i, i)
            if i not in names and outside not in inputs:
                inputs.append(outside)
    # the group's output: its last op whose value leaves the group, or the target
    leaving = [m for m in ops if m.target or users.get(m.name, set()) - names]
    last = leaving[-1] if leaving else ops[-1]
    node = Node(name, "group", "scope", inputs=inputs, args=[], value=last.value,
                grad=last.grad, recorded=last.recorded, target=any(m.target for m in ops),
                scope=name, ops=len(ops))
    weights = [v for v in variables if v.value is None or v.value.dtype.kind in "fc"]
    if weights:  # (a random seed's state is a variable too, but no weight)
        node.note = f"weights: {', '.join(v.name.rsplit('/', 1)[-1] for v in weights)}"
    node.members = members
    return node


def _display(scope, variables, taken):
    """A group's name: its layer's (the scope its weights live in: ``hidden``), else its
    scope's last part without the ``_1`` a trace adds to a repeated scope, where unique."""
    if variables and "/" in variables[0].name:
        name = variables[0].name.rsplit("/", 1)[0].rsplit("/", 1)[-1]
    else:
        name = scope.rsplit("/", 1)[-1]
        plain = re.sub(r"_\d+$", "", name)
        name = plain if plain not in taken else name
    return name if name not in taken else scope


def _in_order(nodes):
    """Nodes in an order where every input comes before its consumer."""
    by_name = {n.name: n for n in nodes}
    done, out = set(), []

    def visit(n, stack=()):
        if n.name in done or n.name in stack:
            return
        for i in n.inputs:
            if i in by_name:
                visit(by_name[i], (*stack, n.name))
        done.add(n.name)
        out.append(n)

    for n in nodes:
        visit(n)
    return out


def _dedupe(cuts):
    seen, out = set(), []
    for c in cuts:
        key = (c.source, c.target, c.cause)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def collapse(recording, max_nodes):
    """At most ``max_nodes`` nodes: the earliest ones drawn as one, with a note."""
    nodes = recording.nodes
    if len(nodes) <= max_nodes:
        return recording
    sources = [n for n in nodes if n.kind == "source"][:max_nodes - 2]
    rest = [n for n in nodes if n not in sources]
    # the sources stay (what the gradient is of), then the nodes nearest the target
    keep = sources + rest[-(max_nodes - 1 - len(sources)):]
    kept = {n.name for n in keep}
    gone = [n for n in nodes if n.name not in kept]
    name = f"{len(gone)} earlier nodes"
    folded = Node(name, "collapsed", "collapsed", recorded=any(n.recorded for n in gone),
                  note="drawn as one", ops=sum(n.ops for n in gone))
    folded.inputs = list(dict.fromkeys(i for n in gone for i in n.inputs if i in kept))
    for n in keep:
        n.inputs = list(dict.fromkeys(i if i in kept else name for i in n.inputs))
    cuts = [Cut(c.source if c.source in kept else name, c.target if c.target in kept else name,
                c.cause) for c in recording.cuts]
    cuts = [c for c in _dedupe(cuts) if c.source != c.target]
    note = (f"{len(nodes)} nodes: the first {len(gone)} after the sources are drawn as one. "
            "Pass max_nodes= "
            "to draw more, or draw a smaller part (a layer selection, a shorter fn).")
    keep = keep[:len(sources)] + [folded] + keep[len(sources):]
    return Recording(keep, cuts, " ".join(x for x in (recording.note, note) if x))
