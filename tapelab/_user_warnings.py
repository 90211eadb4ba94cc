"""Warnings that point at the user's line: one mechanism for every warning tapelab raises.

``warnings.warn(..., stacklevel=n)`` needs ``n`` counted by hand from each call
site, and the count breaks when a helper moves. :func:`warn` counts for itself:
it reports the first frame of the call stack that is not inside tapelab, Keras,
TensorFlow or ``contextlib``, which is the user's own line (``fine_tune(...)``,
``model.fit(...)`` with a tapelab callback, ``with tapelab.tape(...)``). Code that
autograph converted while tracing a ``tf.function`` runs from generated files;
those frames are skipped too, so the warning points at the line that called the
``tf.function``.
"""

import contextlib
import os
import sys
import warnings

import tapelab


def _package_dir(module):
    return os.path.dirname(os.path.abspath(module.__file__)) + os.sep


# frames inside these are never the user's line (Keras and TF are added once imported:
# tapelab imports them lazily, and a warning before that comes from tapelab's own code)
_INSIDE = [_package_dir(tapelab), os.path.abspath(contextlib.__file__)]
_LIBRARIES = ("keras", "tensorflow")


def library_prefixes():
    prefixes = list(_INSIDE)
    for name in _LIBRARIES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            prefixes.append(_package_dir(module))
    return tuple(prefixes)


_AUTOGRAPH = "__autograph_generated_file"


def _internal(filename, prefixes):
    return os.path.abspath(filename).startswith(prefixes) or _AUTOGRAPH in filename


def user_stacklevel():
    """The ``stacklevel`` that makes ``warnings.warn``, called by the caller of this
    function, report the first frame outside tapelab, Keras, TensorFlow and contextlib."""
    prefixes = library_prefixes()
    frame, level = sys._getframe(1), 1  # the caller of this function: stacklevel 1
    while frame is not None and _internal(frame.f_code.co_filename, prefixes):
        frame, level = frame.f_back, level + 1
    return level


def warn(message, category=UserWarning):
    """Issue a warning attributed to the user's line (the first frame outside tapelab,
    Keras, TensorFlow and contextlib).

    Args:
      message: the warning's text.
      category: a ``Warning`` subclass.
    """
    warnings.warn(message, category, stacklevel=user_stacklevel())
