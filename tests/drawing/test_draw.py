"""tapelab.draw (tapelab/drawing/draw.py): its text form, its options and their errors, and
save() writing atomically."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tapelab

SEED = """tape: 5 nodes, 0 cut(s)
x      source                   value 5.0   grad 12.0
pow    Pow(x, 2.0)              value 25.0  grad 1.0
mul    Mul(2.0, x)              value 10.0  grad 1.0
add    AddV2(pow, mul)          value 35.0  grad 1.0
add_1  AddV2(add, 1.0)  target  value 36.0  grad 1.0"""


def test_the_text_form_is_one_line_per_node_in_topological_order():
    d = tapelab.draw(lambda x: x**2 + 2*x + 1, 5.0)
    assert str(d) == repr(d) == SEED
    assert d.node("x").grad == 12.0  # the seed's comment says 6.0
    assert d._repr_svg_().startswith("<svg")


def test_unwatched_sources_and_cuts_are_said_in_the_text():
    d = tapelab.draw(lambda x: x * x, tf.constant(3.0), watch=False)
    assert str(d).splitlines()[1].endswith("grad None  not watched, not recorded")
    d = tapelab.draw(lambda x: tf.stop_gradient(x) * 3.0 + x, 2.0)
    assert "cut x -> StopGradient: stop_gradient" in str(d).splitlines()
    assert d.node("x").grad == 1.0


def test_a_fn_that_cannot_be_traced_is_drawn_with_its_cause():
    d = tapelab.draw(lambda w: tf.constant(w.numpy() ** 2), tf.Variable(2.0))
    assert [(c.source, c.cause) for c in d.cuts] == [("w", "numpy_round_trip")]
    assert d.note.startswith("fn could not be traced")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"by": "layer"}, ValueError, r"`by` must be one of \('auto', 'op', 'scope'\)"),
    ({"expand": "dense"}, TypeError, (r"`expand` must be a tuple of scope names, e\.g\. "
                                     r"\('dense',\)")),
    ({"max_nodes": 1}, ValueError, r"`max_nodes` must be an int >= 2\. Received: max_nodes=1"),
    ({"watch": (3,)}, ValueError, r"`watch` must hold positions of sources, 0 to 0"),
    ({"watch": "yes"}, ValueError, r"`watch` must hold positions"),
])
def test_bad_options_say_what_was_received(kwargs, error, match):
    with pytest.raises(error, match=match):
        tapelab.draw(lambda x: x * x, 2.0, **kwargs)


def test_node_names_what_there_is():
    with pytest.raises(KeyError, match=r"No node 'y'.*its nodes are \['x', 'mul'\]"):
        tapelab.draw(lambda x: x * x, 2.0).node("y")


def test_save_writes_svg_atomically_and_refuses_other_formats(tmp_path):
    d = tapelab.draw(lambda x: x * x, 2.0)
    path = tmp_path / "tape.svg"
    path.write_text("an older picture")
    assert d.save(path) == path
    assert path.read_text() == d.svg()
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    with pytest.raises(ValueError, match=r"`path` must end in \.svg.*Received: path='.*tape\.png'"):
        d.save(tmp_path / "tape.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tape.svg"]  # no temporary left


def test_the_picture_in_the_readme_and_the_book_is_the_one_draw_makes_now():
    """docs/_static/seed_tape.svg, shown by README.md and the book's home page."""
    from pathlib import Path

    stored = Path(__file__).resolve().parents[2] / "docs" / "_static" / "seed_tape.svg"
    made = tapelab.draw(lambda x: x**2 + 2*x + 1, 5.0).svg()
    assert stored.read_text() == made, (
        "docs/_static/seed_tape.svg is out of date: .venv/bin/python -c \"import tapelab; "
        "tapelab.draw(lambda x: x**2 + 2*x + 1, 5.0).save('docs/_static/seed_tape.svg')\"")


@pytest.mark.parametrize("call, error, match", [
    (lambda: tapelab.draw(3.0, 2.0), TypeError, (r"`fn` must be a callable for draw\. Received: "
                                                r"float 3\.0")),
    (lambda: tapelab.draw(lambda x: x, 1.0, 2.0), TypeError,
     r"`fn` cannot take the 2 source\(s\) given"),
    (lambda: tapelab.draw(lambda x: x, 1.0, expand=None), TypeError,
     r"`expand` must be a tuple of scope names.*Received: expand=None"),
    (lambda: tapelab.draw(lambda x: x, 1.0, expand=("dense",)), ValueError,
     r"`expand` names scopes, and this drawing has none"),
    (lambda: tapelab.draw(lambda x: x, 1.0, max_nodes=10.0), TypeError,
     r"`max_nodes` must be an int >= 2\. Received: max_nodes=10\.0"),
    (lambda: tapelab.draw(lambda x: x, tf.ragged.constant([[1.0], [2.0, 3.0]])), TypeError,
     r"draw takes dense sources"),
    (lambda: tf.function(lambda x: tapelab.draw(lambda x: x, x))(tf.constant(1.0)),
     RuntimeError, r"call it outside tf\.function"),
])
def test_bad_calls_are_refused_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_max_nodes_takes_numpy_ints_and_expand_names_a_real_layer():
    assert len(tapelab.draw(lambda x: x * x, 2.0, max_nodes=np.int64(10)).nodes) == 2
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="hidden")])
    with pytest.raises(ValueError, match=r"`expand` must name scopes of this drawing: "
                                         r"\['hidden'\]\. Received: expand=\('nope',\)"):
        tapelab.draw(lambda x: tf.reduce_sum(model(x)), tf.ones((1, 3)), expand=("nope",))


def test_save_says_what_is_wrong_with_the_folder(tmp_path):
    d = tapelab.draw(lambda x: x * x, 2.0)
    with pytest.raises(FileNotFoundError, match=r"`path`'s folder does not exist"):
        d.save(tmp_path / "missing" / "tape.svg")
    (tmp_path / "dir.svg").mkdir()
    with pytest.raises(IsADirectoryError, match=r"`path` must name a file, not a folder"):
        d.save(tmp_path / "dir.svg")
