"""`explain_none`: why is my gradient None? One finding per None, with the fix.

For each source whose gradient is None under a plain ``tf.GradientTape()``,
the cause is found by experiment, not guessed:

1. an integer or bool dtype has no gradient at all;
2. re-run with the source explicitly watched: a gradient now means it was a
   tensor the tape did not watch, or a variable with ``trainable=False``; a
   ``LookupError`` means an op on the path has no registered gradient;
3. otherwise trace ``fn`` with ``tf.function`` and walk the graph from the
   target back to the source: no path at all means the target does not depend
   on it; a path only through ``StopGradient`` means ``tf.stop_gradient``; a
   trace that fails on ``.numpy()`` / NumPy calls means a NumPy round trip.
Anything else is reported as ``unknown``, honestly.
"""

from dataclasses import dataclass

import tensorflow as tf

from tapelab._sources import as_source, is_variable, watchable

FIXES = {
    "integer_dtype": "Gradients are only defined for floating dtypes. Cast the source "
                     "before the tape sees it, e.g. x = tf.cast(x, tf.float32).",
    "not_watched": "A tape only watches trainable variables on its own. Call "
                   "tape.watch(x) inside the tape block, make x a tf.Variable, or use "
                   "tapelab.value_and_gradient / tapelab.tape(watch=x), which watch it.",
    "non_trainable_variable": "This variable was created with trainable=False (or its "
                              "layer is frozen), so the tape does not watch it. Watch "
                              "it explicitly with tape.watch(v), or make it trainable.",
    "not_connected": "The target does not depend on this source: no operation leads "
                     "from it to the target. Check that fn really uses it (a typo, a "
                     "shadowed name, or a value computed before the source). If a zero "
                     "is what you want, pass unconnected_gradients=tf.UnconnectedGradients"
                     ".ZERO to tape.gradient.",
    "stop_gradient": "Every path from this source to the target goes through "
                     "tf.stop_gradient, which blocks gradients on purpose. Remove it "
                     "from the path you want to differentiate.",
    "numpy_round_trip": "fn turns a tensor into NumPy (.numpy(), np.* on a tensor) and "
                        "back; the tape cannot see through NumPy. Use the TensorFlow op "
                        "instead (tf.sin, tf.reduce_sum, ...).",
    "no_gradient_registered": "An op on the path has no registered gradient, so "
                              "TensorFlow cannot differentiate through it. Replace it "
                              "with differentiable ops, or define one with "
                              "tf.custom_gradient.",
    "unknown": "tapelab could not tell why. Common other causes: a cast to an integer "
               "dtype inside fn, or a value computed outside the tape. Try "
               "tape.gradient on intermediate results to find where the path breaks.",
}


@dataclass(frozen=True)
class Finding:
    """Why one source's gradient is None, and how to fix it."""

    source: int  # position of the source in explain_none(fn, *sources)
    cause: str  # a stable code, one of FIXES
    message: str

    def __str__(self):
        return f"source {self.source}: {self.cause}\n  {self.message}"


class Findings(list):
    """A list of :class:`Finding` that prints as readable text."""

    def __str__(self):
        if not self:
            return "No None gradients: every source gets a gradient."
        return "\n".join(str(f) for f in self)

    __repr__ = __str__


def _as_raw(x):
    """Sources as tapelab's helpers take them, but integer/bool ones kept, to be explained."""
    try:
        return as_source(x)  # numbers -> float32 tensors, variables and tensors as they are
    except TypeError:
        return tf.convert_to_tensor(x)  # e.g. an int tensor: explained as integer_dtype


def _gradient(fn, sources, i, watch):
    """The gradient of fn(*sources) for source i, on a default tape."""
    with tf.GradientTape() as tape:
        if watch:
            tape.watch(watchable(sources[i]))
        y = fn(*sources)
    return tape.gradient(y, sources[i])


def _reach(target, source_tensor):
    """(reached at all, reached without passing StopGradient), walking the graph back."""
    def walk(stop_at_stop_gradient):
        seen, todo = set(), [target]
        while todo:
            t = todo.pop()
            if t.ref() in seen:
                continue
            seen.add(t.ref())
            if t is source_tensor:
                return True
            if stop_at_stop_gradient and t.op.type in ("StopGradient", "PreventGradient"):
                continue
            todo.extend(t.op.inputs)
        return False

    return walk(False), walk(True)


def _graph_cause(fn, sources, i):
    """Trace fn and classify source i as not_connected / stop_gradient / numpy / unknown."""
    specs = [tf.TensorSpec(s.shape, s.dtype) for s in sources]

    def traced(*args):
        return fn(*args)

    try:
        concrete = tf.function(traced).get_concrete_function(*specs)
    except (AttributeError, NotImplementedError, TypeError) as exc:
        if "numpy" in str(exc).lower():
            return "numpy_round_trip"
        return "unknown"
    outputs = [t for t in tf.nest.flatten(concrete.structured_outputs)
               if isinstance(t, tf.Tensor)]
    placeholder = concrete.graph.inputs[i]
    reached = [_reach(out, placeholder) for out in outputs]
    if not any(r[0] for r in reached):
        return "not_connected"
    if not any(r[1] for r in reached):
        return "stop_gradient"
    return "unknown"


def _diagnose(fn, sources, i):
    source = sources[i]
    dtype = tf.as_dtype(source.dtype)
    if not (dtype.is_floating or dtype.is_complex):
        return "integer_dtype", f"it has dtype {dtype.name}."
    try:
        grad = _gradient(fn, sources, i, watch=True)
    except LookupError as exc:
        return "no_gradient_registered", f"TensorFlow said: {str(exc).splitlines()[0]}"
    if grad is not None:
        if is_variable(source):
            return "non_trainable_variable", f"variable {source.name!r} has trainable=False."
        return "not_watched", "with tape.watch it gets a gradient."
    cause = _graph_cause(fn, sources, i)
    return cause, ""


def explain_none(fn, *sources):
    """Explain every None gradient of ``fn(*sources)`` under a plain tape.

    Args:
      fn: the function you differentiate; it returns the target tensor.
      *sources: what you differentiate with respect to, exactly as you would
        pass them to ``tape.gradient`` (numbers become float32 tensors).

    Returns:
      A :class:`Findings` list (empty when every gradient exists); each
      :class:`Finding` holds the source's position, a stable ``cause`` code
      and a message with the fix. ``print()`` it in a notebook.

    >>> import tensorflow as tf
    >>> x = tf.constant(3.0)
    >>> findings = explain_none(lambda x: x * x, x)
    >>> [f.cause for f in findings]
    ['not_watched']
    >>> explain_none(lambda v: v * v, tf.Variable(3.0))
    No None gradients: every source gets a gradient.
    """
    sources = tuple(_as_raw(s) for s in sources)
    findings = Findings()
    for i in range(len(sources)):
        try:
            grad = _gradient(fn, sources, i, watch=False)
        except LookupError:
            grad = None
        if grad is not None:
            continue
        cause, detail = _diagnose(fn, sources, i)
        message = " ".join(part for part in (detail, FIXES[cause]) if part)
        findings.append(Finding(i, cause, message))
    return findings
