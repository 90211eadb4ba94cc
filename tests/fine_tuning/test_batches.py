"""The batches of each epoch (tapelab/fine_tuning/batches.py): orders fixed by (seed, epoch),
Datasets, steps_per_epoch streams resumed where they were, and memory no larger than fit's."""

import os

import fit_peer as peer
import keras
import numpy as np
import pytest
import tensorflow as tf
from test_loop import HEAD, LOSS, data, model
from tolerance import EXACT, FLOAT32_LONG, assert_variables_close

from tapelab import fine_tune
from tapelab.fine_tuning.batches import order


def test_shuffle_order_is_fixed_by_seed_and_epoch():
    assert not np.array_equal(order(50, 0, 0), order(50, 0, 1))
    assert np.array_equal(order(50, 3, 2), order(50, 3, 2))
    assert sorted(order(50, 0, 0)) == list(range(50))
    x, y = data()
    runs = [fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.SGD(0.05), epochs=2,
                      batch_size=16, seed=s, verbose=0).history["loss"] for s in (0, 0, 1)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_a_dataset_of_batches_equals_the_same_arrays_unshuffled():
    x, y = data()
    a, b = model(), model()
    fine_tune(a, HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=2, batch_size=16,
              shuffle=False, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    fine_tune(b, HEAD, ds, LOSS, keras.optimizers.Adam(0.01), epochs=2, verbose=0)
    assert_variables_close(a, b, EXACT)  # the same compiled step on the same batches


def test_steps_per_epoch_on_a_repeated_dataset_continues_the_stream():
    x, y = peer.digits_like()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
    fit_h, ref, h, ours = peer.pair({"data": ds, "steps_per_epoch": 4, "epochs": 3})
    peer.assert_same(fit_h, ref, h, ours)


def test_steps_per_epoch_on_arrays_cuts_epochs_at_the_end_of_the_data_as_fit_does():
    # 96 examples in batches of 16: 6 batches; 4 per epoch -> 4, 2 (with fit's warning), 4
    with pytest.warns(UserWarning, match="ran out of data"):
        peer.assert_same(*peer.pair({"steps_per_epoch": 4, "epochs": 3}))


def test_a_dataset_that_can_be_iterated_once_warns_as_fit_and_keeps_the_history():
    x, y = peer.digits_like()

    def once():
        batches = iter([(x[i:i + 16], y[i:i + 16]) for i in range(0, 96, 16)])
        return tf.data.Dataset.from_generator(
            lambda: batches, output_signature=(tf.TensorSpec([None, 6], tf.float32),
                                               tf.TensorSpec([None], tf.int64)))
    with pytest.warns(UserWarning, match="ran out of data"):
        h = fine_tune(peer.model(), peer.HEAD, once(), peer.loss(), keras.optimizers.SGD(0.05), epochs=3,
                      verbose=0)
    assert len(h.history["loss"]) == 1 and np.isfinite(h.history["loss"][0])


def test_an_infinite_dataset_needs_steps_per_epoch_and_nothing_changes():
    x, y = peer.digits_like()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
    m = peer.model()
    before = [v.numpy().copy() for v in m.variables]
    for cache in (False, True):
        with pytest.raises(ValueError, match=r"`steps_per_epoch` must be given for an infinite"):
            fine_tune(m, ["head"], ds, peer.loss(), keras.optimizers.SGD(0.05), verbose=0,
                      cache_features=cache)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, m.variables))


@pytest.mark.parametrize("kind", ["repeat", "generator"])
def test_an_endless_dataset_with_steps_per_epoch_caches_what_the_run_reads(kind):
    """An endless Dataset of unknown size (from_generator with while True) and cache_features
    never returned; the same call without the cache took 0.2 s. The cache now holds the
    steps_per_epoch x epochs batches the run reads, and the result is the uncached run's."""
    x, y = peer.digits_like()

    def endless():
        while True:
            for i in range(0, len(x), 16):
                yield x[i:i + 16], y[i:i + 16]

    def dataset():
        if kind == "repeat":
            return tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
        return tf.data.Dataset.from_generator(endless, output_signature=(
            tf.TensorSpec([None, 6], tf.float32), tf.TensorSpec([None], tf.int64)))

    runs = []
    for cache in (False, True):
        m = peer.model()
        h = fine_tune(m, ["head"], dataset(), peer.loss(), keras.optimizers.SGD(0.05),
                      verbose=0, epochs=3, steps_per_epoch=4, cache_features=cache)
        runs.append((m, h))
    (a, ha), (b, hb) = runs
    assert_variables_close(a, b, FLOAT32_LONG)  # the body ran once on each batch, not per epoch
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], **FLOAT32_LONG)

@pytest.mark.slow  # two processes of their own, one epoch over 200 MiB each
def test_an_epoch_on_arrays_takes_no_more_memory_than_fits():
    """400 MB of arrays: fine_tune peaked at data + 1.16 GB, fit at data + 0.76 GB. Each
    epoch gathered a shuffled copy of all the data; now each batch is gathered when it is
    needed, as fit's array adapter does. Peak growth of one epoch, each in its own process."""
    import subprocess
    import sys
    from pathlib import Path

    child = Path(__file__).parent / "memory_child.py"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    growth = {}
    for how in ("fit", "fine_tune"):
        out = subprocess.run([sys.executable, str(child), how], env=env, check=True,
                             timeout=600, capture_output=True, text=True).stdout.split()
        growth[how], size = float(out[0]), float(out[1])
    assert size > 190
    # the old epoch grew by the whole data (221 MiB here); fit grows by some tens of MiB
    assert growth["fine_tune"] < growth["fit"] + 0.25 * size, (growth, size)
