"""What a tape records when it runs ``fn``: one node per op on a path from an input to the
target, with its value, its gradient, and whether the tape recorded it.

``fn`` is traced once (``tf.compat.v1.wrap_function``, without AutoGraph: the
graph is ``fn``'s Python as a tape runs it), and the part between the inputs and
the target is kept: sources, variables and captured tensors at the roots, ops
in between (``Identity`` passed through; constant sub-expressions folded into
their consumer as text), the target at the end. One run of a pruned copy of
that graph gives every node's value, and ``tf.gradients`` in it every node's
gradient: what ``tape.gradient(target, that_intermediate)`` gives.

The tape's own rules decide what is *recorded*: a source is watched (unless
``watch`` leaves it out), a variable when the tape watches it (trainable, read
inside), a captured tensor never; an op is recorded when one of its inputs is
and it is differentiable. A node the tape did not record has no gradient
(None), as the tape gives. Where a recorded value enters an op that ends the
gradient, the edge is *cut*, with ``explain_none``'s cause code:
``stop_gradient``, ``integer_path`` (a cast to an integer, an argmax),
``variable_assign``, ``no_gradient_registered``.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from tapelab._keras_internals import name_scopes_kept
from tapelab._sources import (
    as_source_of_any_dtype,
    is_float,
    is_keras_variable,
    is_variable,
    tensor_arguments,
)
from tapelab.drawing.numbers import shown

PASS_THROUGH = ("Identity",)  # IdentityN carries tf.custom_gradient's gradient: an op
STOPS = ("StopGradient", "PreventGradient")
ASSIGNS = ("AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp")


@dataclass
class Node:
    """One node of a drawing: a source, a variable, a captured tensor, an op, or a group."""

    name: str  # unique: a source's parameter name, an op's name in the trace, ...
    kind: str  # "source", "variable", "captured", "op", "group", "collapsed"
    op: str  # the op type ("Mul"), or "source", "variable", "constant", "layer"...
    inputs: list = field(default_factory=list)  # names of the nodes feeding it
    args: list = field(default_factory=list)  # its arguments as text: inputs and constants
    value: np.ndarray | None = None
    grad: np.ndarray | None = None  # tape.gradient(target, this value); None: no gradient
    recorded: bool = True  # whether the tape recorded it (watched, or computed from it)
    target: bool = False
    note: str = ""  # "not watched", "trainable=False", "fn never reads it", ...
    scope: str = ""  # the op's name scope ("sequential/dense"), for grouping
    ops: int = 1  # how many ops it stands for (a group: several)


@dataclass
class Cut:
    """An edge the gradient does not cross, and why (an ``explain_none`` cause code)."""

    source: str
    target: str
    cause: str


@dataclass
class Recording:
    """Nodes in topological order (inputs first), the cuts, and a note for the reader."""

    nodes: list
    cuts: list
    note: str = ""


@dataclass
class _Folded:
    """An argument computed from constants only: shown once the run gives its value."""

    index: int


class _TraceFailed(Exception):
    def __init__(self, cause, detail):
        super().__init__(detail)
        self.cause, self.detail = cause, detail


def parameter_names(fn, n):
    """Names for ``fn``'s first ``n`` positional parameters (``x``, ``w``), else ``x0, x1...``."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    plain = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(plain) >= n:
        return plain[:n]
    return [f"x{i}" for i in range(n)] if n > 1 else ["x"] * n


def _handle(v):
    return (v.value if is_keras_variable(v) else v).handle


def variable_name(v):
    """A variable's name as a learner knows it: a Keras path, else its TF name."""
    return getattr(v, "path", None) or v.name.split(":")[0]


def _variables_reachable(fn):
    """{handle id: variable} for the variables ``fn`` can reach: in its closure, its
    default arguments and the globals it names, directly or as ``.variables`` of a
    Keras layer or ``tf.Module`` there (so a BatchNormalization's moving statistics,
    which a tape does not watch, are drawn by name)."""
    seen, found = set(), {}

    def add(obj):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if is_variable(obj):
            found[id(_handle(obj))] = obj
        elif isinstance(obj, (tf.Module,)) or hasattr(obj, "_flatten_layers"):
            for v in getattr(obj, "variables", ()):
                add(v)

    code = getattr(fn, "__code__", None)
    cells = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ())
             if _filled(c)]
    named = [getattr(fn, "__globals__", {}).get(name) for name in
             (code.co_names if code is not None else ())]
    for obj in [*cells, *named, *(getattr(fn, "__defaults__", None) or ())]:
        if isinstance(obj, (list, tuple)):
            for item in obj:
                add(item)
        elif obj is not None:
            add(obj)
    return found


def _filled(cell):
    try:
        cell.cell_contents  # noqa: B018 - a cell whose variable is not assigned yet raises
    except ValueError:
        return False
    return True


def _watched_by_a_tape(fn, sources, watch):
    """Run ``fn`` eagerly under a tape (the sources in ``watch`` watched): the variables
    it watched, by handle id, the target, and each source's gradient (None: none)."""
    with tf.GradientTape() as t:
        for i in watch:
            if not is_variable(sources[i]) and is_float(sources[i]):
                t.watch(sources[i])
        y = fn(*sources)
    _check_target(y)
    watched = {id(_handle(v)): v for v in t.watched_variables()}
    floats = [y for y in tf.nest.flatten(y) if is_float(y)]
    try:
        grads = t.gradient(floats, list(sources)) if floats else [None] * len(sources)
    except LookupError:  # an op without a registered gradient: the trace names it
        grads = [None] * len(sources)
    return watched, y, grads


def _check_target(y):
    flat = tf.nest.flatten(y, expand_composites=True)
    bad = [t for t in flat if not isinstance(t, tf.Tensor) and not is_variable(t)]
    if bad or not flat:
        what = bad[0] if bad else y
        raise TypeError(
            "`fn` must return a tensor, or a dict, list or tuple of tensors, to draw its "
            f"tape. Received: {type(what).__name__} {what!r}. Return the target tensor "
            "itself (float(y) and y.numpy() leave the tape).")


class _KeptState:
    """The values of the variables ``fn`` may change, put back when drawing is done."""

    def __init__(self, variables):
        self.saved = [(v, tf.identity(tf.convert_to_tensor(v))) for v in variables
                      if getattr(v, "dtype", None) != tf.resource]

    def restore(self):
        changed = []
        for v, old in self.saved:
            now = tf.convert_to_tensor(v)
            if now.shape != old.shape or not bool(tf.reduce_all(
                    tf.equal(now, old) | (tf.math.is_nan(now) & tf.math.is_nan(old))
                    if now.dtype.is_floating else tf.equal(now, old))):
                changed.append(v)
                v.assign(old)
        return changed


def _trace(fn, sources):
    traced, tensors = tensor_arguments(fn, sources)
    specs = [tf.TensorSpec.from_tensor(sources[i]) for i in tensors]

    try:
        wrapped = tf.compat.v1.wrap_function(traced, specs)
    except Exception as exc:  # noqa: BLE001 - a failed trace is drawn and said, never a crash
        text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())
        raise _TraceFailed("unknown", f"{type(exc).__name__}: {text[:200]}") from None
    feeds = [t for t in wrapped.graph.inputs[:len(tensors)]]
    return wrapped, dict(zip(tensors, feeds))


def _through(t):
    """``t`` with pass-through ops (``Identity``) skipped, backwards."""
    while t.op.type in PASS_THROUGH and t.op.inputs:
        t = t.op.inputs[0]
    return t


def _targets(wrapped):
    flat = tf.nest.flatten(wrapped.structured_outputs, expand_composites=True)
    bad = [t for t in flat if not isinstance(t, tf.Tensor)]
    if bad or not flat:
        what = bad[0] if bad else wrapped.structured_outputs
        raise TypeError(
            "`fn` must return a tensor, or a dict, list or tuple of tensors, to draw its "
            f"tape. Received: {type(what).__name__}. Return the target tensor itself "
            "(float(y) and y.numpy() leave the tape).")
    return [_through(t) for t in flat]


def record(fn, sources, watch=None):
    """The :class:`Recording` of ``fn(*sources)``; Keras's global state as it was, after."""
    with name_scopes_kept():
        return _record(fn, sources, watch)


def _record(fn, sources, watch=None):
    """The :class:`Recording` of ``fn(*sources)``, the sources at ``watch`` watched.

    ``fn`` runs once eagerly and is traced once; a variable it changes (an
    ``assign``, a BatchNormalization's moving statistics) is put back as it was,
    so drawing changes nothing.
    """
    sources = tuple(as_source_of_any_dtype(s, i) for i, s in enumerate(sources))
    ragged = [i for i, s in enumerate(sources) if isinstance(s, tf.RaggedTensor)]
    if ragged:
        raise TypeError(f"draw takes dense sources: source {ragged[0]} is a tf.RaggedTensor. "
                        "Received: a RaggedTensor. Draw fn of rt.to_tensor(), or of "
                        "rt.flat_values with the row structure rebuilt inside fn.")
    watch = set(range(len(sources)) if watch is None else watch)
    names = parameter_names(fn, len(sources))
    known = _variables_reachable(fn)
    state = _KeptState([*known.values(), *(s for s in sources if is_variable(s))])
    try:
        watched, eager_target, eager_grads = _watched_by_a_tape(fn, sources, watch)
    finally:
        changed = state.restore()
    state = _KeptState({**known, **watched}.values())
    try:
        try:
            wrapped, feeds = _trace(fn, sources)
        except _TraceFailed as failed:
            return _untraceable(fn, sources, names, watch, eager_target, eager_grads, failed)
        drawn = _Walk(wrapped, feeds, sources, names, watch, watched,
                      {**known, **watched}).recording()
    finally:
        state.restore()
    if changed:
        drawn.note = " ".join(x for x in (drawn.note, (
            f"fn changes {', '.join(variable_name(v) for v in changed)} while it runs; the "
            "drawing reads each variable as it was before fn ran (and leaves it so)")) if x)
    return drawn


def _untraceable(fn, sources, names, watch, eager_target, eager_grads, failed):
    """What can be drawn when ``fn`` does not trace: its sources with the gradients an
    eager tape gives them, its target, and, for a source with none, explain_none's cause."""
    from tapelab.diagnose.explain import explain_none

    nodes = [Node(names[i], "source", "variable" if is_variable(s) else "source",
                  value=np.asarray(tf.convert_to_tensor(s)), recorded=i in watch,
                  grad=None if g is None else np.asarray(tf.convert_to_tensor(g)),
                  note="" if i in watch else "not watched")
             for i, (s, g) in enumerate(zip(sources, eager_grads))]
    value = np.asarray(tf.nest.flatten(eager_target)[0])
    target = Node("target", "op", "?", inputs=[n.name for n in nodes], args=[], value=value,
                  grad=np.ones_like(value) if is_float(value) else None, target=True,
                  note="fn could not be traced")
    cuts = []
    missing = [i for i, g in enumerate(eager_grads) if g is None]
    if missing:
        causes = {f.source: f.cause for f in explain_none(fn, *sources)}
        for i in missing:
            cause = "not_watched" if i not in watch else causes.get(i, "unknown")
            cuts.append(Cut(names[i], "target", cause))
    note = (f"fn could not be traced ({failed.detail}), so only its sources and target are "
            "drawn, with the gradients an eager tape gives them.")
    return Recording([*nodes, target], cuts, note)


class _Walk:
    """One walk of a trace, from its inputs to its target (see the module's docstring)."""

    def __init__(self, wrapped, feeds, sources, names, watch, watched, known):
        self.wrapped, self.graph = wrapped, wrapped.graph
        self.ops = self.graph.get_operations()
        self.targets = _targets(wrapped)
        self.feeds, self.sources = feeds, sources
        self.nodes = {}  # name -> Node
        self.roots = {}  # tensor ref -> node name (sources, variable reads, captures)
        self.handles = {}  # resource placeholder ref -> variable node name
        self.eager = {}  # node name -> its value, known without running the graph
        self.reads = {}  # variable node name -> [ReadVariableOp outputs]
        self.folded = []  # (index, tensor): constant inputs known only by running them
        captured = {id(e): (e, i) for e, i in self.graph.captures}
        self._sources(names, watch, watched, captured)
        self._captures(watched, captured, known)

    def _sources(self, names, watch, watched, captured):
        for i, s in enumerate(self.sources):
            name = names[i]
            if is_variable(s):
                recorded = id(_handle(s)) in watched
                note = "" if recorded else ("trainable=False" if not s.trainable
                                            else "not watched")
                self.nodes[name] = Node(name, "source", "variable", recorded=recorded, note=note)
                inside = captured.get(id(_handle(s)))
                if inside is None:
                    self.nodes[name].note = "fn never reads it"
                    self.eager[name] = np.asarray(tf.convert_to_tensor(s))
                else:
                    self.handles[inside[1].ref()] = name
            else:
                floating = is_float(s)
                dtype = tf.as_dtype(s.dtype)
                note = ("" if i in watch else "not watched") if floating else (
                    f"{dtype.name}: " + ("integer_dtype" if dtype.is_integer or dtype == tf.bool
                                         else "non_float_dtype") + ", a tape watches floats")
                self.nodes[name] = Node(name, "source", "source",
                                        recorded=i in watch and floating, note=note)
                self.roots[self.feeds[i].ref()] = name
                self.eager[name] = np.asarray(s)

    def _captures(self, watched, captured, known):
        count = {"variable": 0, "captured": 0}
        for ident, (external, internal) in captured.items():
            if internal.ref() in self.handles or internal.ref() in self.roots:
                continue
            if internal.dtype == tf.resource:
                variable = watched.get(ident, known.get(ident))
                name = (variable_name(variable) if variable is not None
                        else f"variable_{count['variable']}")
                count["variable"] += 1
                name = self._unique(name)
                recorded = ident in watched
                note = "" if recorded else (
                    "trainable=False" if variable is not None and not variable.trainable
                    else "not watched")
                path = variable_name(variable) if variable is not None else ""
                self.nodes[name] = Node(name, "variable", "variable", recorded=recorded,
                                        note=note, scope=path.rsplit("/", 1)[0]
                                        if "/" in path else "")
                self.handles[internal.ref()] = name
            elif is_float(internal) or internal.dtype.is_integer:
                name = self._unique(f"captured_{count['captured']}")
                count["captured"] += 1
                self.nodes[name] = Node(name, "captured", "constant", recorded=False,
                                        note="not watched")
                self.roots[internal.ref()] = name
                self.eager[name] = np.asarray(external)

    def _unique(self, name):
        base, k = name, 1
        while name in self.nodes:
            k += 1
            name = f"{base}_{k}"
        return name

    def recording(self):
        for op in self.ops:  # a variable's reads are its node
            if op.type == "ReadVariableOp" and op.inputs[0].ref() in self.handles:
                name = self.handles[op.inputs[0].ref()]
                self.roots[op.outputs[0].ref()] = name
                self.reads.setdefault(name, []).append(op.outputs[0])
        assigned = {}  # variable node -> [value tensors assigned to it]
        for op in self.ops:
            if (op.type in ASSIGNS and op.inputs[0].ref() in self.handles
                    and is_float(op.inputs[1])):  # a seed's int state is no gradient path
                assigned.setdefault(self.handles[op.inputs[0].ref()], []).append(
                    _through(op.inputs[1]))
        kept, used_roots = self._between(assigned)
        op_nodes = [self._op_node(op, kept) for op in self.ops if op.name in kept]
        roots = [n for n in self.nodes.values() if n.name in used_roots or n.kind == "source"]
        cuts = []
        for var, values in assigned.items():
            for v in values:
                src = self._node_of(v, kept)
                if src is not None and var in used_roots:
                    cuts.append(Cut(src, var, "variable_assign"))
                    self.nodes[var].inputs.append(src)
        nodes = roots + op_nodes
        by_name = {n.name: n for n in nodes}
        for t in self.targets:
            name = self._node_of(t, kept)
            if name in by_name:
                by_name[name].target = True
            else:  # a target computed from no source: drawn alone, not recorded
                node = Node(self._unique(t.op.name), "op", t.op.type, recorded=False,
                            target=True, note="not connected to any source")
                node.tensor = t
                op_nodes.append(node)
                nodes.append(node)
                by_name[node.name] = node
        cuts += self._tape_rules(op_nodes, by_name, kept)
        cuts += self._values_and_gradients(nodes, by_name, kept)
        cuts += _unexplained_cuts(nodes, by_name, cuts)
        feeding = {i for n in nodes for i in n.inputs}
        for n in nodes:
            if n.kind in ("source", "variable") and n.name not in feeding and not n.note \
                    and not n.target:
                n.note = "not connected to the target"  # explain_none: not_connected
            if not n.recorded:
                n.grad = None  # the tape has no gradient for what it did not record
            if n.target and n.grad is None and n.value is not None and is_float(n.value):
                n.grad = np.ones_like(n.value)  # tape.gradient(y, y) is ones, recorded or not
            if n.kind == "op" and n.scope.split("/")[0] in ("gradient_tape", "gradients"):
                n.note = ", ".join(x for x in (n.note, "backward op") if x)
        return shortened(Recording(nodes, cuts))

    def _node_of(self, t, kept):
        t = _through(t)
        if t.ref() in self.roots:
            return self.roots[t.ref()]
        return t.op.name if t.op.name in kept else None

    def _between(self, assigned):
        """The ops on a path from a root to a target, and the roots on such a path."""
        reached, reach_vars = set(), set(self.roots.values())
        changed = True
        while changed:
            changed = False
            for op in self.ops:
                if (op.name in reached or op.type in PASS_THROUGH + ASSIGNS
                        or op.type == "ReadVariableOp"):
                    continue
                if any(self.roots.get(_through(t).ref()) in reach_vars
                       or _through(t).op.name in reached for t in op.inputs):
                    reached.add(op.name)
                    changed = True
            for var, values in assigned.items():
                if var not in reach_vars and any(
                        v.op.name in reached or self.roots.get(v.ref()) in reach_vars
                        for v in values):
                    reach_vars.add(var)
                    changed = True
        kept, used, seen, todo = set(), set(), set(), list(self.targets)
        while todo:
            t = _through(todo.pop())
            if t.ref() in seen:
                continue
            seen.add(t.ref())
            if t.ref() in self.roots:
                used.add(self.roots[t.ref()])
                todo.extend(assigned.get(self.roots[t.ref()], []))
            elif t.op.name in reached:
                kept.add(t.op.name)
                todo.extend(t.op.inputs)
        return kept, used

    def _op_node(self, op, kept):
        inputs, args = [], []
        for t in op.inputs:
            src = self._node_of(t, kept)
            if src is not None:
                if src not in inputs:
                    inputs.append(src)
                args.append(src)
            elif t.dtype != tf.resource:  # a constant, or ops of constants: its value
                value = tf.get_static_value(_through(t))
                if value is not None:
                    args.append(shown(np.asarray(value)))
                else:  # computed in the run, then shown (see _values_and_gradients)
                    self.folded.append((len(self.folded), _through(t)))
                    args.append(_Folded(len(self.folded) - 1))
        out = next((o for o in op.outputs
                    if any(c.name in kept for c in o.consumers())
                    or any(o is t for t in self.targets)), op.outputs[0])
        node = Node(op.name, "op", op.type, inputs=inputs, args=args,
                    scope=op.name.rsplit("/", 1)[0] if "/" in op.name else "")
        if op.type == "IdentityN" and "_gradient_op_type" in op.node_def.attr:
            node.note = "custom gradient"
        node.tensor = out
        return node

    def _tape_rules(self, op_nodes, by_name, kept):
        cuts = []
        for n in op_nodes:
            ins = [by_name[i] for i in n.inputs if i in by_name]
            if n.op in STOPS:
                n.recorded = False
                cuts += [Cut(i.name, n.name, "stop_gradient") for i in ins if i.recorded]
            elif not is_float(n.tensor):
                n.recorded = False
                if n.tensor.dtype.is_integer:  # a cast to an integer, an argmax
                    cuts += [Cut(i.name, n.name, "integer_path") for i in ins if i.recorded]
                else:  # a comparison (bool) or a string: no gradient path was meant here
                    why = f"{n.tensor.dtype.name}: no gradient"
                    n.note = f"{n.note}, {why}" if n.note else why
            else:
                n.recorded = any(i.recorded for i in ins)
        return cuts

    def _tensors(self, n):
        """The graph tensors of node ``n``'s value (a variable: each of its reads; a source:
        its placeholder; a captured tensor: none, its value is known)."""
        if n.kind == "op":
            return [n.tensor]
        if n.name in self.reads:
            return self.reads[n.name]
        if n.kind == "source" and n.name in self.eager:
            return [ref.deref() for ref, name in self.roots.items() if name == n.name]
        return []

    def _values_and_gradients(self, nodes, by_name, kept):
        """Run the pruned trace once: every node's value and its gradient."""
        cuts = []
        per_node = {n.name: self._tensors(n) for n in nodes}
        wanted = [(n.name, t) for n in nodes for t in per_node[n.name]
                  if is_float(t) and t.dtype != tf.resource]
        stops, grads = [], []
        with self.graph.as_default():
            while True:  # an op with no registered gradient: a constant for tf.gradients
                try:
                    grads = tf.gradients(self.targets, [t for _, t in wanted],
                                         stop_gradients=stops or None) if wanted else []
                    break
                except LookupError as exc:
                    found = re.search(r"operation\s*'([^']+)'", str(exc))
                    if not found or found.group(1) not in kept:
                        raise
                    bad = by_name[found.group(1)]
                    stops.extend(self.graph.get_operation_by_name(bad.name).outputs)
                    bad.recorded = False
                    cuts += [Cut(i, bad.name, "no_gradient_registered") for i in bad.inputs
                             if by_name[i].recorded]
        values = {n.name: per_node[n.name][0] for n in nodes if per_node[n.name]
                  and n.name not in self.eager}
        folded = [t for _, t in self.folded]
        fetches = list(values.values()) + folded + [g for g in grads if g is not None]
        feeds = list(self.feeds.values())
        run = self.wrapped.prune(feeds=feeds, fetches=fetches) if fetches else None
        out = run(*[self.sources[i] for i in self.feeds]) if run else []
        out = [np.asarray(o) for o in out]
        got = dict(zip(values, out[:len(values)]))
        constants = out[len(values):len(values) + len(folded)]
        for n in nodes:
            n.args = [shown(constants[a.index]) if isinstance(a, _Folded) else a for a in n.args]
        summed = {}
        rest = iter(out[len(values) + len(folded):])
        for (name, _), g in zip(wanted, grads):
            if g is not None:
                value = next(rest)
                summed[name] = value if name not in summed else summed[name] + value
        for n in nodes:
            n.value = got.get(n.name, self.eager.get(n.name))
            n.grad = summed.get(n.name)
        return cuts


def _unexplained_cuts(nodes, by_name, cuts):
    """Edges the gradient does not cross for no reason the tape's rules name: a recorded
    input without a gradient feeding a node with one (``tf.round``, whose registered
    gradient is None; a custom gradient that returns None). explain_none cannot prove
    a cause for them either: ``unknown``."""
    known = {(c.source, c.target) for c in cuts}
    found = []
    for n in nodes:
        if n.grad is None or not n.recorded:
            continue
        for i in n.inputs:
            src = by_name.get(i)
            if (src is not None and src.recorded and src.grad is None
                    and (i, n.name) not in known and src.value is not None
                    and is_float(src.value)):
                found.append(Cut(i, n.name, "unknown"))
    return found


def shortened(recording):
    """Each node named by the shortest end of its name that no other node's ends with
    (``hidden_1/MatMul``, not ``sequential_1/hidden_1/MatMul``), inputs and cuts too."""
    names = [n.name for n in recording.nodes]
    short = {}
    for name in names:
        parts = name.split("/")
        for k in range(1, len(parts) + 1):
            candidate = "/".join(parts[-k:])
            clash = [m for m in names if m != name and (m == candidate
                                                        or m.endswith("/" + candidate))]
            if not clash:
                short[name] = candidate
                break
        else:
            short[name] = name
    for n in recording.nodes:
        n.name = short[n.name]
        n.inputs = [short.get(i, i) for i in n.inputs]
        n.args = [short.get(a, a) if isinstance(a, str) else a for a in n.args]
    cuts = [Cut(short.get(c.source, c.source), short.get(c.target, c.target), c.cause)
            for c in recording.cuts]
    return Recording(recording.nodes, cuts, recording.note)
