"""tapelab against JAX on the Autodiff Cookbook's problems, side by side in one process.

Run:  .venv/bin/python benchmarks/bench_jax.py   (needs the `bench` extra: pip install -e '.[bench]')
Each case times ``tapelab.jit(...)`` as a plain graph (the default), the same with
XLA (``jit_compile=True``), and ``jax.jit(...)`` on the same float32 inputs,
interleaved, after the first (tracing) call; each row's ratio is tapelab / JAX.
Goals (issue "The JAX Autodiff Cookbook on tapelab"), each with ``jit``:
- hvp at n = 3000 and per-example gradients: within 1.1x JAX;
- Jacobians and Hessians at n = 200 to 1000: within 2x;
- the cookbook's tiny functions: within 50x (TensorFlow's per-call floor);
- the vmap cases (a matrix-Jacobian product of 128 rows): within 2x.
Both of tapelab's rows carry the goal, so each says whether it meets it. Two more
rows measure choices: eager against jit, and tf.function's own call against the
call of its traced concrete function (what tapelab.jit does).
"""

import itertools
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np
import tensorflow as tf
from bench_core import interleaved, row, start

import tapelab

try:
    import jax
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - the optional `bench` extra
    jax = None

RNG = np.random.default_rng(0)
RESULTS = []  # (label, ratio, goal)


def versus(label, ours, theirs, repeats, number, goal):
    """Time ``tapelab.jit(ours)`` plain and with XLA against ``jax.jit(theirs)``.

    ``ours`` and ``theirs`` are ``(function, args)`` pairs; two rows, one per setting.
    """
    (f, args), (g, jargs) = ours, theirs
    plain, xla, compiled = tapelab.jit(f), tapelab.jit(f, jit_compile=True), jax.jit(g)
    times = interleaved({"jit": lambda: plain(*args), "xla": lambda: xla(*args),
                         "jax": lambda: jax.block_until_ready(compiled(*jargs))},
                        repeats, number)
    for name, setting in (("jit", "jit"), ("xla", "jit(jit_compile=True)")):
        ratio = row(f"{label}: {setting} vs jax.jit", times[name], times["jax"], goal=goal)
        RESULTS.append((f"{label}: {setting}", ratio, goal))


def both(*arrays):
    """Each NumPy array as a TF tensor and as a JAX array (the same float32 values)."""
    return [tf.constant(a) for a in arrays], [jnp.asarray(a) for a in arrays]


INPUTS = np.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15],
                   [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]], np.float32)
TARGETS = np.array([1.0, 1.0, 0.0, 1.0], np.float32)


def tf_loss(W, b):
    p = 0.5 * (tf.tanh((tf.linalg.matvec(INPUTS, W) + b) / 2) + 1)
    return -tf.reduce_sum(tf.math.log(p * TARGETS + (1 - p) * (1 - TARGETS)))


def jax_loss(W, b):
    p = 0.5 * (jnp.tanh((jnp.dot(INPUTS, W) + b) / 2) + 1)
    return -jnp.sum(jnp.log(p * TARGETS + (1 - p) * (1 - TARGETS)))


def tiny(repeats):
    """The cookbook's logistic-loss gradient (4 examples, 3 weights) and grad(tanh)."""
    (W, b), (jW, jb) = both(RNG.normal(size=3).astype(np.float32), np.float32(0.1))
    versus("cookbook logistic grad", (tapelab.grad(tf_loss, (0, 1)), (W, b)),
           (jax.grad(jax_loss, (0, 1)), (jW, jb)), repeats, 200, goal=50)
    (x,), (jx,) = both(np.float32(2.0))
    versus("scalar grad(tanh)", (tapelab.grad(tf.tanh), (x,)), (jax.grad(jnp.tanh), (jx,)),
           repeats, 200, goal=50)
    eager, ours = tapelab.grad(tf_loss, (0, 1)), tapelab.jit(tapelab.grad(tf_loss, (0, 1)))
    raw = tf.function(tapelab.grad(tf_loss, (0, 1)))
    concrete = raw.get_concrete_function(W, b)
    times = interleaved({"jit": lambda: ours(W, b), "eager": lambda: eager(W, b),
                         "tf.function": lambda: raw(W, b),
                         "concrete": lambda: concrete(W, b)}, repeats, 200)
    row("cookbook logistic grad: eager vs jit", times["eager"], times["jit"])
    row("per-call floor: tf.function call vs its concrete function", times["tf.function"],
        times["concrete"])
    row("per-call floor: tapelab.jit vs tf.function call", times["jit"], times["tf.function"])


def square(n):
    (A, x), (jA, jx) = both((RNG.normal(size=(n, n)) / np.sqrt(n)).astype(np.float32),
                            RNG.normal(size=n).astype(np.float32))
    return A, x, jA, jx


def jacobians(repeats, n=200):
    A, x, jA, jx = square(n)

    def tf_f(x):
        return tf.tanh(tf.linalg.matvec(A, x))

    def jax_f(x):
        return jnp.tanh(jA @ x)

    def tf_s(x):
        return tf.reduce_sum(tf.tanh(tf.linalg.matvec(A, x)) ** 2)

    def jax_s(x):
        return jnp.sum(jnp.tanh(jA @ x) ** 2)

    versus(f"jacrev {n}->{n}", (tapelab.jacrev(tf_f), (x,)), (jax.jacrev(jax_f), (jx,)),
           repeats, 10, goal=2)
    versus(f"jacfwd {n}->{n}", (tapelab.jacfwd(tf_f), (x,)), (jax.jacfwd(jax_f), (jx,)),
           repeats, 10, goal=2)
    versus(f"hessian {n}->1", (tapelab.hessian(tf_s), (x,)), (jax.hessian(jax_s), (jx,)),
           repeats, 10, goal=2)


def hvps(repeats):
    for n, goal in ((1000, 2), (3000, 1.1)):
        A, x, jA, jx = square(n)
        (v,), (jv,) = both(RNG.normal(size=n).astype(np.float32))

        def tf_s(x, A=A):
            return tf.reduce_sum(tf.tanh(tf.linalg.matvec(A, x)) ** 2)

        def jax_s(x, jA=jA):
            return jnp.sum(jnp.tanh(jA @ x) ** 2)

        versus(f"hvp n = {n}", (lambda x, v, f=tf_s: tapelab.hvp(f, x, v), (x, v)),
               (lambda x, v, f=jax_s: jax.jvp(jax.grad(f), (x,), (v,))[1], (jx, jv)),
               repeats, 10, goal=goal)


def per_example(repeats):
    sizes = (784, 256, 10)
    layers = [((RNG.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32),
               np.zeros(b, np.float32)) for a, b in itertools.pairwise(sizes)]
    params = {"w0": layers[0][0], "b0": layers[0][1], "w1": layers[1][0], "b1": layers[1][1]}
    tp = {k: tf.constant(v) for k, v in params.items()}
    jp = {k: jnp.asarray(v) for k, v in params.items()}

    def tf_loss(p, x, y):
        h = tf.nn.relu(tf.linalg.matvec(p["w0"], x, transpose_a=True) + p["b0"])
        logits = tf.linalg.matvec(p["w1"], h, transpose_a=True) + p["b1"]
        return -tf.reduce_sum(tf.nn.log_softmax(logits) * y)

    def jax_loss(p, x, y):
        h = jax.nn.relu(x @ p["w0"] + p["b0"])
        return -jnp.sum(jax.nn.log_softmax(h @ p["w1"] + p["b1"]) * y)

    for batch in (64, 256):
        (x, y), (jx, jy) = both(RNG.normal(size=(batch, 784)).astype(np.float32),
                                np.eye(10, dtype=np.float32)[RNG.integers(0, 10, batch)])
        versus(f"per-example grads, MLP 784-256-10, batch {batch}",
               (tapelab.vmap(tapelab.grad(tf_loss), in_axes=(None, 0, 0)), (tp, x, y)),
               (jax.vmap(jax.grad(jax_loss), in_axes=(None, 0, 0)), (jp, jx, jy)),
               repeats, 3, goal=1.1)


def mjp(vjp, vmap, f):
    """The cookbook's vmap_mjp: pull back every row of M along f at x."""
    def product(x, M):
        _, vjp_fn = vjp(f, x)
        return vmap(vjp_fn)(M)[0]
    return product


def vmap_products(repeats):
    """The cookbook's matrix-Jacobian (vmap of a vjp) and Jacobian-matrix products, 128 rows,
    then the same product at 200 -> 200, where the work, not the call, sets the time."""
    (W, U, S), (jW, jU, jS) = both(RNG.normal(size=3).astype(np.float32),
                                   RNG.normal(size=(128, 4)).astype(np.float32),
                                   RNG.normal(size=(128, 3)).astype(np.float32))

    def tf_f(W):
        return tf.sigmoid(tf.linalg.matvec(INPUTS, W))

    def jax_f(W):
        return jax.nn.sigmoid(INPUTS @ W)

    versus("vmap of a vjp (matrix-Jacobian product), 128 rows",
           (mjp(tapelab.vjp, tapelab.vmap, tf_f), (W, U)), (mjp(jax.vjp, jax.vmap, jax_f), (jW, jU)),
           repeats, 50, goal=2)
    versus("vmap of a jvp (Jacobian-matrix product), 128 rows",
           (lambda W, M: tapelab.vmap(lambda s: tapelab.jvp(tf_f, (W,), (s,))[1])(M), (W, S)),
           (lambda W, M: jax.vmap(lambda s: jax.jvp(jax_f, (W,), (s,))[1])(M), (jW, jS)),
           repeats, 50, goal=2)
    n = 200
    A, x, jA, jx = square(n)
    (M,), (jM,) = both(RNG.normal(size=(128, n)).astype(np.float32))
    versus(f"vmap of a vjp, {n}->{n}, 128 rows",
           (mjp(tapelab.vjp, tapelab.vmap, lambda x: tf.tanh(tf.linalg.matvec(A, x))), (x, M)),
           (mjp(jax.vjp, jax.vmap, lambda x: jnp.tanh(jA @ x)), (jx, jM)), repeats, 20, goal=2)
    eager, ours = mjp(tapelab.vjp, tapelab.vmap, tf_f), tapelab.jit(mjp(tapelab.vjp, tapelab.vmap,
                                                                        tf_f))
    times = interleaved({"eager": lambda: eager(W, U), "jit": lambda: ours(W, U)}, repeats, 20)
    row("vmap of a vjp, 128 rows: eager (vjp, then vmap) vs jit", times["eager"], times["jit"])


def main():
    repeats = start(__doc__)
    if jax is None:
        print("JAX is not installed: pip install -e '.[bench]' (jax for CPU) to run these rows")
        return
    print(f"JAX {jax.__version__} ({jax.default_backend()}); ratio = tapelab / JAX")
    tiny(repeats)
    jacobians(repeats)
    hvps(repeats)
    per_example(repeats)
    vmap_products(repeats)
    missed = [f"{label} {ratio:.2f}x > {goal}x" for label, ratio, goal in RESULTS if ratio > goal]
    print("all goals met" if not missed else "over the goal: " + "; ".join(missed))


if __name__ == "__main__":
    main()
