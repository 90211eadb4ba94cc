"""The Jacobian of a function of (nested) sources with a (nested) output, in either mode.

``tape.jacobian`` takes one target tensor and a structure of sources; here the
output may be a structure too (a dict, tuple or list of tensors), and the
result is that structure with, at each output leaf, the Jacobians per source,
as ``jax.jacrev`` nests them (outputs outside, sources inside). Used, compiled,
by :mod:`tapelab.jacobians`.
"""

import numbers

import numpy as np
import tensorflow as tf

from tapelab._sources import describe, is_variable, watchable
from tapelab.transforms import complex_inputs, real_or_complex, real_output, split_aux
from tapelab.watching import tape

ZERO = tf.UnconnectedGradients.ZERO


def output_leaves(out):
    """The leaves of ``fn``'s result (a tensor, or a dict, tuple or list of them) as tensors."""
    leaves = tf.nest.flatten(out)
    for leaf in leaves:
        if not (tf.is_tensor(leaf) or is_variable(leaf)
                or isinstance(leaf, (numbers.Number, np.generic, np.ndarray))):
            raise TypeError(
                "`fn` must return a tensor, or a dict, tuple or list of tensors, for "
                f"jacobian. Received: {describe(leaf)} in {type(out).__name__} output. "
                "Return only the values to differentiate.")
    return [tf.convert_to_tensor(leaf) for leaf in leaves]


def reverse(fn, sources):
    """``fn(*sources)`` and, per output leaf, its Jacobian per source leaf (tape.jacobian;
    a scalar output's is its gradient, with no loop to vectorise)."""
    flat = tf.nest.flatten(sources)
    with tape(watch=[leaf for leaf in flat if not is_variable(leaf)], persistent=True) as t:
        out = fn(*sources)
    per_output = []
    for o in output_leaves(out):
        if o.shape.rank == 0:
            per_output.append(t.gradient(o, flat, unconnected_gradients=ZERO))
        else:
            per_output.append(t.jacobian(o, flat, unconnected_gradients=ZERO))
    return out, per_output


def forward(fn, sources):
    """:func:`reverse` by ForwardAccumulator: one vectorised pass per source leaf."""
    structure, columns = [], []
    for source in tf.nest.flatten(sources):
        def column(direction, source=source):  # J @ e_k, one input direction
            tangent = tf.reshape(direction, tf.shape(source))
            from tapelab._keras_internals import quiet_complex_forward  # Keras: on first use
            with quiet_complex_forward(), tf.autodiff.ForwardAccumulator(
                    watchable(source), tangent) as acc:
                out = fn(*sources)
            structure[:] = [out]
            return [acc.jvp(o, unconnected_gradients=ZERO) for o in output_leaves(out)]

        basis = tf.eye(tf.size(source), dtype=source.dtype)
        columns.append([_source_last(stacked, source)  # each [n] + out.shape
                        for stacked in tf.vectorized_map(column, basis)])
    return structure[0], [list(per_output) for per_output in zip(*columns)]


def _source_last(stacked, source):
    """``[n] + out.shape`` (one row per source element) to ``out.shape + source.shape``."""
    out_rank = tf.rank(stacked) - 1
    moved = tf.transpose(stacked, tf.concat([tf.range(1, out_rank + 1), [0]], 0))
    return tf.reshape(moved, tf.concat([tf.shape(moved)[:-1], tf.shape(source)], 0))


MODES = {"reverse": reverse, "forward": forward}
HELPERS = {"reverse": "jacrev", "forward": "jacfwd"}


def jacobian_of(mode, single, fn, *sources, has_aux=False, holomorphic=False):
    """fn's output structure, each leaf holding its Jacobian per source (one, if ``single``).

    Args:
      mode: ``"reverse"`` or ``"forward"``.
      single: whether to give each output leaf's Jacobian for the one source,
        rather than a tuple over the sources.
      fn: a function of ``len(sources)`` arguments.
      *sources: each a tensor or variable, or a structure of them, already
        under tapelab's rules (``_trees.as_tree``).
      has_aux: ``fn`` returns ``(output, aux)``; the result is ``(Jacobians, aux)``.
      holomorphic: the complex Jacobian ``f'(z)`` of a holomorphic ``fn``, as JAX's.

    Returns:
      The Jacobians, nested: ``fn``'s output structure outside, the sources' inside.

    >>> import tensorflow as tf
    >>> J = jacobian_of("forward", False, lambda a, b: (a * b["b"], a), tf.constant(2.0),
    ...                 {"b": tf.constant(3.0)})
    >>> [[float(j) for j in tf.nest.flatten(per_output)] for per_output in J]
    [[3.0, 2.0], [1.0, 0.0]]
    """
    helper, flat = HELPERS[mode], tf.nest.flatten(sources)
    aux = []

    def main(*args):
        output, extra = split_aux(fn(*args), has_aux, helper)
        aux[:] = [extra]
        for o in output_leaves(output):
            real_or_complex(o, helper)
            if mode == "reverse" or holomorphic:
                real_output(o, helper, holomorphic, "use vjp or jvp")
        return output

    if holomorphic:
        complex_inputs(flat, helper)
    elif mode == "forward" and any(tf.as_dtype(x.dtype).is_complex for x in flat):
        raise TypeError(
            "jacfwd requires real inputs, as JAX's does. Received: a complex source. For a "
            "holomorphic function pass holomorphic=True; for another, use jvp directly.")
    out, per_output = MODES[mode](main, sources)
    if holomorphic and mode == "reverse":  # the tape gives conj(f'(z)); JAX gives f'(z)
        per_output = [[tf.math.conj(j) for j in js] for js in per_output]
    packed = [tf.nest.pack_sequence_as(sources, flat_js) for flat_js in per_output]
    result = tf.nest.pack_sequence_as(out, [p[0] if single else p for p in packed])
    if has_aux:
        if mode == "forward":  # aux of the vectorised passes is batched: one plain pass
            aux[:] = [split_aux(fn(*sources), True, helper)[1]]
        return result, aux[0]
    return result
