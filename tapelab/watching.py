"""`tape()`: a tf.GradientTape that is already watching what you name."""

import contextlib

import tensorflow as tf

from tapelab._sources import watchable


def watch_list(watch):
    """Flatten a (nested) watch spec into the objects ``tape.watch`` accepts."""
    return [watchable(x) for x in tf.nest.flatten(watch)]


@contextlib.contextmanager
def tape(watch=(), only_watched=False, persistent=False):
    """Open a real ``tf.GradientTape`` that already watches ``watch``.

    Args:
      watch: a tensor, ``tf.Variable`` or Keras 3 ``keras.Variable``, or a
        nested list/tuple/dict of them. Keras variables are watched through
        the ``tf.Variable`` they wrap, which raw ``tape.watch`` refuses.
      only_watched: if True, the tape records only what ``watch`` names
        (``watch_accessed_variables=False``); trainable variables used in the
        block are no longer watched automatically.
      persistent: if True, ``gradient`` may be called more than once; drop the
        tape (``del t``) when done to free what it holds.

    Yields:
      The ``tf.GradientTape`` itself: use ``t.gradient``, ``t.jacobian``... as usual.

    >>> import tensorflow as tf
    >>> x = tf.constant(3.0)
    >>> with tape(watch=x) as t:
    ...     y = x * x
    >>> float(t.gradient(y, x))  # dy/dx = 2x
    6.0
    """
    items = watch_list(watch)  # validate everything before recording starts
    t = tf.GradientTape(persistent=persistent, watch_accessed_variables=not only_watched)
    with t:
        if items:
            t.watch(items)
        yield t
