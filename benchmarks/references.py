"""Raw references that tapelab's helpers are measured (and tested) against."""

import tapelab


def hvp_forward_over_reverse(fn, x, v):
    """``H(x) @ v`` as the jvp of the gradient (JAX's default); what :func:`tapelab.hvp`
    was measured against (bench_transforms.py). Same arguments and result as ``tapelab.hvp``.

    >>> import tensorflow as tf
    >>> f = lambda x: tf.reduce_sum(x**3)
    >>> hvp_forward_over_reverse(f, tf.constant([1.0, 2.0]), tf.constant([1.0, 1.0])).numpy().tolist()
    [6.0, 12.0]
    """
    return tapelab.jvp(tapelab.grad(fn), (x,), (v,))[1]
