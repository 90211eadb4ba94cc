"""Fine-tune on several machines: the same `fine_tune` call, under MultiWorkerMirroredStrategy.

Run it as is: it starts two worker processes on this machine, which talk over
127.0.0.1 only, then one single-process run on the same data, and compares:

    python examples/multi_worker_fine_tune.py

On real machines, start one worker per machine with the same cluster in
TF_CONFIG and its own task index (here the launcher does that for you):

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}' python train.py

Each worker builds the model and the optimizer under `strategy.scope()` and
calls `fine_tune(..., strategy=strategy)` with the same data and seed; every
global batch of `batch_size` examples is split across the workers, the
gradients are summed over them, and every worker ends with the same weights.
"""

import argparse
import json
import os
import socket
import subprocess
import sys

EPOCHS, BATCH, SEED = 3, 32, 0


def free_ports(n):
    """n free TCP ports on the loopback interface."""
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def train(strategy, out):
    """Build, fine-tune the head, save the weights to ``out`` (an .npz file)."""
    import keras
    import numpy as np

    import tapelab

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 20)).astype("float32")
    y = (x[:, :4].sum(axis=1) > 0).astype("int64") + 2 * (x[:, 4] > 0)
    with strategy.scope():
        keras.utils.set_random_seed(SEED)
        model = keras.Sequential([
            keras.Input((20,)),
            keras.layers.Dense(64, activation="relu", name="body"),
            keras.layers.Dense(32, activation="relu", name="neck"),
            keras.layers.Dense(4, name="head"),
        ])
        optimizer = keras.optimizers.Adam(1e-2)
    history = tapelab.fine_tune(
        model, ["neck", "head"], (x, y),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer,
        epochs=EPOCHS, batch_size=BATCH, seed=SEED, strategy=strategy, verbose=0)
    np.savez(out, *[np.asarray(w) for w in model.weights], loss=np.array(history.history["loss"]))
    print(f"{os.path.basename(out)}: losses {[round(v, 4) for v in history.history['loss']]}")


def worker(index, ports, out):
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index},
    })
    import tensorflow as tf

    train(tf.distribute.MultiWorkerMirroredStrategy(), out)


def single(out):
    import tensorflow as tf

    train(tf.distribute.get_strategy(), out)


def launch(out_dir, timeout=300):
    """Run two workers and one single process; return the three .npz paths."""
    os.makedirs(out_dir, exist_ok=True)
    ports = free_ports(2)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    me = os.path.abspath(__file__)
    outs = [os.path.join(out_dir, f"worker{i}.npz") for i in range(2)]
    procs = [subprocess.Popen([sys.executable, me, "--worker", str(i), "--ports",
                               ",".join(map(str, ports)), "--out", outs[i]], env=env)
             for i in range(2)]
    try:
        codes = [p.wait(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            p.kill()
    if any(codes):
        raise RuntimeError(f"a worker failed: exit codes {codes}")
    ref = os.path.join(out_dir, "single.npz")
    subprocess.run([sys.executable, me, "--single", "--out", ref], env=env, check=True,
                   timeout=timeout)
    return [*outs, ref]


def compare(paths):
    """The largest absolute difference of each run's weights from the first run's."""
    import numpy as np

    runs = [np.load(p) for p in paths]
    return [max(float(np.abs(r[k] - runs[0][k]).max()) for k in runs[0].files) for r in runs[1:]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=int)
    parser.add_argument("--ports")
    parser.add_argument("--single", action="store_true")
    parser.add_argument("--out", default="build/multi_worker")
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, [int(p) for p in args.ports.split(",")], args.out)
    elif args.single:
        single(args.out)
    else:
        paths = launch(args.out)
        workers, ref = compare(paths)
        print(f"worker 1 vs worker 0: max |difference| {workers:.1e}")
        print(f"single process vs worker 0: max |difference| {ref:.1e}")


if __name__ == "__main__":
    main()
