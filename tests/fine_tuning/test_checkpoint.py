"""BackupAndResume (tapelab/fine_tuning/checkpoint.py): checkpoints never destroy a good one.

Through fine_tune's checkpoint_dir and through Keras fit: a damaged index or
checkpoint, a bad directory, a changed run, two writers, a NaN, a refused call, a
kill -9, a run stopped early. Where Keras's BackupAndRestore does the same job
right, the result is compared with it.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_loop import HEAD, LOSS, data, model, values
from tolerance import EXACT, assert_variables_close

import tapelab
from tapelab import BackupAndResume, fine_tune

pytestmark = pytest.mark.filterwarnings("ignore::tapelab.SelectionWarning")

HERE = Path(__file__).parent
CHILD = HERE / "loop_child.py"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
LOCK = ".tapelab-fine_tune.lock"


def run(directory, epochs, m=None, **kwargs):
    m = m or model()
    h = fine_tune(m, HEAD, kwargs.pop("data", None) or data(),
                  kwargs.pop("loss", LOSS), kwargs.pop("opt", keras.optimizers.Adam(0.01)),
                  epochs=epochs, batch_size=kwargs.pop("batch_size", 16), verbose=0,
                  checkpoint_dir=directory, **kwargs)
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


# ---------------------------------------------------------------- damage


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
    expected = r"ckpt-2 is damaged \(.*\), moved aside as ckpt-2\.\*\.damaged-N" \
        if (part, how) != ("index", "delete") else "its index points at ckpt-2, which is missing"
    with pytest.warns(UserWarning, match=rf"{expected}\. Resuming from ckpt-1, the newest intact"):
        _, h = run(directory, 4)
    assert h.params["initial_epoch"] == 1 and len(h.history["loss"]) == 4
    kept = sorted(p.name for p in directory.iterdir() if ".damaged" in p.name)
    assert kept == ([] if how == "delete" else
                    ["ckpt-2.data-00000-of-00001.damaged-1", "ckpt-2.index.damaged-1"])


def test_damaged_twice_keeps_both_copies_and_never_touches_a_users_file(tmp_path):
    """os.replace onto one `.damaged` name lost the first copy; a prefix match renamed
    the user's ckpt-2.notes.txt."""
    run(tmp_path, 2)
    (tmp_path / "ckpt-2.notes.txt").write_text("mine")
    first = (tmp_path / "ckpt-2.index").read_bytes()
    damage(tmp_path / "ckpt-2.index", "truncate")
    with pytest.warns(UserWarning, match="ckpt-2 is damaged"):
        run(tmp_path, 2)  # resumes ckpt-1, trains epoch 2 again: a new checkpoint
    newest = max(int(m[1]) for m in (re.match(r"ckpt-(\d+)\.index$", p.name)
                                      for p in tmp_path.iterdir()) if m)
    damage(tmp_path / f"ckpt-{newest}.index", "truncate")
    with pytest.warns(UserWarning, match=f"ckpt-{newest} is damaged"):
        run(tmp_path, 2)
    damaged = sorted(p.name for p in tmp_path.iterdir() if ".damaged" in p.name)
    assert "ckpt-2.index.damaged-1" in damaged and len(damaged) == 4, damaged
    assert (tmp_path / "ckpt-2.index.damaged-1").read_bytes() == first[: len(first) // 2]
    assert (tmp_path / "ckpt-2.notes.txt").read_text() == "mine"


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


# ---------------------------------------------------------------- what must match


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
    with pytest.raises(ValueError, match=rf"written with {setting}={defaults[setting]!r}, this run "
                                         rf"has {setting}={value!r}"):
        run(directory, 4, m, opt=opt, **{setting: value})
    assert listing(directory) == files and not opt.built


def test_a_changed_loss_class_weight_or_data_values_is_refused(two_epochs):
    """The loss jumped from 1.3 to 22.4 when a resumed run silently took another loss."""
    directory, _ = two_epochs
    files = listing(directory)
    x, y = data()
    cases = [
        ({"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=False)},
         r"written with loss_fn=\{'class': .*'from_logits': True.*this run has loss_fn=\{"),
        ({"loss": "sparse_categorical_crossentropy"},
         r"this run has loss_fn='sparse_categorical_crossentropy'"),
        ({"class_weight": {0: 1.0, 1: 2.0, 2: 1.0}},
         r"written with class_weight=None, this run has class_weight=\{'0': 1\.0, '1': 2\.0"),
        ({"data": (x + 1.0, y)}, (r"written with data values \(digest\)='[0-9a-f]+', this run "
                                 r"has data values \(digest\)='[0-9a-f]+'")),
        ({"data": (x[:40], y[:40])}, r"written with examples=50, this run has examples=40"),
        ({"metrics": ["accuracy"]}, r"written with metrics=None, this run has metrics=\['accuracy'\]"),
    ]
    for kwargs, match in cases:
        m = model()
        before = values(m)
        with pytest.raises(ValueError, match=match):
            run(directory, 4, m, **kwargs)
        assert all(np.array_equal(a, b) for a, b in zip(before, values(m)))
    assert listing(directory) == files


def test_another_optimizer_setting_is_refused(two_epochs):
    directory, _ = two_epochs
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


def test_another_learning_rate_says_which_one_is_used(two_epochs):
    directory, _ = two_epochs
    opt = keras.optimizers.Adam(0.5)
    with pytest.warns(UserWarning, match=r"restores the optimizer with learning_rate=0\.01; the "
                                         r"optimizer passed asked for 0\.5: the restored 0\.01 "
                                         r"is used"):
        run(directory, 4, opt=opt)
    assert float(opt.learning_rate) == pytest.approx(0.01)


def test_with_a_learning_rate_scheduler_the_warning_says_the_schedule_sets_it(tmp_path):
    """The warning said "the restored 0.05 is used", but the scheduler sets the rate, and
    the resumed run equals the uninterrupted one: say so."""
    def schedule(epoch, rate):
        return 0.05 / (epoch + 1)

    def go(directory, epochs, m=None):
        return run(directory, epochs, m, opt=keras.optimizers.SGD(0.1),
                   callbacks=[keras.callbacks.LearningRateScheduler(schedule)])

    go(tmp_path / "a", 2)
    with pytest.warns(UserWarning, match=r"LearningRateScheduler then sets the rate at each "
                                         r"epoch, as in an uninterrupted run"):
        resumed, hr = go(tmp_path / "a", 4)
    full, hf = go(tmp_path / "b", 4)
    np.testing.assert_allclose(hr.history["loss"], hf.history["loss"], **EXACT)
    assert all(np.array_equal(a, b) for a, b in zip(values(resumed), values(full)))


def test_more_finished_epochs_than_asked_are_reported(two_epochs):
    directory, _ = two_epochs
    with pytest.warns(UserWarning, match=r"holds 2 finished epochs, more than epochs=1: nothing "
                                         r"was trained"):
        _, h = run(directory, 1)
    assert len(h.history["loss"]) == 2


# ---------------------------------------------------------------- one writer


def holder(directory):
    """Another process that holds the directory's lock until killed."""
    code = ("import sys, time; sys.path.insert(0, sys.argv[2]);"
            "from tapelab.fine_tuning.checkpoint_files import Lock;"
            "lock = Lock(sys.argv[1]); lock.acquire(); print('HELD', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(directory),
                             str(HERE.parents[1])], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "HELD"
    return proc


def test_a_second_writer_is_refused_while_the_first_lives(tmp_path):
    other = holder(tmp_path)
    try:
        m, opt = model(), keras.optimizers.Adam(0.01)
        with pytest.raises(ValueError, match=rf"process {other.pid} on host "
                                             rf"'{re.escape(socket.gethostname())}' is writing "
                                             "checkpoints to it"):
            run(tmp_path, 1, m, opt=opt)
        assert not opt.built
    finally:
        other.kill()
        other.wait()
    _, h = run(tmp_path, 1)  # its process is gone, and the kernel dropped its lock
    assert len(h.history["loss"]) == 1 and not (tmp_path / LOCK).exists()  # released


@pytest.mark.parametrize("content", ["otherhost 4242\n", f"{socket.gethostname()} 1\n",
                                     "not a lock at all"])
def test_a_lock_file_nobody_holds_is_taken_whoever_wrote_it(tmp_path, content):
    """A pod restarted after kill -9 has another hostname; PID 1 is alive (init) but holds
    nothing: neither blocks the unattended resume."""
    (tmp_path / LOCK).write_text(content)
    _, h = run(tmp_path, 1)
    assert len(h.history["loss"]) == 1 and not (tmp_path / LOCK).exists()


def test_a_lock_of_this_very_process_is_another_run_and_refused(tmp_path):
    from tapelab.fine_tuning.checkpoint_files import Lock

    lock = Lock(str(tmp_path))
    lock.acquire()
    try:
        with pytest.raises(ValueError, match=r"this process \(another run in it, in another "
                                             r"thread\)"):
            run(tmp_path, 1)
    finally:
        lock.release()


def test_the_lock_is_released_when_a_run_fails(tmp_path):
    with pytest.raises(ValueError, match="`cache_features=True` needs the selected layers"):
        fine_tune(model(), ["neck"], data(), LOSS, keras.optimizers.Adam(0.01), verbose=0,
                  cache_features=True, checkpoint_dir=tmp_path)
    assert not (tmp_path / LOCK).exists()
    _, h = run(tmp_path, 1)
    assert len(h.history["loss"]) == 1


# ---------------------------------------------------------------- NaN, early stops


def nan_after(epoch_of_nan):
    """A loss that turns NaN from the given epoch on (the same function in every run)."""
    state = tf.Variable(0.0, trainable=False)

    def loss(y_true, y_pred):
        return LOSS(y_true, y_pred) + state * 0.0 + tf.math.log(1.0 - state)  # log 0 ... -inf
    return loss, state


class PoisonAt(keras.callbacks.Callback):
    def __init__(self, state, epoch):
        super().__init__()
        self.state, self.epoch = state, epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch + 1 >= self.epoch:
            self.state.assign(2.0)  # log(1 - 2) = NaN


def test_a_nan_never_replaces_the_last_finite_checkpoint(tmp_path):
    loss, state = nan_after(2)
    m = model()
    with pytest.warns(RuntimeWarning, match=r"Epoch 2: the loss \(nan\) is not finite.*no "
                                            r"checkpoint was written: checkpoint_dir keeps ckpt-1"):
        h = fine_tune(m, HEAD, data(), loss, keras.optimizers.SGD(0.01), epochs=4, batch_size=16,
                      verbose=0, checkpoint_dir=tmp_path, callbacks=[PoisonAt(state, 2)])
    assert len(h.history["loss"]) == 2  # stopped after the NaN epoch
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-1")
    reader = tf.train.load_checkpoint(str(tmp_path / "ckpt-1"))
    assert all(np.isfinite(reader.get_tensor(k)).all()
               for k, dtype in reader.get_variable_to_dtype_map().items() if dtype.is_floating)


def early_stopped(directory, callbacks_fit=False):
    """A run whose validation loss stops improving: EarlyStopping(patience=1,
    restore_best_weights=True) ends it early and puts the best weights back."""
    x, y = data()
    rng = np.random.default_rng(7)
    xv, yv = rng.normal(size=(30, 6)).astype("float32"), rng.integers(0, 3, 30)
    stop = keras.callbacks.EarlyStopping(patience=1, restore_best_weights=True)
    m = model()
    h = fine_tune(m, HEAD, (x, y), LOSS, keras.optimizers.Adam(0.2), epochs=12, batch_size=16,
                  verbose=0, validation_data=(xv, yv), callbacks=[stop],
                  checkpoint_dir=directory)
    return m, h, stop


def test_a_rerun_after_an_early_stop_returns_its_result_instead_of_training_on(tmp_path):
    """Rerunning the same call resumed after the early stop, trained two more epochs and
    returned worse weights. Keras fit with BackupAndRestore deletes its backup at the end,
    so its rerun reproduces run 1: so must this one."""
    first, h1, stop = early_stopped(tmp_path)
    assert 0 < stop.stopped_epoch < 11 and len(h1.history["loss"]) == stop.stopped_epoch + 1
    with pytest.warns(UserWarning, match=r"holds a run that stopped early after epoch "
                                         rf"{stop.stopped_epoch + 1}.*its final weights are "
                                         "restored and nothing was trained"):
        second, h2, _ = early_stopped(tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(values(first), values(second)))
    assert h2.history == h1.history
    # Keras deletes its backup at the end, so its rerun is a fresh run: the same result
    fresh, _, _ = early_stopped(None)
    assert all(np.array_equal(a, b) for a, b in zip(values(fresh), values(first)))


def test_fit_with_backup_and_resume_records_an_early_stop_too(tmp_path):
    x, y = data()
    rng = np.random.default_rng(7)
    xv, yv = rng.normal(size=(30, 6)).astype("float32"), rng.integers(0, 3, 30)

    def fit(callback_class, directory):
        m = model()
        m.compile(keras.optimizers.Adam(0.2), LOSS)
        stop = keras.callbacks.EarlyStopping(patience=1, restore_best_weights=True)
        h = m.fit(x, y, epochs=12, batch_size=16, shuffle=False, verbose=0,
                  validation_data=(xv, yv), callbacks=[stop, callback_class(directory)])
        return m, h

    ours1, _h1 = fit(BackupAndResume, tmp_path / "ours")
    ours2, h2 = fit(BackupAndResume, tmp_path / "ours")
    keras1, _ = fit(keras.callbacks.BackupAndRestore, tmp_path / "keras")
    keras2, _ = fit(keras.callbacks.BackupAndRestore, tmp_path / "keras")
    assert h2.epoch == []  # nothing trained: the recorded end
    for a, b, c, d in zip(values(ours1), values(ours2), values(keras1), values(keras2)):
        assert np.array_equal(a, b) and np.array_equal(a, c) and np.array_equal(c, d)


# ---------------------------------------------------------------- kill -9


def killed_then_resumed(mode, tmp_path, kill_at=11):
    """Run the child ``mode`` until it says KILL-ME at step ``kill_at`` (epoch 3, step 3),
    kill -9 it, run it again on the same directory, and run it once uninterrupted."""
    ckpt = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, str(CHILD), mode, str(ckpt),
                             str(tmp_path / "never.npz"), str(kill_at)],
                            env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "KILL-ME", line
        os.kill(proc.pid, signal.SIGKILL)  # a real kill -9, in the middle of epoch 3
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        proc.kill()
    assert (ckpt / "checkpoint").read_text().startswith('model_checkpoint_path: "ckpt-2"')
    for directory, out in ((ckpt, "resumed.npz"), (tmp_path / "fresh", "uninterrupted.npz")):
        subprocess.run([sys.executable, str(CHILD), mode, str(directory), str(tmp_path / out)],
                       env=ENV, check=True, timeout=300, stdout=subprocess.DEVNULL)
    return np.load(tmp_path / "resumed.npz"), np.load(tmp_path / "uninterrupted.npz")


@pytest.mark.slow
def test_fine_tune_killed_mid_epoch_then_rerun_ends_as_an_uninterrupted_run(tmp_path):
    resumed, full = killed_then_resumed("resume", tmp_path)
    assert full.files == resumed.files and len(full.files) > 8  # seed counters included
    for k in full.files:  # the same compiled step from the same restored values
        np.testing.assert_allclose(resumed[k], full[k], err_msg=k, **EXACT)
    assert len(full["loss"]) == 4


@pytest.mark.slow
def test_fit_with_backup_and_resume_killed_mid_epoch_resumes_exactly(tmp_path):
    """The callback in Keras fit: a real kill -9, then the same fit again."""
    resumed, full = killed_then_resumed("fit", tmp_path)
    assert list(resumed["epochs"]) == [2, 3] and list(full["epochs"]) == [0, 1, 2, 3]
    np.testing.assert_allclose(resumed["loss"], full["loss"][2:], **EXACT)
    weights = [k for k in full.files if k.startswith("arr_")]
    assert len(weights) > 10  # model variables (seed counters too) and optimizer variables
    for k in weights:
        np.testing.assert_allclose(resumed[k], full[k], err_msg=k, **EXACT)


# ---------------------------------------------------------------- the callback's own rules


def test_bad_arguments_are_refused_when_the_callback_is_made(tmp_path):
    with pytest.raises(ValueError, match=r"`directory` must name a directory"):
        BackupAndResume("")
    with pytest.raises(ValueError, match=r"`max_to_keep` must be an integer >= 2"):
        BackupAndResume(tmp_path, max_to_keep=1)
    with pytest.raises(TypeError, match=r"`settings` must be a dict of JSON values"):
        BackupAndResume(tmp_path, settings={"f": object()})
    with pytest.raises(TypeError, match=r"no NaN\)\. Received: settings=\{'lr': nan\}"):
        BackupAndResume(tmp_path, settings={"lr": float("nan")})  # never equal to itself
    assert BackupAndResume(tmp_path, max_to_keep=np.int64(3)).max_to_keep == 3
    with pytest.raises(ValueError, match="fine_tune adds its own"):
        fine_tune(model(), HEAD, data(), LOSS, "adam", callbacks=[BackupAndResume(tmp_path)])


def test_fit_settings_must_match_to_resume(tmp_path):
    x, y = data()

    def fit(settings, epochs):
        m = model()
        m.compile(keras.optimizers.SGD(0.1), LOSS)
        return m.fit(x, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0,
                     callbacks=[BackupAndResume(tmp_path, settings=settings)])

    fit({"batch_size": 16}, 1)
    with pytest.raises(ValueError, match=r"`directory` holds a checkpoint that does not fit this "
                                         r"run: it was written with batch_size=16, this run has "
                                         r"batch_size=8"):
        fit({"batch_size": 8}, 2)
    assert fit({"batch_size": 16}, 2).epoch == [1]


def test_the_public_name():
    assert tapelab.BackupAndResume is BackupAndResume


def test_resume_continues_where_the_checkpoint_stopped(tmp_path):
    x, y = data()
    a, b, c = model(), model(), model()
    full = fine_tune(a, HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=4, verbose=0)
    fine_tune(b, HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=2, verbose=0,
              checkpoint_dir=tmp_path)
    resumed = fine_tune(c, HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=4,
                        verbose=0, checkpoint_dir=tmp_path)
    # the same compiled step from the same restored values: bit for bit
    assert_variables_close(a, c, EXACT)
    assert resumed.history["loss"] == full.history["loss"] and resumed.epoch == [0, 1, 2, 3]
    assert resumed.params["initial_epoch"] == 2
    again = fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=4,
                      verbose=0, checkpoint_dir=tmp_path)  # all done: nothing to train
    assert again.history == full.history


@pytest.mark.parametrize("case, match", [
    ("wider", (r"its model variables differ at #6 \(neck/kernel\): \[\[16, 8\], "
               r"'float32'\] there, \[\[16, 9\], 'float32'\] here")),
    ("selection", "it holds 5 selected variables, this run has 2"),
    ("optimizer", "it was written with optimizer Adam, this run has SGD"),
])
def test_a_checkpoint_that_does_not_fit_is_refused_and_nothing_changes(tmp_path, case, match):
    x, y = data()
    fine_tune(model(), HEAD, (x, y), LOSS, keras.optimizers.Adam(0.01), epochs=1, verbose=0,
              checkpoint_dir=tmp_path)
    files = listing(tmp_path)
    m, layers, opt = model(), HEAD, keras.optimizers.Adam(0.01)
    if case == "wider":
        keras.utils.set_random_seed(1)
        m = keras.models.clone_model(m, clone_function=lambda layer: (
            keras.layers.Dense(9, use_bias=False, name="neck") if layer.name == "neck"
            else layer.__class__.from_config(layer.get_config())))
    elif case == "selection":
        layers = ["head"]
    else:
        opt = keras.optimizers.SGD(0.01)
    before = values(m)
    with pytest.raises(ValueError, match=match):
        fine_tune(m, layers, (x, y), LOSS, opt, epochs=3, verbose=0, checkpoint_dir=tmp_path)
    assert listing(tmp_path) == files
    assert all(np.array_equal(u, v) for u, v in zip(before, values(m)))


def test_a_directory_of_other_checkpoints_is_refused(tmp_path):
    v = tf.Variable(1.0)
    tf.train.CheckpointManager(tf.train.Checkpoint(v=v), tmp_path, 1).save()
    with pytest.raises(ValueError, match="it was not written by tapelab's BackupAndResume"):
        fine_tune(model(), HEAD, data(), LOSS, keras.optimizers.SGD(0.1), verbose=0,
                  checkpoint_dir=tmp_path)


@pytest.mark.parametrize("kind", ["finite", "repeat"])
def test_a_dataset_stream_with_steps_per_epoch_resumes_where_it_was(tmp_path, kind):
    """A resumed run restarted the stream: uninterrupted losses [0.981, 1.568, 0.746],
    resumed after epoch 1 [0.981, 0.847, 1.458]. The checkpoint now holds the stream's
    position, and the resumed run reads up to it (each run builds its own Dataset, as a
    new process would; this one reshuffles on every pass)."""
    x, y = data()

    def go(directory, epochs):
        m = model()
        ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
            50, seed=3, reshuffle_each_iteration=True).batch(16)
        ds = ds.repeat() if kind == "repeat" else ds
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a finite stream runs out mid-epoch, as in fit
            h = fine_tune(m, HEAD, ds, LOSS, keras.optimizers.Adam(0.01), epochs=epochs,
                          steps_per_epoch=3, verbose=0, checkpoint_dir=directory)
        return m, h

    full, hf = go(tmp_path / "full", 4)
    go(tmp_path / "cut", 1)
    go(tmp_path / "cut", 3)  # interrupted twice: after epochs 1 and 3
    resumed, hr = go(tmp_path / "cut", 4)
    assert hr.params["initial_epoch"] == 3
    np.testing.assert_allclose(hr.history["loss"], hf.history["loss"], **EXACT)
    assert all(np.array_equal(a, b) for a, b in zip(values(resumed), values(full)))


class Crash(keras.callbacks.Callback):
    """Stops fit with an exception at the end of the second epoch it runs (before the
    checkpoint callback, after it in the list, saves that epoch)."""

    def __init__(self):
        super().__init__()
        self.seen = 0

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1
        if self.seen == 2:
            raise RuntimeError("the cell was stopped")


def test_a_fit_that_raised_leaves_no_lock_in_the_way_of_the_next_run(tmp_path):
    """Keras calls no hook when fit raises, so on_train_end never released the lock: the
    next fit in the same thread (a notebook's retry) takes it over, with a new callback or
    the same one; a run in another thread is still refused."""
    import threading

    x, y = data()

    def fit(callback, extra=(), epochs=4):
        m = model()
        m.compile(keras.optimizers.SGD(0.1), LOSS)
        return m, m.fit(x, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0,
                        callbacks=[*extra, callback])

    first = BackupAndResume(tmp_path)
    with pytest.raises(RuntimeError, match="the cell was stopped"):
        fit(first, [Crash()])
    errors = []
    other = threading.Thread(target=lambda: errors.append(
        pytest.raises(ValueError, lambda: fit(BackupAndResume(tmp_path)))))
    other.start()
    other.join()
    assert "is writing checkpoints to it" in str(errors[0].value)  # another thread: refused
    _, h = fit(BackupAndResume(tmp_path))  # this thread: the crashed fit is over
    assert h.epoch == [1, 2, 3]  # epoch 0 was saved; the crash came before epoch 1's save
    with pytest.raises(RuntimeError):
        fit(first, [Crash()], epochs=6)  # the same callback object, used again
    _, h = fit(first, epochs=6)
    assert h.epoch[-1] == 5 and not (tmp_path / LOCK).exists()


def compiled(make=model, optimizer=None, metrics=()):
    m = make()
    m.compile(optimizer or keras.optimizers.SGD(0.1), LOSS, metrics=list(metrics))
    return m


def test_fit_needs_a_built_model_and_says_so_leaving_no_lock(tmp_path):
    """As Keras's BackupAndRestore: a checkpoint is restored into built variables. It failed
    with "Unknown variable" and left the directory locked."""
    x, y = data()

    def unbuilt():
        keras.utils.set_random_seed(1)
        return keras.Sequential([keras.layers.Dense(5), keras.layers.Dense(3)])

    m = compiled(unbuilt)
    with pytest.raises(ValueError, match=r"needs the model built before fit.*Build it first"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[BackupAndResume(tmp_path)])
    assert not (tmp_path / LOCK).exists()
    m = compiled(unbuilt)
    m(x[:1])
    assert m.fit(x, y, epochs=2, verbose=0, callbacks=[BackupAndResume(tmp_path)]).epoch == [0, 1]


def test_a_resumed_fit_that_raised_leaves_no_initial_epoch_behind(tmp_path):
    """fit reads the resumed epoch once; a later plain fit trained [2, 3, 4] of 5."""
    x, y = data()
    compiled().fit(x, y, epochs=2, verbose=0, callbacks=[BackupAndResume(tmp_path)])
    m = compiled()
    with pytest.raises(RuntimeError):
        m.fit(x, y, epochs=6, verbose=0, callbacks=[Crash(), BackupAndResume(tmp_path)])
    assert m.fit(x, y, epochs=5, verbose=0).epoch == [0, 1, 2, 3, 4]


def test_a_metric_that_gives_a_vector_is_logged_and_saved(tmp_path):
    """F1Score(average=None) crashed the epoch's end: float() of a vector."""
    x, y = data()
    y1 = keras.utils.to_categorical(y, 3)

    def head_loss(t, p):
        return keras.losses.CategoricalCrossentropy(from_logits=True)(t, p)

    f1 = keras.metrics.F1Score(average=None)
    h = fine_tune(model(), HEAD, (x, y1), head_loss, "sgd", epochs=2, verbose=0,
                  metrics=[f1], checkpoint_dir=tmp_path / "a")
    assert np.asarray(h.history["f1_score"][0]).shape == (3,)
    m = model()
    m.compile(keras.optimizers.SGD(0.1), head_loss, metrics=[keras.metrics.F1Score(average=None)])
    hf = m.fit(x, y1, epochs=2, verbose=0, callbacks=[BackupAndResume(tmp_path / "b")])
    assert np.asarray(hf.history["f1_score"][0]).shape == (3,)


class Needs(keras.optimizers.SGD):
    """A custom optimizer whose config cannot rebuild it (a required argument)."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor


class Unregistered(keras.optimizers.schedules.LearningRateSchedule):
    def __call__(self, step):
        return 0.05


@pytest.mark.parametrize("make", [lambda: Needs(2.0, learning_rate=0.1),
                                  lambda: keras.optimizers.SGD(Unregistered())])
def test_optimizers_that_cannot_be_copied_from_their_config_still_checkpoint(tmp_path, make):
    """The optimizer's variables were probed on a copy made from its config: a custom
    optimizer with required arguments, or an unregistered schedule, failed."""
    run(tmp_path, 1, opt=make())
    _, h = run(tmp_path, 2, opt=make())
    assert h.params["initial_epoch"] == 1 and len(h.history["loss"]) == 2


def test_another_momentum_is_named_not_counted(two_epochs):
    directory, _ = two_epochs
    with pytest.raises(ValueError, match=r"its optimizer had beta_2=0\.999, this run's has "
                                         r"beta_2=0\.9"):
        run(directory, 4, opt=keras.optimizers.Adam(0.01, beta_2=0.9))
    run(tmp := directory.parent / "sgd", 1, opt=keras.optimizers.SGD(0.1))
    with pytest.raises(ValueError, match=r"its optimizer had momentum=0\.0, this run's has "
                                         r"momentum=0\.9"):
        run(tmp, 2, opt=keras.optimizers.SGD(0.1, momentum=0.9))


def test_a_buffer_that_is_already_infinite_does_not_stop_the_run(tmp_path):
    """A frozen buffer holding -inf stopped every checkpointed run after epoch 1: the NaN
    rule watches what a step can make non-finite, from a finite start."""
    m = model()
    bn = m.get_layer("bn_body")
    bn.moving_variance.assign(np.full(bn.moving_variance.shape, np.inf, "float32"))
    _, h = run(tmp_path, 3, m, opt=keras.optimizers.SGD(0.01))
    assert len(h.history["loss"]) == 3


def test_a_changed_learning_rate_schedule_is_refused(tmp_path):
    def adam(decay):
        return keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.01, 10, decay))

    run(tmp_path, 1, opt=adam(0.9))
    with pytest.raises(ValueError, match=r"its optimizer had learning_rate=.*'decay_rate': 0\.9"):
        run(tmp_path, 2, opt=adam(0.5))


def test_the_lock_messages_name_the_argument_and_a_folder_at_its_path(tmp_path):
    from tapelab.fine_tuning.checkpoint_files import Lock

    held = Lock(str(tmp_path), "directory")
    held.acquire()
    try:
        m = compiled()
        x, y = data()
        with pytest.raises(ValueError, match=r"^`directory` is in use"):
            m.fit(x, y, epochs=1, verbose=0, callbacks=[BackupAndResume(tmp_path)])
    finally:
        held.release()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / LOCK).mkdir()
    with pytest.raises(ValueError, match=r"`checkpoint_dir`'s lock file .* cannot be opened "
                                         r"\(IsADirectoryError"):
        run(tmp_path / "other", 1)
