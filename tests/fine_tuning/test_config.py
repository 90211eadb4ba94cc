"""One run's configuration (tapelab/fine_tuning/config.py): every argument checked once,
before anything changes; every field says where it counts; fine_tune's own signature."""

import dataclasses
import inspect

import fit_peer as peer
import keras
import numpy as np
import pytest
import tensorflow as tf
from test_loop import HEAD, LOSS, data, model, values

from tapelab import fine_tune
from tapelab.fine_tuning.config import RunConfig


@pytest.mark.parametrize("kwargs, data_, error, match", [
    ({}, (np.zeros((5, 6), "float32"), np.zeros(4, "int64")), ValueError,
     "must have the same number of examples. Received: x: 5, y: 4"),
    ({}, (np.zeros((0, 6), "float32"), np.zeros(0, "int64")), ValueError,
     "at least one example. Received: 0 examples"),
    ({}, tf.data.Dataset.from_tensor_slices((np.zeros((0, 6), "float32"),
                                             np.zeros(0, "int64"))).batch(4),
     ValueError, "at least one batch. Received: an empty Dataset"),
    ({}, tf.data.Dataset.from_tensor_slices((np.zeros((4, 6), "float32"), np.zeros(4, "int64")))
     .batch(2).filter(lambda a, b: False), ValueError, "yielded none"),
    ({"epochs": -1}, None, ValueError, r"`epochs` must be an integer >= 0. Received: epochs=-1"),
    ({"batch_size": 2.5}, None, ValueError, r"`batch_size` must be an integer >= 1"),
    ({"verbose": 3}, None, ValueError, r"`verbose` must be 'auto', 0, 1 or 2"),
    ({"strategy": "mirrored"}, None, TypeError, "must be a tf.distribute.Strategy"),
    ({}, [np.zeros((4, 6))], TypeError, r"\(x, y\) or \(x, y, sample_weight\).*Received: list of length 1"),
])
def test_bad_input_is_refused_before_anything_changes(kwargs, data_, error, match):
    m = model()
    opt = keras.optimizers.SGD(0.1)
    before = values(m)
    with pytest.raises(error, match=match):
        fine_tune(m, HEAD, data() if data_ is None else data_, LOSS, opt, **{"verbose": 0, **kwargs})
    assert all(np.array_equal(u, v) for u, v in zip(before, values(m)))
    assert int(opt.iterations) == 0


@pytest.mark.parametrize("kwargs, error, message", [
    ({"validation_freq": 0}, ValueError, r"`validation_freq` must be an integer >= 1"),
    ({"validation_split": 1.0}, ValueError, r"`validation_split` must be a float in \[0, 1\)"),
    ({"class_weight": [1.0, 2.0]}, ValueError, r"`class_weight` must be a dict"),
    ({"class_weight": {0: 1.0}, "sample_weight": np.ones(96)}, ValueError,
     "cannot be used at the same time"),
    ({"callbacks": keras.callbacks.History()}, TypeError, "must be a list of keras.callbacks"),
    ({"metrics": "accuracy"}, TypeError, r"Use metrics=\['accuracy'\]"),
    ({"steps_per_epoch": 0}, ValueError, r"`steps_per_epoch` must be an integer >= 1"),
    ({"initial_epoch": -1}, ValueError, r"`initial_epoch` must be an integer >= 0"),
])
def test_bad_keywords_are_refused_before_anything_changes(kwargs, error, message):
    m = peer.model()
    before = [v.numpy().copy() for v in m.variables]
    with pytest.raises(error, match=message):
        fine_tune(m, peer.HEAD, peer.digits_like(), peer.loss(), keras.optimizers.SGD(0.05), verbose=0,
                  **kwargs)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, m.variables))


def test_every_field_says_how_it_enters_the_checkpoint_and_the_trace_key():
    """A new keyword cannot be left out of the checkpoint's signature or the trace key by
    forgetting it: each field says where it counts (a function, or the reason it need not)."""
    for f in dataclasses.fields(RunConfig):
        assert set(f.metadata) == {"resume", "trace"}, f.name
        assert callable(f.metadata["resume"]) or (
            isinstance(f.metadata["resume"], str) and f.metadata["resume"]), f.name
        assert isinstance(f.metadata["trace"], bool), f.name


def test_fine_tune_and_build_take_the_same_arguments():
    """fine_tune forwards its arguments to RunConfig.build: one list, two signatures, equal."""
    ours = inspect.signature(fine_tune).parameters
    theirs = inspect.signature(RunConfig.build).parameters
    assert list(ours) == list(theirs)
    for name, p in ours.items():
        q = theirs[name]
        assert (p.kind, p.default) == (q.kind, q.default), name


def test_the_settings_a_checkpoint_compares():
    x, y = data()
    config = RunConfig.build(model(), HEAD, (x, y), LOSS, "adam", class_weight={0: 1, 1: 2.0})
    settings = config.settings()
    assert list(settings) == ["loss_fn", "metrics", "training", "class_weight", "examples",
                              "data values (digest)", "batch_size", "shuffle", "seed",
                              "steps_per_epoch", "cache_features", "validation_split",
                              "validation_freq", "validation_steps", "validation_batch_size"]
    assert settings["class_weight"] == {"0": 1.0, "1": 2.0}
    assert settings["loss_fn"]["class"].endswith("SparseCategoricalCrossentropy")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    on_dataset = RunConfig.build(model(), HEAD, ds, LOSS, "adam").settings()
    assert on_dataset["dataset batches"] == 7 and "seed" not in on_dataset  # does not apply


def test_the_trace_key_holds_what_a_trace_bakes_in_and_nothing_else():
    x, y = data()
    m = model()
    opt = keras.optimizers.SGD(0.1)
    a = RunConfig.build(m, HEAD, (x, y), LOSS, opt, epochs=1, verbose=0)
    b = RunConfig.build(m, HEAD, (x, y), LOSS, opt, epochs=5, seed=3, verbose=2)
    assert a.trace_key() == b.trace_key()
    c = RunConfig.build(m, HEAD, (x, y), LOSS, opt, training=False)
    assert a.trace_key() != c.trace_key()


@pytest.mark.parametrize("name", ["training", "shuffle", "cache_features"])
def test_flags_must_be_booleans(name):
    """training="no" meant True."""
    with pytest.raises(TypeError, match=rf"`{name}` must be True or False\. Received: "
                                        rf"{name}='no'"):
        fine_tune(model(), HEAD, data(), LOSS, "sgd", verbose=0, **{name: "no"})
