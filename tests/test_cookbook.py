"""JAX's Autodiff Cookbook on tapelab, call for call.

https://docs.jax.dev/en/latest/notebooks/autodiff_cookbook.html, ported cell by
cell: ``jax.grad`` becomes ``tapelab.grad``, ``jnp.tanh`` ``tf.tanh``, and so on.
Each example is compared twice: with JAX's own answer on the same float32
inputs (``tests/data/jax_cookbook.npz``, written by ``tests/data/jax_cookbook.py``
with JAX installed; the suite never needs JAX), and with a reference of its own,
computed independently: a closed form in float64, float64 finite differences or
raw TF. Names are ``test_cNN_*`` for the cookbook's runnable cells, in its order
(32), and ``test_rN_*`` for six close relatives a user writes next.

What changed beyond the names, each on purpose:
- ``targets`` is float (TF does not multiply floats by booleans);
- ``jnp.vstack`` of the tuples ``vjp_fn`` returns is ``tf.stack`` of their
  first entries;
- ``value_and_grad(loss, (0, 1))(W, b)`` is ``value_and_gradient(loss, W, b)``
  (tapelab's evaluates at a point);
- complex numbers follow TensorFlow's convention, documented in
  ``tapelab/transforms.py``: reverse mode gives the conjugate of JAX's
  (``vjp_fn(c) == conj(jax_vjp_fn(conj(c)))``; ``grad`` of ``|z|**2`` at
  ``3+4j`` is ``6+8j``, JAX's ``6-8j``), except ``grad(f, holomorphic=True)``,
  which returns JAX's ``f'(z)``. Forward mode (``jvp``) is the same in both.
"""

import collections
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT32, FLOAT64

import tapelab
from tapelab import grad, hessian, jacfwd, jacrev, jit, jvp, vjp, vmap

DATA = np.load(Path(__file__).parent / "data" / "jax_cookbook.npz")
IN = {k[3:]: DATA[k] for k in DATA.files if k.startswith("in_")}
JAX = {k[4:]: DATA[k] for k in DATA.files if k.startswith("jax_")}
W, b = tf.constant(IN["W"]), tf.constant(IN["b"])
INPUTS, TARGETS = IN["inputs"], IN["targets"]


# an HVP is a second derivative summed over 1200 float32 terms: TF versions differ in its
# last bits by a few 1e-6 absolute on elements near 0 (seen on TF 2.16 against 2.21)
HVP = {"rtol": 1e-5, "atol": 1e-5}


def close(ours, theirs, tolerance=FLOAT32):
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), **tolerance)


def like_jax(ours, name, tolerance=FLOAT32):
    """Our float32 answer against JAX's on the same float32 inputs."""
    close(ours, JAX[name], tolerance)


# The cookbook's functions, in TF (the dtype follows W, so float64 copies work too)
def sigmoid(x):
    return 0.5 * (tf.tanh(x / 2) + 1)


def predict(W, b, inputs):
    return sigmoid(tf.linalg.matvec(tf.cast(inputs, W.dtype), W) + b)


def loss(W, b):
    preds = predict(W, b, INPUTS)
    targets = tf.cast(TARGETS, preds.dtype)
    label_probs = preds * targets + (1 - preds) * (1 - targets)
    return -tf.reduce_sum(tf.math.log(label_probs))


def f(W):
    return predict(W, b, INPUTS)


def tanh_sq(X):
    return tf.reduce_sum(tf.tanh(X) ** 2)


# Independent references: closed forms in float64
X64, T64 = INPUTS.astype(np.float64), TARGETS.astype(np.float64)


def p64(W_=IN["W"], b_=IN["b"]):
    return 1 / (1 + np.exp(-(X64 @ np.float64(W_) + np.float64(b_))))


def loss_grads64():
    """d(-sum log p^t (1-p)^(1-t)) = (p - t) dz: dW = X^T (p - t), db = sum(p - t)."""
    r = p64() - T64
    return X64.T @ r, r.sum()


def jacobian64():
    """dp_i / dW_j = p_i (1 - p_i) X_ij."""
    p = p64()
    return (p * (1 - p))[:, None] * X64


def hessian64():
    """d2 p_i / dW_j dW_k = p_i (1 - p_i) (1 - 2 p_i) X_ij X_ik."""
    p = p64()
    return (p * (1 - p) * (1 - 2 * p))[:, None, None] * X64[:, :, None] * X64[:, None, :]


def tanh_sq_hvp64(X, V):
    """sum tanh(x)^2 has a diagonal Hessian: 2 sech^4 - 4 tanh^2 sech^2."""
    t = np.tanh(np.float64(X))
    s2 = 1 - t ** 2
    return (2 * s2 ** 2 - 4 * t ** 2 * s2) * V


# ----- Gradients --------------------------------------------------------------------------

def test_c01_grad_of_tanh():
    got = grad(tf.tanh)(2.0)
    close(got, JAX["grad_tanh"][0])
    close(got, 1 - np.tanh(2.0) ** 2)


def test_c02_grad_of_grad_and_third_order():
    t = np.tanh(2.0)
    second, third = grad(grad(tf.tanh))(2.0), grad(grad(grad(tf.tanh)))(2.0)
    close(second, JAX["grad_tanh"][1])
    close(third, JAX["grad_tanh"][2])
    close(second, -2 * t * (1 - t ** 2))
    close(third, (1 - t ** 2) * (6 * t ** 2 - 2))


def test_c03_setup_loss_value():
    like_jax(loss(W, b), "loss")
    close(loss(W, b), -np.sum(np.log(np.where(T64 == 1, p64(), 1 - p64()))))


def test_c04_grad_with_argnums():
    dW, db = loss_grads64()
    for W_grad in (grad(loss, argnums=0)(W, b), grad(loss)(W, b)):
        like_jax(W_grad, "W_grad")
        close(W_grad, dW)
    b_grad = grad(loss, 1)(W, b)
    like_jax(b_grad, "b_grad")
    close(b_grad, db)
    W_grad, b_grad = grad(loss, (0, 1))(W, b)
    close(W_grad, dW)
    close(b_grad, db)


def test_c05_grad_of_a_dict():
    def loss2(params_dict):
        return loss(params_dict["W"], params_dict["b"])

    g = grad(loss2)({"W": W, "b": b})
    assert sorted(g) == ["W", "b"]
    like_jax(g["W"], "W_grad")
    like_jax(g["b"], "b_grad")


def test_c06_value_and_grad():
    loss_value, (W_grad, b_grad) = tapelab.value_and_gradient(loss, W, b)
    close(loss_value, loss(W, b), {"rtol": 0, "atol": 0})
    like_jax(W_grad, "W_grad")
    like_jax(b_grad, "b_grad")


def test_c07_finite_differences_by_hand():
    eps = 1e-4
    W64, b64 = tf.constant(IN["W"], tf.float64), tf.constant(IN["b"], tf.float64)
    b_grad_numerical = (loss(W64, b64 + eps / 2.0) - loss(W64, b64 - eps / 2.0)) / eps
    close(grad(loss, 1)(W64, b64), b_grad_numerical, {"rtol": 1e-7, "atol": 1e-9})
    unitvec = tf.constant(IN["unitvec"], tf.float64)
    W_numerical = (loss(W64 + eps / 2.0 * unitvec, b64)
                   - loss(W64 - eps / 2.0 * unitvec, b64)) / eps
    autodiff = tf.reduce_sum(grad(loss)(W64, b64) * unitvec)
    close(autodiff, W_numerical, {"rtol": 1e-7, "atol": 1e-9})


def test_c08_check_grads_to_second_order():
    result = tapelab.check_gradient(loss, W, b, order=2)
    result.assert_ok()  # float32 at its default tolerance, 1e-2
    assert {c.check for c in result.comparisons} == {
        "rev order 1, source 0", "rev order 1, source 1", "rev order 2", "fwd order 1",
        "fwd order 2"}
    # Measured 4.5e-4: float32 central differences at delta 1/128 (its default).
    assert result.max_rel_error < 5e-3
    tapelab.check_gradient(loss, tf.cast(W, tf.float64), tf.cast(b, tf.float64),
                           order=2).assert_ok()


def hvp_revrev(f, x, v):
    """The cookbook's first hvp: reverse over reverse."""
    return grad(lambda x: tf.reduce_sum(grad(f)(x) * v))(x)


def test_c09_hvp_with_grad_of_grad():
    X, V = tf.constant(IN["X"]), tf.constant(IN["V"])
    got = hvp_revrev(tanh_sq, X, V)
    like_jax(got, "hvp", HVP)
    close(got, tanh_sq_hvp64(IN["X"], IN["V"]), HVP)
    close(tapelab.hvp(tanh_sq, X, V), got)  # tapelab's own


def test_c10_jacfwd_and_jacrev():
    for J in (jacfwd(f)(W), jacrev(f)(W)):
        assert J.shape == (4, 3)
        like_jax(J, "jacobian")
        close(J, jacobian64())


def test_c11_jacrev_of_a_dict():
    def predict_dict(params, inputs):
        return predict(params["W"], params["b"], inputs)

    J_dict = jacrev(predict_dict)({"W": W, "b": b}, INPUTS)
    assert [k for k in J_dict] == ["W", "b"]
    like_jax(J_dict["W"], "jacobian")
    like_jax(J_dict["b"], "jacobian_b")
    p = p64()
    close(J_dict["b"], p * (1 - p))


def test_c12_hessian_as_jacfwd_of_jacrev():
    def hessian_(f):
        return jacfwd(jacrev(f))

    H = hessian_(f)(W)
    assert H.shape == (4, 3, 3)
    like_jax(H, "hessian")
    close(H, hessian64())
    close(hessian(f)(W), H)  # tapelab's own, for a vector-valued f as jax.hessian


# ----- How it's made: jvp and vjp ---------------------------------------------------------

def test_c13_jvp():
    v = tf.constant(IN["v"])
    y, u = jvp(f, (W,), (v,))
    close(y, p64())
    like_jax(u, "jvp")
    close(u, jacobian64() @ IN["v"].astype(np.float64))


def test_c14_vjp():
    _y, vjp_fun = vjp(f, W)
    u = tf.constant(IN["u"])
    (v,) = vjp_fun(u)
    like_jax(v, "vjp")
    close(v, IN["u"].astype(np.float64) @ jacobian64())


def test_c15_vector_valued_gradients():
    def vgrad(f, x):
        y, vjp_fn = vjp(f, x)
        return vjp_fn(tf.ones(y.shape))[0]

    got = vgrad(lambda x: 3 * x ** 2, tf.ones((2, 2)))
    assert got.numpy().tolist() == [[6.0, 6.0], [6.0, 6.0]]


def test_c16_hvp_reverse_over_reverse_again():
    X, V = tf.constant(IN["X"][:3]), tf.constant(IN["V"][:3])
    close(hvp_revrev(tanh_sq, X, V), tanh_sq_hvp64(IN["X"][:3], IN["V"][:3]))


def hvp_fwdrev(f, primals, tangents):
    """Forward over reverse."""
    return jvp(grad(f), primals, tangents)[1]


def hvp_revfwd(f, primals, tangents):
    """Reverse over forward: grad of a function of a tuple returns a tuple."""
    g = lambda primals: jvp(f, primals, tangents)[1]
    return grad(g)(primals)


def test_c17_hvp_forward_over_reverse():
    X, V = tf.constant(IN["X"]), tf.constant(IN["V"])
    got = hvp_fwdrev(tanh_sq, (X,), (V,))
    like_jax(got, "hvp", HVP)
    close(got, tanh_sq_hvp64(IN["X"], IN["V"]), HVP)


def test_c18_hvp_against_the_full_hessian():
    X, V = tf.constant(IN["X"]), tf.constant(IN["V"])
    ans1 = hvp_fwdrev(tanh_sq, (X,), (V,))
    H = jacfwd(jacrev(tanh_sq))(X)
    assert H.shape == (30, 40, 30, 40)
    ans2 = tf.tensordot(H, V, 2)
    close(ans1, ans2, {"rtol": 1e-4, "atol": 1e-4})  # the cookbook's own tolerance


def test_c19_hvp_reverse_over_forward():
    X, V = tf.constant(IN["X"]), tf.constant(IN["V"])
    (got,) = hvp_revfwd(tanh_sq, (X,), (V,))
    like_jax(got, "hvp", HVP)


def test_c20_the_three_hvps_agree():
    """The cookbook times these; timings live in benchmarks/bench_jax.py."""
    X, V = tf.constant(IN["X"]), tf.constant(IN["V"])
    a = hvp_fwdrev(tanh_sq, (X,), (V,))
    close(hvp_revfwd(tanh_sq, (X,), (V,))[0], a)
    close(hvp_revrev(tanh_sq, X, V), a)


# ----- Composing VJPs, JVPs and vmap ------------------------------------------------------

def test_c21_matrix_jacobian_products():
    def loop_mjp(f, x, M):
        _y, vjp_fun = vjp(f, x)
        return tf.stack([vjp_fun(mi)[0] for mi in M])

    def vmap_mjp(f, x, M):
        _y, vjp_fun = vjp(f, x)
        (outs,) = vmap(vjp_fun)(M)
        return outs

    U = tf.constant(IN["U"])
    loop_vs, vmap_vs = loop_mjp(f, W, M=U), vmap_mjp(f, W, M=U)
    close(loop_vs, vmap_vs)
    like_jax(vmap_vs, "mjp")
    close(vmap_vs, IN["U"].astype(np.float64) @ jacobian64())


def test_c22_jacobian_matrix_products():
    def loop_jmp(f, W, M):
        return tf.stack([jvp(f, (W,), (mi,))[1] for mi in M])

    def vmap_jmp(f, W, M):
        _jvp = lambda s: jvp(f, (W,), (s,))[1]
        return vmap(_jvp)(M)

    S = tf.constant(IN["S"])
    loop_vs, vmap_vs = loop_jmp(f, W, M=S), vmap_jmp(f, W, M=S)
    close(loop_vs, vmap_vs)
    like_jax(vmap_vs, "jmp")
    close(vmap_vs, IN["S"].astype(np.float64) @ jacobian64().T)


def test_c23_our_jacrev():
    def our_jacrev(f):
        def jacfun(x):
            y, vjp_fun = vjp(f, x)
            (J,) = vmap(vjp_fun, in_axes=0)(tf.eye(len(y)))
            return J
        return jacfun

    close(jacrev(f)(W), our_jacrev(f)(W))
    close(our_jacrev(f)(W), jacobian64())


def test_c24_our_jacfwd():
    def our_jacfwd(f):
        def jacfun(x):
            _jvp = lambda s: jvp(f, (x,), (s,))[1]
            Jt = vmap(_jvp, in_axes=1)(tf.eye(len(x)))
            return tf.transpose(Jt)
        return jacfun

    close(jacfwd(f)(W), our_jacfwd(f)(W))
    close(our_jacfwd(f)(W), jacobian64())


def test_c25_jit_of_a_vjp_of_python_control_flow():
    def f(x):
        try:
            if x < 3:
                return 2 * x ** 3
            raise ValueError
        except ValueError:
            return np.pi * x

    _y, f_vjp = vjp(f, 4.0)
    (got,) = jit(f_vjp)(1.0)
    like_jax(got, "jit_vjp")
    assert float(got) == pytest.approx(np.pi, rel=1e-6)
    _y, f_vjp = vjp(f, 2.0)  # the other branch: 6 x^2 = 24
    assert float(jit(f_vjp)(1.0)[0]) == 24.0


# ----- Complex numbers --------------------------------------------------------------------

def test_c26_a_complex_function_is_a_pair_of_real_ones():
    """The cookbook's f(z) = u(x, y) + i v(x, y) and g(x, y) = (u, v): same values."""
    u = lambda x, y: x * y
    v = lambda x, y: x - y

    def f(z):
        x, y = tf.math.real(z), tf.math.imag(z)
        return tf.complex(u(x, y), v(x, y))

    def g(x, y):
        return (u(x, y), v(x, y))

    z = tf.constant(0.5 + 2j, tf.complex64)
    close(f(z), complex(*[float(t) for t in g(0.5, 2.0)]))


def linear_complex(seed):
    """The cookbook's check(seed): f(z) = u + iv with u, v linear in x, y; a point and
    a direction; and d(h, i), the derivative of u or v in x (0) or y (1), as a float
    (a TF float tensor times 1j is a TypeError)."""
    (a, b_, c_, d_), (x, y), (c, d) = (IN["coefficients"][seed], IN["points"][seed],
                                       IN["directions"][seed])
    a, b_, c_, d_, x, y, c, d = (float(t) for t in (a, b_, c_, d_, x, y, c, d))

    def fun(z):
        re, im = tf.math.real(z), tf.math.imag(z)
        return tf.complex(a * re + b_ * im, c_ * re + d_ * im)

    u, v = (lambda x, y: a * x + b_ * y), (lambda x, y: c_ * x + d_ * y)
    return fun, complex(x, y), (c, d), lambda h, i: float(grad(h, i)(x, y)), u, v


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_c27_complex_jvp_is_jaxs(seed):
    fun, z, (c, d), d_, u, v = linear_complex(seed)
    _, ans = jvp(fun, (z,), (complex(c, d),))
    expected = (d_(u, 0) * c + d_(u, 1) * d + d_(v, 0) * c * 1j + d_(v, 1) * d * 1j)
    close(ans, expected)
    close(ans, JAX["complex_jvp"][seed])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_c28_complex_vjp_is_the_conjugate_of_jaxs(seed):
    fun, z, (c, d), d_, u, v = linear_complex(seed)
    _, fun_vjp = vjp(fun, z)

    def jax_rule(c, d):  # the cookbook's formula for JAX's vjp of the cotangent c + di
        return (d_(u, 0) * c + d_(v, 0) * (-d) + d_(u, 1) * c * (-1j)
                + d_(v, 1) * (-d) * (-1j))

    (ans,) = fun_vjp(tf.constant(complex(c, d), tf.complex64))
    close(ans, np.conj(jax_rule(c, -d)))  # TF's: conj(jax_vjp(conj(cotangent)))
    (ans_of_conj,) = fun_vjp(tf.constant(complex(c, -d), tf.complex64))
    close(ans_of_conj, np.conj(JAX["complex_vjp"][seed]))


def test_c29_grad_of_a_real_function_of_z_is_the_conjugate_of_jaxs():
    def f(z):
        x, y = tf.math.real(z), tf.math.imag(z)
        return x ** 2 + y ** 2

    got = grad(f)(3.0 + 4j)
    assert got.dtype == tf.complex64
    assert complex(got) == 6 + 8j  # TF: the direction of steepest ascent
    assert complex(JAX["grad_abs2"]) == 6 - 8j  # JAX: its conjugate


def test_c30_holomorphic_grad_is_the_complex_derivative():
    got = grad(tf.sin, holomorphic=True)(3.0 + 4j)
    like_jax(got, "grad_sin")
    close(got, np.cos(3 + 4j))
    with pytest.raises(TypeError, match="pass holomorphic=True"):
        grad(tf.sin)(3.0 + 4j)  # refused without the promise, as in JAX


def test_c31_holomorphic_grad_of_a_non_holomorphic_function():
    got = grad(tf.math.conj, holomorphic=True)(3.0 + 4j)
    like_jax(got, "grad_conj")
    assert complex(got) == 1.0


def test_c32_grad_through_a_complex_cholesky():
    A = IN["A"]

    def f(X):
        L = tf.linalg.cholesky(X)
        return tf.reduce_sum((L - tf.sin(L)) ** 2)

    G = grad(f, holomorphic=True)(A)
    like_jax(G, "cholesky", {"rtol": 1e-5, "atol": 1e-5})
    # A reference of its own: along Hermitian directions H (where the Cholesky
    # factor is defined), sum(G * H) is the real part of d/dt f(A + t H), here by
    # central differences in complex128.
    rng = np.random.default_rng(0)
    for _ in range(3):
        M = rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))
        H = (M + M.conj().T) / 2
        h = 1e-6
        A64 = A.astype(np.complex128)
        numerical = (f(tf.constant(A64 + h * H)) - f(tf.constant(A64 - h * H))) / (2 * h)
        assert abs(np.sum(G.numpy() * H) - np.real(numerical.numpy())) < 1e-4 * abs(numerical)


# ----- Close relatives --------------------------------------------------------------------

def test_r1_per_example_gradients_of_a_plain_function():
    def example_loss(W, b, x, t):
        p = sigmoid(tf.reduce_sum(W * x) + b)
        return -(t * tf.math.log(p) + (1 - t) * tf.math.log(1 - p))

    got = vmap(grad(example_loss), in_axes=(None, None, 0, 0))(W, b, INPUTS, TARGETS)
    p = p64()
    close(got, (p - T64)[:, None] * X64)  # each example's (p - t) x
    close(tf.reduce_sum(got, 0), loss_grads64()[0])


def test_r2_jit_of_grad_traces_once():
    traces = collections.deque()  # not a list: the cache reads the lists f closes over

    def counted_loss(W, b):
        traces.append(1)  # Python runs while tracing only, as with jax.jit
        return loss(W, b)

    g = jit(grad(counted_loss, (0, 1)))
    for scale in (1.0, 2.0, 3.0):
        dW, db = g(W * scale, b)
        want_W, want_b = grad(loss, (0, 1))(W * scale, b)
        close(dW, want_W)
        close(db, want_b)
    assert len(traces) == 1
    like_jax(g(W, b)[0], "W_grad")


def test_r3_hessian_of_a_vector_function():
    x = tf.constant([1.0, 2.0, 3.0])
    H = hessian(lambda x: x ** 3)(x)
    assert H.shape == (3, 3, 3)
    want = np.zeros((3, 3, 3))
    for i in range(3):
        want[i, i, i] = 6 * float(x[i])
    close(H, want)
    close(hessian(lambda x: x ** 3, x), H)  # the point form keeps working


def test_r4_hessian_of_a_dict_gives_blocks():
    def loss2(p):
        return loss(p["W"], p["b"])

    H = hessian(loss2)({"W": W, "b": b})
    # d2 loss = sum_i p_i (1 - p_i) [x_i, 1] [x_i, 1]^T
    p = p64()
    s = p * (1 - p)
    close(H["W"]["W"], (X64.T * s) @ X64)
    close(H["W"]["b"], X64.T @ s)
    close(H["b"]["W"], X64.T @ s)
    close(H["b"]["b"], s.sum())


def test_r5_grad_with_aux():
    def loss_with_preds(W, b):
        return loss(W, b), predict(W, b, INPUTS)

    g, preds = grad(loss_with_preds, has_aux=True)(W, b)
    like_jax(g, "W_grad")
    close(preds, p64())


def test_r6_jacrev_with_aux_and_float64():
    W64 = tf.constant(IN["W"], tf.float64)

    def f_aux(W):
        p = predict(W, tf.constant(IN["b"], tf.float64), INPUTS)
        return p, tf.reduce_mean(p)

    J, mean = jacrev(f_aux, has_aux=True)(W64)
    assert J.dtype == tf.float64
    close(J, jacobian64(), FLOAT64)
    close(mean, p64().mean(), FLOAT64)
