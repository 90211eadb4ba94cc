"""fine_tune under tf.distribute (tapelab/fine_tuning/distribute.py), in processes of their
own: MirroredStrategy on two logical CPUs, and two MultiWorkerMirroredStrategy workers on
127.0.0.1 (trained, then stopped and resumed from the chief's checkpoint)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tolerance import FLOAT32, largest_allowed

pytestmark = pytest.mark.slow  # each test runs TensorFlow in new processes

HERE = Path(__file__).parent
CHILD = HERE / "loop_child.py"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def child(*args, timeout=300):
    subprocess.run([sys.executable, str(CHILD), *map(str, args)], env=ENV, check=True,
                   timeout=timeout, stdout=subprocess.DEVNULL)


def test_mirrored_strategy_on_two_cpus_equals_one_device(tmp_path):
    child("mirrored", tmp_path / "out.json")
    r = json.loads((tmp_path / "out.json").read_text())
    assert r["replicas"] == 2
    # two replicas sum the gradients in another order than one device: float32 round-off
    allowed = largest_allowed(FLOAT32)
    assert max(r["max_diff"], r["max_diff_loss_object"], r["max_diff_sgd"]) < allowed, r
    np.testing.assert_allclose(r["loss_two"], r["loss_one"], **FLOAT32)
    np.testing.assert_allclose(r["loss_object"], r["loss_one"], **FLOAT32)
    assert r["loss_fresh"] == r["loss_one"]
    assert r["graph_calls"] == 2  # one trace, which runs loss_fn once per replica
    assert "must be built under `strategy.scope()`" in r["errors"]["outside_scope"]
    assert "Received: strategy=None" in r["errors"]["no_strategy"]
    one, two = r["validated_one"], r["validated_two"]  # metrics and validation data too
    assert sorted(two) == sorted(one) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key in one:
        np.testing.assert_allclose(two[key], one[key], **FLOAT32, err_msg=key)


def example():
    spec = importlib.util.spec_from_file_location(
        "multi_worker_fine_tune", HERE.parents[1] / "examples" / "multi_worker_fine_tune.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_multi_worker_processes_on_loopback_equal_one_process(tmp_path):
    mw = example()
    paths = mw.launch(str(tmp_path))
    worker1, single = mw.compare(paths)
    assert worker1 == 0.0  # the two workers hold identical weights: one all-reduce result
    assert single < largest_allowed(FLOAT32)  # one process sums in another order
    assert len(np.load(paths[0])["loss"]) == mw.EPOCHS


def test_two_workers_stopped_then_resumed_from_the_chiefs_checkpoint(tmp_path):
    mw = example()
    paths = mw.launch(str(tmp_path), resume=True)
    worker1, single = mw.compare(paths)
    assert worker1 == 0.0 and single < largest_allowed(FLOAT32)
    for p in paths[:2]:
        run = np.load(p)
        assert int(run["initial_epoch"]) == mw.EPOCHS - 1  # resumed, not trained again
        assert len(run["loss"]) == mw.EPOCHS
    assert (tmp_path / "checkpoints" / f"ckpt-{mw.EPOCHS}.index").exists()  # the chief's
