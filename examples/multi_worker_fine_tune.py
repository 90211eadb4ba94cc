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

With `--resume`, the two workers first run 2 of the 3 epochs with a
`checkpoint_dir` (as if the job stopped there), then two new workers resume
from it; they end where the uninterrupted single process does. The chief
(worker 0) writes the checkpoints; the other worker writes a private copy
inside the folder; all workers read it, so it must be on a shared file system.
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


def train(strategy, out, epochs=EPOCHS, checkpoint_dir=None):
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
        epochs=epochs, batch_size=BATCH, seed=SEED, strategy=strategy, verbose=0,
        checkpoint_dir=checkpoint_dir)
    np.savez(out, *[np.asarray(w) for w in model.weights], loss=np.array(history.history["loss"]),
             initial_epoch=history.params["initial_epoch"])
    print(f"{os.path.basename(out)}: losses {[round(v, 4) for v in history.history['loss']]}, "
          f"{history.params['initial_epoch']} epoch(s) restored")


def worker(index, ports, out, epochs=EPOCHS, checkpoint_dir=None):
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index},
    })
    import tensorflow as tf

    train(tf.distribute.MultiWorkerMirroredStrategy(), out, epochs, checkpoint_dir)


def single(out):
    import tensorflow as tf

    train(tf.distribute.get_strategy(), out)


def _workers(out_dir, tag, epochs, checkpoint_dir, env, timeout):
    """Run the two workers to the end; return their .npz paths."""
    ports = free_ports(2)
    outs = [os.path.join(out_dir, f"{tag}{i}.npz") for i in range(2)]
    extra = ["--epochs", str(epochs)] + (["--checkpoint", checkpoint_dir] if checkpoint_dir else [])
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", str(i),
                               "--ports", ",".join(map(str, ports)), "--out", outs[i], *extra],
                              env=env)
             for i in range(2)]
    try:
        codes = [p.wait(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            p.kill()
    if any(codes):
        raise RuntimeError(f"a worker failed: exit codes {codes}")
    return outs


def launch(out_dir, timeout=300, resume=False):
    """Two workers (with resume: stopped after 2 epochs, then resumed), then one
    single process; return the .npz paths: worker 0, worker 1, single process."""
    os.makedirs(out_dir, exist_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    checkpoint_dir = os.path.join(out_dir, "checkpoints") if resume else None
    if resume:
        _workers(out_dir, "stopped", EPOCHS - 1, checkpoint_dir, env, timeout)
    outs = _workers(out_dir, "worker", EPOCHS, checkpoint_dir, env, timeout)
    ref = os.path.join(out_dir, "single.npz")
    subprocess.run([sys.executable, os.path.abspath(__file__), "--single", "--out", ref],
                   env=env, check=True, timeout=timeout)
    return [*outs, ref]


def compare(paths):
    """The largest absolute difference of each run's weights from the first run's."""
    import numpy as np

    runs = [np.load(p) for p in paths]
    weights = [k for k in runs[0].files if k.startswith("arr_")]
    return [max(float(np.abs(r[k] - runs[0][k]).max()) for k in weights) for r in runs[1:]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=int)
    parser.add_argument("--ports")
    parser.add_argument("--single", action="store_true")
    parser.add_argument("--out", default="build/multi_worker")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--checkpoint")
    parser.add_argument("--resume", action="store_true",
                        help="stop the workers after 2 epochs, then resume them")
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, [int(p) for p in args.ports.split(",")], args.out, args.epochs,
               args.checkpoint)
    elif args.single:
        single(args.out)
    else:
        paths = launch(args.out, resume=args.resume)
        workers, ref = compare(paths)
        print(f"worker 1 vs worker 0: max |difference| {workers:.1e}")
        print(f"single process vs worker 0: max |difference| {ref:.1e}")


if __name__ == "__main__":
    main()
