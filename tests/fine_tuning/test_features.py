"""Cached features (tapelab/fine_tuning/features.py and Batches.cache): the frozen body
runs once; the head trains on its outputs as the uncached run would."""

import os
import warnings

import fit_peer as peer
import keras
import numpy as np
import pytest
import tensorflow as tf
from test_loop import LOSS, data, model, values
from tolerance import FLOAT32_LONG, assert_variables_close

from tapelab import fine_tune


@pytest.mark.parametrize("source", ["arrays", "dataset"])
def test_cached_features_equal_the_uncached_run(source):
    x, y = data()
    head = ["head"]  # body, BN, Dropout, neck... frozen: Dropout off in both? no: see below
    keras.utils.set_random_seed(1)
    inp = keras.Input((6,))
    h = keras.layers.Dense(16, name="body")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Activation("relu", name="relu")(h)
    h2 = keras.layers.Dense(8, activation="relu", name="neck")(h)
    both = keras.layers.Concatenate(name="cat")([h, h2])
    out = keras.layers.Dense(3, name="head")(keras.layers.Activation("tanh", name="t")(both))
    a = keras.Model(inp, out)
    b = keras.models.clone_model(a)
    b.set_weights(a.get_weights())
    arg = (x, y) if source == "arrays" else tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    ha = fine_tune(a, head, arg, LOSS, keras.optimizers.Adam(0.01), epochs=3, batch_size=16,
                   verbose=0, cache_features=True)
    hb = fine_tune(b, head, arg, LOSS, keras.optimizers.Adam(0.01), epochs=3, batch_size=16,
                   verbose=0)
    # the body runs once on the whole input, not per batch: other sums, amplified by Adam
    assert_variables_close(a, b, FLOAT32_LONG)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], **FLOAT32_LONG)


def test_cache_features_refuses_a_selection_that_is_not_a_head_before_any_change():
    x, y = data()
    m = model()
    opt = keras.optimizers.SGD(0.1)
    before = values(m)
    with pytest.raises(ValueError, match=r"layer 'bn_body' \(BatchNormalization\) holds 4 "
                                         r"weight\(s\), is not selected, and runs after "
                                         r"the selected layer 'body'"):
        fine_tune(m, ["body", "head"], (x, y), LOSS, opt, cache_features=True, verbose=0)
    assert all(np.array_equal(u, v) for u, v in zip(before, values(m)))
    assert not opt.built


def test_cache_features_needs_a_layer_graph():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2, name="d")

        def call(self, x):
            return self.d(x)

    m = Sub()
    m(np.zeros((1, 6), "float32"))
    with pytest.raises(ValueError, match="needs a functional or Sequential model"):
        fine_tune(m, ["d"], data(), LOSS, keras.optimizers.SGD(0.1), cache_features=True)


def test_cache_features_prints_the_cache_size(capsys):
    x, y = data()
    fine_tune(model(), ["head"], (x, y), LOSS, keras.optimizers.SGD(0.1), cache_features=True)
    assert "Cached the frozen body's features: 1.6 KiB" in capsys.readouterr().out  # 50 x 8 x 4 B


def preprocessing_model():
    """A body that starts with plain ops, as keras.applications' preprocess_input."""
    keras.utils.set_random_seed(6)
    inp = keras.Input((6,))
    h = inp / 127.5 - 1.0  # TrueDivide and Subtract nodes, not layers
    h = keras.layers.Dense(8, activation="relu", name="body")(h)
    return keras.Model(inp, keras.layers.Dense(3, name="head")(h), name="pre")


def test_cache_features_cuts_a_graph_with_plain_ops_and_equals_fit():
    xv, yv = peer.digits_like(40, seed=5)
    result = peer.pair({"validation_data": (xv, yv)}, {"cache_features": True},
                  make=preprocessing_model, layers=["head"])
    peer.assert_same(*result)


def test_cache_features_warns_about_training_only_layers_in_the_body():
    keras.utils.set_random_seed(7)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="body"),
                          keras.layers.Dropout(0.5, name="drop"),
                          keras.layers.GaussianNoise(0.1, name="noise"),
                          keras.layers.Dense(3, name="head")])
    with pytest.warns(UserWarning, match=r"'drop' \(Dropout\), 'noise' \(GaussianNoise\)"):
        fine_tune(m, ["head"], peer.digits_like(), peer.loss(), "sgd", cache_features=True, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no such layer: no warning
        fine_tune(peer.model(), peer.HEAD, peer.digits_like(), peer.loss(), "sgd", cache_features=True,
                  verbose=0)


@pytest.mark.slow
def test_cache_features_streams_a_dataset_and_keeps_only_the_features():
    """A 300 MiB input made batch by batch: the cache's peak memory is its features
    (a few KiB), not the input (``list(dataset)`` held it all: 311 MiB measured)."""
    import subprocess
    import sys
    from pathlib import Path

    child = Path(__file__).parent / "cache_memory_child.py"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, str(child)], env=env, check=True, timeout=600,
                         capture_output=True, text=True).stdout.split()
    growth, size = float(out[0]), float(out[1])
    assert size == 300.0
    assert growth < 60, f"peak memory grew by {growth} MiB while caching a {size} MiB input"


def two_branch_head():
    """A head fed by two body branches: its frontier is two tensors, cached as two."""
    keras.utils.set_random_seed(4)
    inp = keras.Input((6,))
    a = keras.layers.Dense(2, name="branch_a")(inp)
    b = keras.layers.Dense(40, name="branch_b")(inp)
    both = keras.layers.Concatenate(name="cat")([a, b])
    return keras.Model(inp, keras.layers.Dense(3, name="head")(both))


@pytest.mark.parametrize("source", ["arrays", "dataset"])
def test_a_head_on_two_body_tensors_is_cached_and_equals_the_uncached_run(source):
    """It failed with "Dimensions 2 and 40 are not compatible": tf.data read the list of
    the two cached tensors as one stacked tensor."""
    x, y = data()
    arg = (x, y) if source == "arrays" else tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    runs = []
    for cache in (True, False):
        m = two_branch_head()
        runs.append((m, fine_tune(m, ["cat", "head"], arg, LOSS, keras.optimizers.Adam(0.01),
                                  epochs=3, batch_size=16, verbose=0, cache_features=cache)))
    (a, ha), (b, hb) = runs
    assert_variables_close(a, b, FLOAT32_LONG)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], **FLOAT32_LONG)


def reshuffled(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(50, seed=1).batch(16)


@pytest.mark.parametrize("make, named", [
    (reshuffled, "ShuffleDatasetV3"),
    (lambda x, y: tf.data.Dataset.from_tensor_slices((x, y)).batch(16).map(
        lambda a, b: (a + tf.random.uniform(tf.shape(a)), b)), "RandomUniform"),
])
def test_a_dataset_that_draws_anew_each_pass_warns_when_cached(make, named):
    """A reshuffling Dataset was frozen in its first epoch's order, with no word of it."""
    x, y = data()
    with pytest.warns(UserWarning, match=rf"cache_features=True reads `data` once.*\({named}"
                                         r".*the cached run sees the first pass's order"):
        fine_tune(model(), ["head"], make(x, y), LOSS, keras.optimizers.SGD(0.1), verbose=0,
                  cache_features=True)


def test_a_dataset_that_gives_the_same_values_each_pass_does_not_warn():
    x, y = data()
    same = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
        50, seed=1, reshuffle_each_iteration=False).batch(16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="cache_features=True runs the frozen body")
        fine_tune(model(), ["head"], same, LOSS, keras.optimizers.SGD(0.1), verbose=0,
                  cache_features=True)


def test_a_cached_window_of_a_reshuffling_stream_is_the_stream_the_uncached_run_reads():
    """A stray iterator made before the window used up one reshuffle: the cached run then
    trained on another order than the uncached one."""
    x, y = data()

    def stream():
        return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(50, seed=2).batch(
            16).repeat()

    runs = []
    for cache in (True, False):
        m = two_branch_head()  # no Dropout in the body: caching changes nothing else
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the reshuffle, which the window does read
            h = fine_tune(m, ["cat", "head"], stream(), LOSS, keras.optimizers.Adam(0.01),
                          epochs=3, steps_per_epoch=4, verbose=0, cache_features=cache)
        runs.append((m, h))
    (a, ha), (b, hb) = runs
    assert_variables_close(a, b, FLOAT32_LONG)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], **FLOAT32_LONG)
