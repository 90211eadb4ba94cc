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


def test_lists_of_one_and_nan_are_never_a_right_number():
    from tapelab.exercises import nb01, nb03, nb05

    assert "must be one number" in str(nb01.derivative_by_hand([-6.0]))
    assert "must be a number" in str(nb05.count_trainable([2]))
    assert not nb01.derivative_by_tape(lambda x: float("nan")).ok
    assert not nb03.predict_watch([None, float("nan"), None, float("nan")]).ok


def test_checkers_leave_the_learners_random_state_alone():
    import keras

    from tapelab.exercises import nb05

    keras.utils.set_random_seed(7)
    expected = np.random.rand()
    keras.utils.set_random_seed(7)
    nb05.count_trainable(2)
    assert np.random.rand() == expected
