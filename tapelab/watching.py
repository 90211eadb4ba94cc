"""`tape()`, a tf.GradientTape already watching what you name, and its recorder.

``record()`` runs a function on such a tape; ``value_and_gradient``,
``gradients`` and the transforms share it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import tensorflow as tf

from tapelab._sources import as_sources, is_float, is_variable, watchable
from tapelab._user_warnings import warn


def watch_list(watch):
    """Flatten a (nested) watch spec into the objects ``tape.watch`` accepts.

    In a list of several items, variables that are not floating point (a
    Dropout layer's int64 seed state in ``model.variables``, a step counter)
    are skipped with one warning that names them, as raw TF warns; a single
    non-float item, or a non-float tensor, raises TypeError.
    """
    flat = isinstance(watch, list) and not any(isinstance(x, (dict, tuple, list)) for x in watch)
    items = list(watch) if flat else tf.nest.flatten(watch)  # tf.nest only where needed
    if len(items) > 1:
        skipped = [x for x in items if is_variable(x) and not is_float(x)]
        if skipped:
            names = ", ".join(f"{getattr(x, 'path', x.name)} ({tf.as_dtype(x.dtype).name})"
                              for x in skipped)
            warn(f"tape(watch=...) skips {len(skipped)} variable(s) that are not floating "
                 f"point and so have no gradient: {names}.")
            items = [x for x in items if not any(x is y for y in skipped)]
    return [watchable(x) for x in items]


@contextlib.contextmanager
def tape(watch: Any = (), only_watched: bool = False,
         persistent: bool = False) -> Iterator[tf.GradientTape]:
    """Open a real ``tf.GradientTape`` that already watches ``watch``.

    Args:
      watch: a tensor, ``tf.RaggedTensor``, ``tf.Variable`` or Keras 3
        ``keras.Variable``, or a nested list/tuple/dict of them. Keras variables
        are watched through the ``tf.Variable`` they wrap, which raw
        ``tape.watch`` refuses. In a list, non-float variables (``model.variables``
        holds Dropout's int64 seed state) are skipped with one warning.
      only_watched: if True, the tape records only what ``watch`` names
        (``watch_accessed_variables=False``); trainable variables used in the
        block are no longer watched automatically.
      persistent: if True, ``gradient`` may be called more than once; drop the
        tape (``del t``) when done to free what it holds.

    Yields:
      The ``tf.GradientTape`` itself: use ``t.gradient``, ``t.jacobian``... as usual.

    >>> import tensorflow as tf
    >>> import tapelab
    >>> x = tf.constant(3.0)
    >>> with tapelab.tape(watch=x) as t:
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


def record(fn, sources, persistent):
    """Run ``fn(*sources)`` on a tape that watches the sources that are not variables.

    Variables are watched on access, as in raw TF (so a non-trainable one gives
    None, as it would there); tensors must be watched explicitly.

    Args:
      fn: a function of ``len(sources)`` arguments.
      sources: the arguments, under tapelab's input rules (``_sources.as_sources``).
      persistent: whether the tape may compute several gradients.

    Returns:
      ``(tape, fn's result, the sources as tensors or variables)``.
    """
    sources = as_sources(sources)
    watched = [s for s in sources if not is_variable(s)]
    with tape(watch=watched, persistent=persistent) as t:
        out = fn(*sources)
    return t, out, list(sources)
