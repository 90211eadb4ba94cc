"""The SVG of a drawing (tapelab/drawing/picture.py): well-formed, one box per node, cuts
dashed and labelled, unrecorded nodes dashed, readable at a book column's width."""

import xml.etree.ElementTree as ET

import keras
import tensorflow as tf

import tapelab
from tapelab.drawing import picture
from tapelab.drawing.record import record

SVG = "{http://www.w3.org/2000/svg}"


def parsed(recording):
    return ET.fromstring(picture.svg(recording))


def test_one_box_per_node_with_its_value_and_gradient():
    recording = record(lambda x: x**2 + 2*x + 1, (5.0,))
    root = parsed(recording)
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    assert [g.find(f"{SVG}title").text for g in groups] == [n.name for n in recording.nodes]
    x_box = [t.text for t in groups[0].iter(f"{SVG}text")]
    assert x_box == ["x (source)", "value 5.0", "grad  12.0"]
    assert root.get("font-size") == "12"


def test_cuts_and_unrecorded_nodes_are_visible_without_colour():
    recording = record(lambda x: tf.stop_gradient(x) * 3.0 + x, (2.0,))
    root = parsed(recording)
    (cut,) = [g for g in root.iter(f"{SVG}g") if g.get("class") == "cut"]
    assert cut.find(f"{SVG}path").get("stroke-dasharray")  # dashed
    assert cut.find(f"{SVG}text").text == "cut: stop_gradient"  # and labelled
    boxes = {g.find(f"{SVG}title").text: g for g in root.iter(f"{SVG}g")
             if g.get("class") == "node"}
    assert boxes["StopGradient"].find(f"{SVG}rect").get("stroke-dasharray")
    assert [t.text for t in boxes["StopGradient"].iter(f"{SVG}text")][-1] == "not recorded"
    assert not boxes["x"].find(f"{SVG}rect").get("stroke-dasharray")


def test_teaching_graphs_fit_a_column_at_readable_size():
    """At most MAX_WIDTH wide: scaled to a 700 px column, 12 px text stays above 9 px."""
    v = tf.Variable(2.0)
    for fn, x in [(lambda x: x**2 + 2*x + 1, 5.0),
                  (lambda x: x**2 + v * x + tf.stop_gradient(x) * 3.0
                   + tf.cast(tf.cast(x, tf.int32), tf.float32), 5.0)]:
        root = parsed(record(fn, (x,)))
        assert float(root.get("width")) <= picture.MAX_WIDTH
    assert 700 / picture.MAX_WIDTH * picture.FONT >= 9


def test_a_long_title_is_shortened_and_the_note_is_wrapped():
    from tapelab.drawing.record import Node, Recording

    long = Node("n", "op", "Op", args=["a" * 60])
    assert len(picture.title(long)) == picture.MAX_TITLE
    root = ET.fromstring(picture.svg(Recording([long], [], "word " * 40)))
    notes = [t.text for t in root.findall(f"{SVG}text")]
    assert len(notes) >= 2 and all(len(line) <= 60 for line in notes)


def test_error_text_with_colour_codes_and_markup_stays_valid_xml():
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(2, name="lay&<er>")(inp))  # cannot be traced
    d = tapelab.draw(lambda x: tf.reduce_sum(model(x)), tf.ones((1, 3)))
    ET.fromstring(d.svg())  # well-formed, though Keras's message held \x1b codes
    after = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="later")])
    assert after.weights[0].path == "sequential/later/kernel" or \
        after.weights[0].path.split("/")[-2:] == ["later", "kernel"]
    assert not after.weights[0].path.startswith("functional")  # no Keras scope left open
    assert "\x1b" not in d.svg()


def test_a_picture_wider_than_a_column_says_so_and_labels_stay_on_it():
    d = tapelab.draw(lambda *xs: tf.add_n([x * x for x in xs]), *[float(i) for i in range(12)])
    root = ET.fromstring(d.svg())
    assert float(root.get("width")) > picture.MAX_WIDTH and "px wide: scaled to a page" in d.svg()
    v = tf.Variable(1.0)
    cut = tapelab.draw(lambda x: (v.assign(x * 2.0), v * 3.0)[1], 1.0).svg()
    ys = [float(t.get("y")) for t in ET.fromstring(cut).iter(
        f"{SVG}text")]
    assert min(ys) > 0
