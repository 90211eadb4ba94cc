"""Notebook 08's checkers: the gentle selection resolved by tapelab, and the learning rate
held to real runs' validation losses."""

import pytest

from tapelab.exercises import nb08


@pytest.mark.parametrize("answer, hint", [
    (None, "No answer yet"), (slice(None), "A selected BatchNormalization trains"),
    (["head_b"], "conv1, conv2 would stay frozen"), (["conv9"], "cannot resolve"),
])
def test_gentle_selection_hints(answer, hint):
    verdict = nb08.gentle_selection(answer)
    assert not verdict.ok and hint in str(verdict)


def test_gentle_selection_solution():
    assert nb08.gentle_selection(["conv1", "conv2", "head_b"]).ok
    assert nb08.gentle_selection(["conv1", "relu1", "conv2", "head_b"]).ok  # weightless: same


@pytest.mark.slow  # eight short training runs
def test_pick_learning_rate():
    assert str(nb08.pick_learning_rate(None)).startswith("No answer yet")
    assert "must be one of" in str(nb08.pick_learning_rate(0.5))
    assert "too large" in str(nb08.pick_learning_rate(1.0))
    assert "Run nb08.stage_two" in str(nb08.pick_learning_rate(0.001))
    assert nb08.pick_learning_rate(0.1).ok
