"""Why a source gets no gradient, read off the traced graph of ``fn``.

``fn`` is traced once with ``tf.function`` (tensor sources as placeholders,
variables captured as ``fn`` captures them, by argument or closure), then the
graph is walked back from the target to each source, with some kinds of edge
allowed or not. What the walks find is proof of a cause:

* no path at all: the target does not depend on the source (``not_connected``);
* a path only through a variable assignment: ``variable_assign``;
* only through ``StopGradient``: ``stop_gradient``;
* only through integer tensors (argmax, a cast to int): ``integer_path``;
* a path of float tensors: the cause is ``unknown`` (``tf.round`` is one).

A ragged result is walked back from its component tensors (values and row splits).
"""

import tensorflow as tf

from tapelab._sources import is_float, is_keras_variable, is_variable, tensor_arguments


def _handle(x):
    """The resource handle a traced fn captures when it reads variable ``x``."""
    return (x.value if is_keras_variable(x) else x).handle


def _assignments(graph):
    """{captured handle placeholder: [value tensors assigned to it]} in ``graph``."""
    assigned = {}
    for op in graph.get_operations():
        if op.type in ("AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp"):
            assigned.setdefault(op.inputs[0].ref(), []).append(op.inputs[1])
    return assigned


def _reaches(outputs, node, assigned, through_assign, through_stop, through_int):
    """Whether a walk back from ``outputs`` reaches ``node``, with these edges allowed."""
    seen, todo = set(), list(outputs)
    while todo:
        t = todo.pop()
        if t.ref() in seen:
            continue
        seen.add(t.ref())
        if t is node:
            return True
        if not through_int and (t.dtype.is_integer or t.dtype == tf.bool):
            continue  # integers carry no gradient
        if not through_stop and t.op.type in ("StopGradient", "PreventGradient"):
            continue
        todo.extend(t.op.inputs)
        if through_assign:
            todo.extend(assigned.get(t.ref(), []))
    return False


def _trace(fn, sources, positions):
    """Trace fn with the tensor sources as placeholders and variables captured.

    Without autograph: the graph is fn's Python as the tape ran it, not a
    conversion of its control flow (a Python ``if`` on a tensor then fails to
    trace, and the cause is ``unknown``).

    Returns ``(concrete function, {position: graph node of that source})``, or
    ``(None, cause, reason)`` when the trace fails.
    """
    traced, tensors = tensor_arguments(fn, sources)
    specs = [tf.type_spec_from_value(sources[i]) for i in tensors]

    try:
        concrete = tf.function(traced, autograph=False).get_concrete_function(*specs)
    except Exception as exc:  # noqa: BLE001 - any failure to trace: report it, never crash
        text = " ".join(str(exc).split())
        first = text if len(text) <= 160 else text[:157] + "..."
        if "numpy" in str(exc).lower():
            return None, "numpy_round_trip", ""
        return None, "unknown", f"Tracing fn with tf.function failed ({type(exc).__name__}: {first[:160]})."
    nodes, inputs = {}, list(concrete.graph.inputs)
    for i, spec in zip(tensors, specs):  # a ragged source has several placeholders
        parts = [inputs.pop(0) for _ in tf.nest.flatten(spec, expand_composites=True)]
        nodes[i] = next((p for p in parts if is_float(p)), None)
    captured = {id(external): internal for external, internal in concrete.graph.captures}
    for i in positions:
        if is_variable(sources[i]):
            nodes[i] = captured.get(id(_handle(sources[i])))
    return concrete, nodes


def graph_causes(fn, sources, positions):
    """{position: (cause, detail)} from one trace of fn and a walk per source."""
    traced = _trace(fn, sources, positions)
    if traced[0] is None:
        return {i: traced[1:] for i in positions}
    concrete, nodes = traced
    # a ragged (or other composite) result is walked from its component tensors
    outputs = [t for t in tf.nest.flatten(concrete.structured_outputs, expand_composites=True)
               if isinstance(t, tf.Tensor)]
    assigned = _assignments(concrete.graph)
    causes = {}
    for i in positions:
        node = nodes[i]
        if node is None:  # a variable fn never reads
            causes[i] = ("not_connected", "fn never reads this variable.")
            continue
        def reach(assign, stop, integer, node=node):
            return _reaches(outputs, node, assigned, assign, stop, integer)
        if not reach(True, True, True):
            causes[i] = ("not_connected", "")
        elif not reach(False, True, True):
            causes[i] = ("variable_assign", "")
        elif not reach(False, False, True):
            causes[i] = ("stop_gradient", "")
        elif not reach(False, False, False):
            causes[i] = ("integer_path", "")
        else:
            causes[i] = ("unknown", ("A path of float tensors without stop_gradient leads "
                         "from the source to the target, so an op on it may have a None "
                         "gradient by definition (tf.round, tf.sign, comparisons)."))
    return causes
