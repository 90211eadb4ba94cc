"""Undo on failure (tapelab/fine_tuning/undo.py): the one way every helper puts back what a
failed step or restore wrote."""

import numpy as np
import pytest
import tensorflow as tf

from tapelab.fine_tuning.undo import Snapshot, undo_on_failure


def test_a_failure_puts_every_variable_back_and_is_raised():
    a, b = tf.Variable([1.0, 2.0]), tf.Variable(3, dtype=tf.int64)
    with pytest.raises(RuntimeError, match="half-way"), undo_on_failure([a, b]):
        a.assign([9.0, 9.0])
        b.assign_add(1)
        raise RuntimeError("half-way")
    assert a.numpy().tolist() == [1.0, 2.0] and int(b) == 3


def test_an_interrupt_is_undone_too_and_success_keeps_the_changes():
    a = tf.Variable(1.0)
    with pytest.raises(KeyboardInterrupt), undo_on_failure([a]):
        a.assign(5.0)
        raise KeyboardInterrupt
    assert float(a) == 1.0
    with undo_on_failure([a]):
        a.assign(7.0)
    assert float(a) == 7.0


def test_a_snapshot_is_a_copy_not_a_view():
    a = tf.Variable(np.arange(3.0))
    snap = Snapshot([a])
    a.assign([5.0, 5.0, 5.0])
    snap.restore()
    assert a.numpy().tolist() == [0.0, 1.0, 2.0]
