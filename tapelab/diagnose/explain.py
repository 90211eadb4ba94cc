"""`explain_none`: why is my gradient None? One finding per None, with the fix.

For each source whose gradient is None under a plain ``tf.GradientTape()``,
the cause is found by experiment, never guessed:

1. an integer or bool dtype has no gradient at all (``integer_dtype``), nor a
   string or other non-numeric one (``non_float_dtype``);
2. re-run with the sources explicitly watched: a gradient now means a tensor
   the tape did not watch, or a variable with ``trainable=False``; a
   ``LookupError`` means an op on the path has no registered gradient;
3. otherwise trace ``fn`` with ``tf.function`` (``graph_paths.py``; variables as ``fn``
   captures them, by closure or argument) and walk the graph from the target
   back to the source. No path at all: the target does not depend on it. A
   path only through a variable assignment: the tape does not differentiate
   ``assign``. Only through ``StopGradient``: ``tf.stop_gradient``. Only through
   integer tensors: ``argmax``, a cast to an integer. A trace that fails on
   ``.numpy()`` / NumPy calls: a NumPy round trip.
Anything else, a failed trace included, is ``unknown``, with the reason.

``fn`` runs once when every gradient exists, and at most twice plus one trace
otherwise: it must not have side effects that matter (``explain_none`` may run
an ``assign`` in it twice).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from tapelab._keras_internals import name_scopes_kept
from tapelab._sources import as_source_of_any_dtype, is_float, is_variable, watchable
from tapelab.diagnose.graph_paths import graph_causes

FIXES = {
    "integer_dtype": "Gradients are only defined for floating dtypes. Cast the source "
                     "before the tape sees it, e.g. x = tf.cast(x, tf.float32).",
    "non_float_dtype": "Gradients are only defined with respect to floating (or complex) "
                       "values, and this dtype is not numeric (a string, for instance): "
                       "no cast makes it one. Differentiate with respect to the float "
                       "tensor fn computes from it instead: compute that first (e.g. "
                       "tf.strings.to_number(s), or an embedding of token ids) and pass "
                       "it as the source.",
    "not_watched": "A tape only watches trainable variables on its own. Call "
                   "tape.watch(x) inside the tape block, make x a tf.Variable, or use "
                   "tapelab.value_and_gradient / tapelab.tape(watch=x), which watch it.",
    "non_trainable_variable": "This tf.Variable was created with trainable=False, so a "
                              "tape does not watch it on its own. Watch it explicitly "
                              "with tape.watch(v), or create it trainable. (A Keras 3 "
                              "layer's `trainable = False` is different: it leaves the "
                              "layer's variables watched, and a plain tape still gives "
                              "them gradients; fit just leaves them out of the update.)",
    "not_connected": "The target does not depend on this source: no operation leads "
                     "from it to the target. Check that fn really uses it (a typo, a "
                     "shadowed name, or a value computed before the source). If a zero "
                     "is what you want, pass unconnected_gradients=tf.UnconnectedGradients"
                     ".ZERO to tape.gradient.",
    "stop_gradient": "Every path from this source to the target goes through "
                     "tf.stop_gradient, which blocks gradients on purpose. Remove it "
                     "from the path you want to differentiate.",
    "variable_assign": "The source reaches the target only through a variable "
                       "assignment (v.assign, assign_add): the tape records the read of "
                       "the variable, not the computation that set it. Use the value "
                       "itself (w = a * 2; y = w * 3) instead of storing it in a variable.",
    "integer_path": "Every path from this source to the target passes through an integer "
                    "tensor (tf.argmax, a cast to an integer dtype, tf.size), and integers "
                    "carry no gradient. Use a differentiable stand-in (tf.nn.softmax "
                    "instead of argmax, for instance), or keep the integer step out of the "
                    "loss.",
    "numpy_round_trip": "fn turns a tensor into NumPy (.numpy(), np.* on a tensor) and "
                        "back; the tape cannot see through NumPy. Use the TensorFlow op "
                        "instead (tf.sin, tf.reduce_sum, ...).",
    "no_gradient_registered": "An op on the path has no registered gradient, so "
                              "TensorFlow cannot differentiate through it. Replace it "
                              "with differentiable ops, or define one with "
                              "tf.custom_gradient.",
    "unknown": "tapelab could not prove why. Try tape.gradient on intermediate "
               "results to find where the path breaks.",
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


def _check_result(y):
    """Raise TypeError unless ``y`` is what ``tape.gradient`` takes as a target."""
    flat = tf.nest.flatten(y)
    bad = [t for t in flat if not isinstance(t, (tf.Tensor, tf.RaggedTensor))
           and not is_variable(t)]
    if bad or not flat:
        what = bad[0] if bad else y
        where = "" if what is y else f" in the {type(y).__name__} fn returned"
        fix = ("A Python number or NumPy value is not on the tape (float(x), x.numpy() "
               "and .item() leave it), so tape.gradient fails on it rather than give "
               "None: return the tensor itself."
               if isinstance(what, (numbers.Number, np.ndarray, np.generic))
               else "Return the target tensor (a function without `return` gives None).")
        raise TypeError(
            "`fn` must return a tensor, or a dict, list or tuple of tensors, as "
            f"tape.gradient takes. Received: {type(what).__name__} {what!r}{where}. {fix}")


def _gradients(fn, sources, watch=()):
    """One run of fn on a persistent tape watching ``watch`` (positions).

    Returns one entry per source: a gradient, None, or the LookupError raised.
    """
    with tf.GradientTape(persistent=True) as tape:
        for i in watch:
            tape.watch(watchable(sources[i]))
        y = fn(*sources)
    _check_result(y)
    out = []
    for source in sources:
        try:
            out.append(tape.gradient(y, source))
        except LookupError as exc:
            out.append(exc)
    del tape
    return out


def _diagnose(fn, sources, missing):
    """{position: (cause, detail)} for the sources whose gradient is None."""
    causes, watch = {}, []
    for i in missing:
        if not is_float(sources[i]):
            dtype = tf.as_dtype(sources[i].dtype)
            numeric = dtype.is_integer or dtype == tf.bool
            causes[i] = ("integer_dtype" if numeric else "non_float_dtype",
                         f"it has dtype {dtype.name}.")
        else:
            watch.append(i)
    if not watch:
        return causes
    watched = _gradients(fn, sources, watch)
    rest = []
    for i in watch:
        grad = watched[i]
        if isinstance(grad, LookupError):
            causes[i] = ("no_gradient_registered",
                         f"TensorFlow said: {str(grad).splitlines()[0]}")
        elif grad is not None and is_variable(sources[i]):
            causes[i] = ("non_trainable_variable",
                         f"variable {sources[i].name!r} has trainable=False.")
        elif grad is not None:
            causes[i] = ("not_watched", "with tape.watch it gets a gradient.")
        else:
            rest.append(i)
    if rest:
        with name_scopes_kept():  # a layer that fails to trace leaves no Keras scope open
            causes.update(graph_causes(fn, sources, rest))
    return causes


def explain_none(fn: Callable[..., Any], *sources: Any) -> list[Finding]:
    """Explain every None gradient of ``fn(*sources)`` under a plain tape.

    ``fn`` runs once when every gradient exists; otherwise at most twice more
    (once with the sources watched) and one ``tf.function`` trace. So ``fn``
    must not have side effects that matter. A cause is reported only when an
    experiment proves it; otherwise the cause is ``unknown``, with the reason.

    Args:
      fn: the function you differentiate; it returns the target tensor. It may
        use the sources through its arguments or, for variables, by closure.
      *sources: what you differentiate with respect to, exactly as you would
        pass them to ``tape.gradient`` (numbers become float32 tensors). As in
        ``value_and_gradient``, each is a variable, a tensor, a ``tf.RaggedTensor``,
        a NumPy array or a number, but of any dtype: a dict or list of sources
        raises ``TypeError`` (pass each as its own argument).

    Returns:
      A :class:`Findings` list (empty when every gradient exists); each
      :class:`Finding` holds the source's position, a stable ``cause`` code
      and a message with the fix. ``print()`` it in a notebook. A ``fn`` that
      returns no tensor (a Python float, None) raises ``TypeError``: a tape
      gives no gradient of it, not even None.

    >>> import tensorflow as tf
    >>> import tapelab
    >>> x = tf.constant(3.0)
    >>> findings = tapelab.explain_none(lambda x: x * x, x)
    >>> [f.cause for f in findings]
    ['not_watched']
    >>> tapelab.explain_none(lambda v: v * v, tf.Variable(3.0))
    No None gradients: every source gets a gradient.
    """
    sources = tuple(as_source_of_any_dtype(s, i) for i, s in enumerate(sources))
    first = _gradients(fn, sources)
    causes = {i: ("no_gradient_registered", f"TensorFlow said: {str(g).splitlines()[0]}")
              for i, g in enumerate(first) if isinstance(g, LookupError)}
    missing = [i for i, g in enumerate(first) if g is None]
    if missing:
        causes.update(_diagnose(fn, sources, missing))
    findings = Findings()
    for i in sorted(causes):
        cause, detail = causes[i]
        message = " ".join(part for part in (detail, FIXES[cause]) if part)
        findings.append(Finding(i, cause, message))
    return findings
