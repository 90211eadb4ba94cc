"""`check_gradient`: the tape's gradient against a numerical one."""

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tapelab._sources import as_sources
from tapelab.value_grad import value_and_gradient


@dataclass(frozen=True)
class GradientCheck:
    """How far the tape's gradient is from central finite differences."""

    max_abs_error: float
    max_rel_error: float
    tape: tuple  # the tape's gradient per source (NumPy arrays)
    numerical: tuple  # the finite-difference gradient per source

    def __str__(self):
        return (f"GradientCheck: max abs error {self.max_abs_error:.2e}, "
                f"max rel error {self.max_rel_error:.2e} "
                f"over {len(self.tape)} source(s)")


def check_gradient(fn, *sources, delta=None):
    """Compare the tape's gradient of ``fn`` with a numerical one.

    The numerical gradient comes from ``tf.test.compute_gradient`` (central
    differences); a non-scalar ``fn`` is summed first, as ``tape.gradient``
    does. Use float64 sources for tight errors: float32 differences are only
    good to about 1e-3.

    Args:
      fn: a function of ``len(sources)`` tensors.
      *sources: the point to check at (as for :func:`value_and_gradient`).
      delta: the finite-difference step (TF's default when None).

    Returns:
      A :class:`GradientCheck` with ``max_abs_error`` and ``max_rel_error``
      (relative to the larger of the two gradients, element-wise).

    >>> import tensorflow as tf
    >>> result = check_gradient(tf.sin, tf.constant([0.5, 1.0], tf.float64))
    >>> result.max_abs_error < 1e-6  # central differences, step 1/1024
    True
    """
    tensors = [tf.convert_to_tensor(s) for s in as_sources(sources)]
    _, grads = value_and_gradient(fn, *tensors)
    grads = grads if isinstance(grads, tuple) else (grads,)
    kwargs = {} if delta is None else {"delta": delta}
    _, jacobians = tf.test.compute_gradient(fn, tensors, **kwargs)
    tape, numerical, abs_err, rel_err = [], [], 0.0, 0.0
    for x, g, jac in zip(tensors, grads, jacobians):
        g = np.zeros(x.shape, x.dtype.as_numpy_dtype) if g is None else g.numpy()
        n = jac.sum(axis=0).reshape(x.shape)  # d sum(y) / dx  (rows of the Jacobian are y)
        diff = np.abs(g - n)
        scale = np.maximum(np.abs(g), np.abs(n))
        rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
        abs_err = max(abs_err, float(diff.max(initial=0.0)))
        rel_err = max(rel_err, float(rel.max(initial=0.0)))
        tape.append(g)
        numerical.append(n)
    return GradientCheck(abs_err, rel_err, tuple(tape), tuple(numerical))
