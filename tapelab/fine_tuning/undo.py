"""Undo on failure: "nothing was changed" made true, in one way for every helper.

A training step writes several variables (weights, optimizer slots and its
step count, BatchNormalization statistics, random-seed counters), and a restore
from a checkpoint writes all of them. If it fails half-way, the variables it
already wrote must go back. :func:`undo_on_failure` snapshots them on entry and
assigns the snapshot back when the block raises (anything, ``KeyboardInterrupt``
included), then re-raises.
"""

import contextlib

import numpy as np


class Snapshot:
    """The values of some variables at one moment, to put back with :meth:`restore`."""

    def __init__(self, variables):
        self.saved = [(v, np.array(v.numpy(), copy=True)) for v in variables]

    def restore(self):
        for v, value in self.saved:
            v.assign(value)


@contextlib.contextmanager
def undo_on_failure(variables):
    """Inside the block, a failure puts ``variables`` back as they were on entry.

    Args:
      variables: the variables the block may write (read eagerly, on entry).

    Yields:
      The :class:`Snapshot`, so a caller can also restore it at another point.
    """
    snapshot = Snapshot(variables)
    try:
        yield snapshot
    except BaseException:
        snapshot.restore()
        raise
