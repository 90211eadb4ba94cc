"""Checkpoints never destroy a good checkpoint (tapelab/fine_tuning/resume.py).

Each case of the issue "Nothing lost, nothing stale": a damaged index or
checkpoint, a bad directory, a changed run, two writers, a NaN, a refused call.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_loop import HEAD, LOSS, data, model, values

from tapelab import fine_tune

pytestmark = pytest.mark.filterwarnings("ignore::tapelab.SelectionWarning")


def run(directory, epochs, m=None, **kwargs):
    m = m or model()
    h = fine_tune(m, HEAD, data(), LOSS, kwargs.pop("opt", keras.optimizers.Adam(0.01)),
                  epochs=epochs, batch_size=16, verbose=0, checkpoint_dir=directory, **kwargs)
    return m, h


def listing(directory):
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir() if p.is_file()}


@pytest.fixture
def two_epochs(tmp_path):
    """A directory after 2 of 4 epochs: ckpt-1 and ckpt-2; and the uninterrupted run."""
    run(tmp_path, 2)
    full, _ = run(tmp_path.parent / (tmp_path.name + "-full"), 4)
    return tmp_path, full


def damage(path, how):
    if how == "delete":
        path.unlink()
    elif how == "garbage":
        path.write_text("garbage!!\n")
    else:  # truncate
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


@pytest.mark.parametrize("how", ["delete", "garbage"])
def test_a_lost_index_resumes_from_the_newest_checkpoint_not_from_scratch(two_epochs, how):
    directory, full = two_epochs
    damage(directory / "checkpoint", how)
    said = {"delete": "is missing", "garbage": "cannot be read"}[how]
    with pytest.warns(UserWarning, match=rf"index file 'checkpoint' {said}\. Resuming from ckpt-2"):
        m, h = run(directory, 4)
    assert h.params["initial_epoch"] == 2
    assert all(np.array_equal(a, b) for a, b in zip(values(m), values(full)))


@pytest.mark.parametrize("part, how", [("index", "delete"), ("index", "truncate"),
                                       ("data-00000-of-00001", "truncate")])
def test_a_damaged_latest_checkpoint_resumes_from_the_intact_one(two_epochs, part, how):
    directory, _ = two_epochs
    damage(directory / f"ckpt-2.{part}", how)
    expected = r"ckpt-2 is damaged \(.*\), kept as ckpt-2\.\*\.damaged" \
        if (part, how) != ("index", "delete") else "its index points at ckpt-2, which is missing"
    with pytest.warns(UserWarning, match=rf"{expected}\. Resuming from ckpt-1, the newest intact"):
        _, h = run(directory, 4)
    assert h.params["initial_epoch"] == 1 and len(h.history["loss"]) == 4
    kept = sorted(p.name for p in directory.iterdir() if p.name.endswith(".damaged"))
    assert kept == ([] if how == "delete" else
                    ["ckpt-2.data-00000-of-00001.damaged", "ckpt-2.index.damaged"])


def test_when_every_checkpoint_is_damaged_nothing_is_changed(two_epochs):
    directory, _ = two_epochs
    for n in (1, 2):
        damage(directory / f"ckpt-{n}.data-00000-of-00001", "truncate")
    files, m = listing(directory), model()
    before = values(m)
    with pytest.raises(ValueError, match=r"none of them can be read: ckpt-2 \(.*\); ckpt-1 \("):
        run(directory, 4, m)
    assert listing(directory) == files
    assert all(np.array_equal(a, b) for a, b in zip(before, values(m)))


def bad_directory(tmp_path, kind):
    afile = tmp_path / "a-file"
    afile.write_text("mine")
    return {"a file": afile, "under a file": afile / "checkpoints", "empty": ""}[kind]


@pytest.mark.parametrize("kind", ["a file", "under a file", "empty"])
def test_a_bad_directory_is_refused_before_the_first_step(tmp_path, kind):
    m, opt = model(), keras.optimizers.Adam(0.01)
    before = values(m)
    match = "an empty one would mean the current" if kind == "empty" else "a directory that "
    with pytest.raises(ValueError, match=match):
        run(bad_directory(tmp_path, kind), 2, m, opt=opt)
    assert all(np.array_equal(a, b) for a, b in zip(before, values(m)))
    assert not opt.built  # nothing was built either
    assert (tmp_path / "a-file").read_text() == "mine"


@pytest.mark.parametrize("setting, value", [("seed", 1), ("batch_size", 8), ("shuffle", False)])
def test_a_changed_setting_is_refused_naming_both_values(two_epochs, setting, value):
    directory, _ = two_epochs
    files = listing(directory)
    defaults = {"seed": 0, "batch_size": 16, "shuffle": True}
    m, opt = model(), keras.optimizers.Adam(0.01)
    kwargs = {k: v for k, v in {setting: value}.items() if k != "batch_size"}
    with pytest.raises(ValueError, match=rf"written with {setting}={defaults[setting]!r}, this run "
                                         rf"has {setting}={value!r}"):
        fine_tune(m, HEAD, data(), LOSS, opt, epochs=4, verbose=0, checkpoint_dir=directory,
                  batch_size=value if setting == "batch_size" else 16, **kwargs)
    assert listing(directory) == files and not opt.built


def test_another_learning_rate_says_which_one_is_used(two_epochs):
    directory, _ = two_epochs
    opt = keras.optimizers.Adam(0.5)
    with pytest.warns(UserWarning, match=r"restores the optimizer with learning_rate=0\.01; the "
                                         r"optimizer passed asked for 0\.5\. The restored 0\.01 "
                                         r"is used"):
        run(directory, 4, opt=opt)
    assert float(opt.learning_rate) == pytest.approx(0.01)


def test_more_finished_epochs_than_asked_are_reported(two_epochs):
    directory, _ = two_epochs
    with pytest.warns(UserWarning, match=r"holds 2 finished epochs, more than epochs=1: nothing "
                                         r"was trained"):
        _, h = run(directory, 1)
    assert len(h.history["loss"]) == 2


def sleeper():
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_second_writer_is_refused_and_a_stale_lock_taken_over(tmp_path):
    import socket

    lock = tmp_path / ".tapelab-fine_tune.lock"
    other = sleeper()
    try:
        lock.write_text(f"{socket.gethostname()} {other.pid}\n")
        m, opt = model(), keras.optimizers.Adam(0.01)
        with pytest.raises(ValueError, match=rf"process {other.pid} on this machine is writing "
                                             r"checkpoints to it"):
            run(tmp_path, 1, m, opt=opt)
        assert not opt.built and lock.read_text().split()[1] == str(other.pid)
    finally:
        other.kill()
        other.wait()
    _, h = run(tmp_path, 1)  # its process is gone: the lock is stale and taken over
    assert len(h.history["loss"]) == 1 and not lock.exists()  # released after the run


def test_a_nan_never_replaces_the_last_finite_checkpoint(tmp_path):
    x, y = data()
    x = x.copy()
    m = model()
    fine_tune(m, HEAD, (x, y), LOSS, keras.optimizers.SGD(0.01), epochs=1, batch_size=16,
              verbose=0, checkpoint_dir=tmp_path)
    x[3, 0] = np.nan  # from epoch 2 on, the loss and then the weights are NaN
    with pytest.warns(RuntimeWarning, match=r"Epoch 2: the loss or a weight is not finite.*no "
                                            r"checkpoint was written: checkpoint_dir keeps ckpt-1"):
        h = fine_tune(m, HEAD, (x, y), LOSS, keras.optimizers.SGD(0.01), epochs=4, batch_size=16,
                      verbose=0, checkpoint_dir=tmp_path)
    assert len(h.history["loss"]) == 2  # stopped after the NaN epoch
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-1")
    reader = tf.train.load_checkpoint(str(tmp_path / "ckpt-1"))
    assert all(np.isfinite(reader.get_tensor(k)).all()
               for k, dtype in reader.get_variable_to_dtype_map().items() if dtype.is_floating)


def test_a_model_of_another_strategy_is_refused_with_nothing_half_built():
    one_device = tf.distribute.OneDeviceStrategy("/cpu:0")
    with one_device.scope():
        m = model()
        opt = keras.optimizers.SGD(0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"`strategy` must be that strategy\. Received: "
                                         r"strategy=None"):
        fine_tune(m, HEAD, data(), LOSS, opt, verbose=0)
    assert not opt.built
    h = fine_tune(m, HEAD, data(), LOSS, opt, verbose=0, strategy=one_device)  # the retry works
    assert len(h.history["loss"]) == 1 and opt.built


def test_the_lock_is_released_when_a_run_fails(tmp_path):
    with pytest.raises(ValueError, match="`cache_features=True` needs the selected layers"):
        fine_tune(model(), ["neck"], data(), LOSS, keras.optimizers.Adam(0.01), verbose=0,
                  cache_features=True, checkpoint_dir=tmp_path)  # refused after the lock
    assert not (tmp_path / ".tapelab-fine_tune.lock").exists()
    _, h = run(tmp_path, 1)
    assert len(h.history["loss"]) == 1


def test_other_data_or_optimizer_settings_are_refused(two_epochs):
    directory, _ = two_epochs
    x, y = data()
    with pytest.raises(ValueError, match=r"written with examples=50, this run has examples=40"):
        fine_tune(model(), HEAD, (x[:40], y[:40]), LOSS, keras.optimizers.Adam(0.01), epochs=4,
                  batch_size=16, verbose=0, checkpoint_dir=directory)
    with pytest.raises(ValueError, match=r"its optimizer had beta_1=0\.9, this run's has "
                                         r"beta_1=0\.5"):
        run(directory, 4, opt=keras.optimizers.Adam(0.01, beta_1=0.5))


def test_a_dataset_run_is_not_refused_for_settings_that_do_not_apply(tmp_path):
    x, y = data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    fine_tune(model(), HEAD, ds, LOSS, keras.optimizers.Adam(0.01), epochs=1, verbose=0,
              checkpoint_dir=tmp_path)
    h = fine_tune(model(), HEAD, ds, LOSS, keras.optimizers.Adam(0.01), epochs=2, verbose=0,
                  batch_size=8, shuffle=False, checkpoint_dir=tmp_path)  # ignored for a Dataset
    assert h.params["initial_epoch"] == 1


def test_a_lock_of_this_very_process_is_another_run_and_refused(tmp_path):
    import socket

    (tmp_path / ".tapelab-fine_tune.lock").write_text(f"{socket.gethostname()} {os.getpid()}\n")
    with pytest.raises(ValueError, match=r"this process \(another run in it, in another thread\)"):
        run(tmp_path, 1)
