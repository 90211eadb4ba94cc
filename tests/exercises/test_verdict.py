"""Verdicts print as their message, never as a bare boolean."""

import numpy as np
import tensorflow as tf

from tapelab.exercises.verdict import array, no_answer, not_yet, number, right


def test_a_verdict_prints_its_message_and_says_right_or_not_yet():
    assert str(right("why")) == "Right. why" and right("why").ok
    assert repr(not_yet("hint")) == "Not yet. hint" and not not_yet("hint").ok
    assert str(no_answer("a number")).startswith("No answer yet: set `answer` to a number")


def test_numbers_and_arrays_are_read_from_what_a_learner_passes():
    assert number(tf.constant(2.5)) == 2.5 and number(np.float32(1.0)) == 1.0
    assert number("3") is None and number(True) is None and number([1.0, 2.0]) is None
    assert array([[1, 2]]).shape == (1, 2) and array({"a": 1}) is None
