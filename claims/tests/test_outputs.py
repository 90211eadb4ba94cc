"""What a cell shows (nbclaims.outputs): streams are byte streams, pieces joined as they are."""

import random

import pytest
from nbclaims import occurs, output_text
from nbclaims.outputs import rendered
from sample import result, stream

TEXT = "4.0 [1. 1. 1.]\nNo None gradients: every source gets a gradient.\n"


def pieces(text, rng, n):
    cuts = sorted(rng.sample(range(1, len(text)), n))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]


def test_one_print_flushed_as_two_outputs_is_one_text():
    """The failure of `make run` under load: ipykernel sent "4.0" and the rest apart."""
    cell = {"outputs": [stream("4.0"), stream(" [1. 1. 1.]\n")]}
    assert output_text(cell) == "4.0 [1. 1. 1.]\n"
    assert occurs("4.0 [1. 1. 1.]", output_text(cell))


@pytest.mark.parametrize("seed", range(20))
def test_a_stream_split_anywhere_and_interleaved_reads_the_same(seed):
    rng = random.Random(seed)
    whole = {"outputs": [stream(TEXT), stream("careful\n", "stderr"), result("12.0")]}
    split = [stream(p) for p in pieces(TEXT, rng, rng.randint(1, 8))]
    # stderr's pieces fall between stdout's, as they may when both are flushed
    at = sorted(rng.randint(1, len(split)) for _ in range(2))
    for shift, (i, p) in enumerate(zip(at, pieces("careful\n", rng, 1))):
        split.insert(i + shift, stream(p, "stderr"))
    # stdout came first, so it reads first; the result after both streams
    assert output_text({"outputs": [*split, result("12.0")]}) == output_text(whole)


def test_a_result_between_pieces_does_not_cut_the_stream():
    cell = {"outputs": [stream("a = "), result("3"), stream("1.5\n")]}
    assert output_text(cell) == "a = 1.5\n\n3"


def test_text_stored_as_a_list_of_lines():
    cell = {"outputs": [{"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]}]}
    assert output_text(cell) == "a\nb\n"


def test_errors_read_as_name_and_message():
    cell = {"outputs": [{"output_type": "error", "ename": "ValueError", "evalue": "bad x",
                         "traceback": []}]}
    assert output_text(cell) == "ValueError: bad x"


def test_carriage_returns_and_backspaces_apply_as_jupyter_shows_them():
    """JupyterLab's fixCarriageReturn overwrites; its fixBackspace erases."""
    assert rendered("10%\r55%\r100%\n") == "100%\n"
    assert rendered("abc\x08\x08de\n") == "ade\n"
    assert rendered("abcdef\rXY") == "XYcdef"
    assert rendered("abc\x08\x08\x08xy") == "xy"
    assert rendered("\x08\x08start") == "start"
    assert rendered("a\r\nb") == "a\nb"
    # word boundaries are not backspaces: nothing else is removed
    assert rendered("tf.Tensor(12.0, shape=(), dtype=float32)\n") == \
        "tf.Tensor(12.0, shape=(), dtype=float32)\n"
    cell = {"outputs": [stream("step 1\rstep 2\r"), stream("done 6.0\n")]}
    assert occurs("done 6.0", output_text(cell)) and not occurs("step 1", output_text(cell))


def test_colour_codes_are_not_text():
    cell = {"outputs": [stream("\x1b[1mEpoch 1/5\x1b[0m\n"), result("\x1b[32mTotal params: 10\x1b[0m"),
                        {"output_type": "error", "ename": "\x1b[31mValueError\x1b[0m",
                         "evalue": "bad", "traceback": []}]}
    text = output_text(cell)
    assert occurs("Epoch 1/5", text) and occurs("Total params: 10", text)
    assert occurs("ValueError: bad", text)


def test_a_keras_style_progress_bar_reads_as_its_last_state():
    bar = "1/2 ━━━━━━━━━━ 0s 5ms/step" + "\x08" * 26 + "\r" + "2/2 ━━━━━━━━━━ 0s 4ms/step\n"
    assert output_text({"outputs": [stream(bar)]}) == "2/2 ━━━━━━━━━━ 0s 4ms/step\n"
