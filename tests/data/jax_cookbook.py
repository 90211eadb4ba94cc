"""JAX's own answers to the Autodiff Cookbook's examples, stored for tests/test_cookbook.py.

Run with JAX installed (``pip install -e '.[bench]'``):

    .venv/bin/python tests/data/jax_cookbook.py

It writes ``jax_cookbook.npz`` beside this file: the inputs (float32, from a
seeded NumPy generator, so both sides see the same numbers) and what ``jax``
returns for each example of https://docs.jax.dev/en/latest/notebooks/autodiff_cookbook.html
(float32 on CPU). The test suite reads the file and never needs JAX; each test
also compares with a reference of its own (a closed form, float64 finite
differences or raw TF), so a wrong stored answer cannot pass unnoticed.
"""

import os
import tempfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("jax_cookbook.npz")


def inputs():
    """The cookbook's inputs, drawn once with NumPy (JAX's PRNG is not TF's)."""
    rng = np.random.default_rng(2026)
    f32 = np.float32
    x = {
        "inputs": np.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15],
                            [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]], f32),
        "targets": np.array([1.0, 1.0, 0.0, 1.0], f32),
        "W": rng.normal(size=3).astype(f32),
        "b": np.asarray(rng.normal(), f32),
        "unitvec": rng.normal(size=3).astype(f32),
        "v": rng.normal(size=3).astype(f32),
        "u": rng.normal(size=4).astype(f32),
        "X": rng.normal(size=(30, 40)).astype(f32),
        "V": rng.normal(size=(30, 40)).astype(f32),
        "U": rng.normal(size=(128, 4)).astype(f32),
        "S": rng.normal(size=(128, 3)).astype(f32),
        "coefficients": rng.uniform(size=(3, 4)).astype(f32),  # a, b, c, d per seed
        "points": rng.uniform(size=(3, 2)).astype(f32),  # x, y per seed
        "directions": rng.uniform(size=(3, 2)).astype(f32),  # c, d per seed
        "A": np.array([[5.0, 2.0 + 3j, 5j], [2.0 - 3j, 7.0, 1.0 + 7j],
                       [-5j, 1.0 - 7j, 12.0]], np.complex64),
    }
    x["unitvec"] /= np.sqrt(np.vdot(x["unitvec"], x["unitvec"]))
    return x


def answers(x):
    """JAX's results, one entry per example (the test's names)."""
    import jax
    import jax.numpy as jnp

    W, b, inputs_, targets = x["W"], x["b"], x["inputs"], x["targets"]

    def sigmoid(z):
        return 0.5 * (jnp.tanh(z / 2) + 1)

    def predict(W, b, inputs):
        return sigmoid(jnp.dot(inputs, W) + b)

    def loss(W, b):
        preds = predict(W, b, inputs_)
        label_probs = preds * targets + (1 - preds) * (1 - targets)
        return -jnp.sum(jnp.log(label_probs))

    def f(W):
        return predict(W, b, inputs_)

    def tanh_sq(X):
        return jnp.sum(jnp.tanh(X) ** 2)

    def hvp(f, primals, tangents):
        return jax.jvp(jax.grad(f), primals, tangents)[1]

    def control_flow(x):
        try:
            if x < 3:
                return 2 * x ** 3
            raise ValueError
        except ValueError:
            return jnp.pi * x

    _, vjp_fun = jax.vjp(f, W)
    out = {
        "grad_tanh": [jax.grad(jnp.tanh)(2.0), jax.grad(jax.grad(jnp.tanh))(2.0),
                      jax.grad(jax.grad(jax.grad(jnp.tanh)))(2.0)],
        "W_grad": jax.grad(loss)(W, b),
        "b_grad": jax.grad(loss, 1)(W, b),
        "loss": loss(W, b),
        "jacobian": jax.jacrev(f)(W),
        "jacobian_b": jax.jacrev(lambda p: predict(p["W"], p["b"], inputs_))(
            {"W": W, "b": b})["b"],
        "hessian": jax.hessian(f)(W),
        "jvp": jax.jvp(f, (W,), (x["v"],))[1],
        "vjp": vjp_fun(x["u"])[0],
        "hvp": hvp(tanh_sq, (x["X"],), (x["V"],)),
        "mjp": jax.vmap(vjp_fun)(x["U"])[0],
        "jmp": jax.vmap(lambda s: jax.jvp(f, (W,), (s,))[1])(x["S"]),
        "jit_vjp": jax.jit(jax.vjp(control_flow, 4.0)[1])(1.0)[0],
        "grad_abs2": jax.grad(lambda z: jnp.real(z) ** 2 + jnp.imag(z) ** 2)(3.0 + 4j),
        "grad_sin": jax.grad(jnp.sin, holomorphic=True)(3.0 + 4j),
        "grad_conj": jax.grad(jnp.conjugate, holomorphic=True)(3.0 + 4j),
        "cholesky": jax.grad(lambda X: jnp.sum((jnp.linalg.cholesky(X)
                                                - jnp.sin(jnp.linalg.cholesky(X))) ** 2),
                             holomorphic=True)(x["A"]),
    }
    complex_jvp, complex_vjp = [], []
    for (a, b_, c, d), (px, py), (tc, td) in zip(x["coefficients"], x["points"],
                                                   x["directions"]):
        def fun(z, a=a, b_=b_, c=c, d=d):
            re, im = jnp.real(z), jnp.imag(z)
            return (a * re + b_ * im) + (c * re + d * im) * 1j

        z = jnp.asarray(px + py * 1j, jnp.complex64)
        direction = jnp.asarray(tc + td * 1j, jnp.complex64)
        complex_jvp.append(jax.jvp(fun, (z,), (direction,))[1])
        complex_vjp.append(jax.vjp(fun, z)[1](direction)[0])
    out["complex_jvp"], out["complex_vjp"] = complex_jvp, complex_vjp
    return {k: np.asarray(v) for k, v in out.items()}


def main():
    import jax

    x = inputs()
    stored = {f"in_{k}": v for k, v in x.items()}
    stored.update({f"jax_{k}": v for k, v in answers(x).items()})
    stored["jax_version"] = np.array(jax.__version__)
    fd, tmp = tempfile.mkstemp(dir=OUT.parent, suffix=".npz")
    os.close(fd)
    np.savez(tmp, **stored)
    os.chmod(tmp, 0o644)
    os.replace(tmp, OUT)  # never a half-written file
    print(f"wrote {OUT.name}: {len(stored)} arrays, jax {jax.__version__}")


if __name__ == "__main__":
    main()
