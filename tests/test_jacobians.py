"""jacrev and jacfwd return functions, as in JAX; each against the raw tape.jacobian."""

import numpy as np
import pytest
import tensorflow as tf
from tolerance import FLOAT32

import tapelab
from tapelab.jacobians import COMPILED


def f(x, a):
    return a * tf.sin(x) * tf.reduce_sum(x**2)


X = tf.constant([0.5, -1.0, 2.0])


def raw_jacobian(x, a):
    with tf.GradientTape() as t:
        t.watch(x)
        out = f(x, a)
    return t.jacobian(out, x)


@pytest.mark.parametrize("transform", [tapelab.jacrev, tapelab.jacfwd])
def test_jacrev_and_jacfwd_are_functions_equal_to_the_raw_tape(transform):
    jac = transform(f)  # a function, as jax.jacrev(f)
    assert callable(jac)
    got = jac(X, 2.0)
    assert got.shape == (3, 3)
    # pfor (and forward mode) against the raw tape: float32 in another op order
    np.testing.assert_allclose(got.numpy(), raw_jacobian(X, 2.0).numpy(), **FLOAT32)
    np.testing.assert_allclose(transform(f, argnums=(0,))(X, 2.0)[0].numpy(), got.numpy(),
                               **FLOAT32)


def test_jacrev_by_argnums_and_the_same_as_jacobian():
    def g(a, b):
        return a * b**2

    a, b = tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])
    ja, jb = tapelab.jacrev(g, argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(ja.numpy(), np.diag([9.0, 16.0]))   # b**2
    np.testing.assert_array_equal(jb.numpy(), np.diag([6.0, 16.0]))   # 2 a b
    for got, want in zip((ja, jb), tapelab.jacobian(g, a, b)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_jacrev_compiles_once_for_new_values():
    def h(x, a):
        return a * x**3

    jac = tapelab.jacrev(h)
    for i in range(4):
        jac(X + i, tf.constant(2.0 + i))
    assert [c.experimental_get_tracing_count() for c in COMPILED.values(h)] == [1]


def test_jacrev_refuses_a_bad_argnums():
    with pytest.raises(ValueError, match=r"`argnums` must index the 2 argument\(s\)"):
        tapelab.jacrev(f, argnums=2)(X, 2.0)


# --- structures: a dict or tuple output, a dict or tuple source (#18) --------------------------

A, B = tf.constant([0.5, -1.0, 2.0]), tf.constant([[1.0, 2.0], [3.0, -1.0]])


def two_outputs(a, b):
    return {"s": tf.sin(a) * tf.reduce_sum(b**2), "p": tf.reduce_sum(a) * b}


def raw(fn_of_sources, sources, out_keys=("p", "s")):
    """TF's own answer: tape.jacobian per output leaf, for the (nested) sources."""
    with tf.GradientTape(persistent=True) as t:
        t.watch(sources)
        out = fn_of_sources()
    return {k: t.jacobian(out[k], sources) for k in out_keys}


def assert_same_structure_and_close(got, want):
    tf.nest.assert_same_structure(got, want)
    for g, w in zip(tf.nest.flatten(got), tf.nest.flatten(want)):
        assert g.shape == w.shape
        # pfor or forward mode against the raw tape: float32 in another op order
        np.testing.assert_allclose(g.numpy(), w.numpy(), **FLOAT32)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_dict_output_gives_a_dict_of_jacobians(mode):
    # one source: {"s": ds/da, "p": dp/da}; several: {"s": (ds/da, ds/db), ...}
    want = raw(lambda: two_outputs(A, B), [A, B])
    one = tapelab.jacobian(lambda a: two_outputs(a, B), A, mode=mode)
    assert_same_structure_and_close(one, {k: v[0] for k, v in want.items()})
    both = tapelab.jacobian(two_outputs, A, B, mode=mode)
    assert_same_structure_and_close(both, {k: tuple(v) for k, v in want.items()})
    assert both["p"][1].shape == (2, 2, 2, 2)  # out.shape + source.shape


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("pack", [lambda a, b: {"a": a, "b": b}, lambda a, b: (a, b)],
                         ids=["dict", "tuple"])
def test_a_dict_or_tuple_source_gives_jacobians_of_its_structure(mode, pack):
    sources = pack(A, B)

    def f(s):
        a, b = (s["a"], s["b"]) if isinstance(s, dict) else s
        return two_outputs(a, b)

    want = raw(lambda: f(sources), sources)  # tape.jacobian returns the sources' structure
    assert_same_structure_and_close(tapelab.jacobian(lambda s: f(s)["s"], sources, mode=mode),
                                    want["s"])
    assert_same_structure_and_close(tapelab.jacobian(f, sources, mode=mode), want)


@pytest.mark.parametrize("transform", [tapelab.jacrev, tapelab.jacfwd])
def test_jacrev_and_jacfwd_take_the_same_structures(transform):
    def g(scale, s):
        return {"s": scale * tf.sin(s["a"]) * tf.reduce_sum(s["b"]**2), "p": s["a"][0] * s["b"]}

    sources = {"a": A, "b": B}
    want = raw(lambda: g(2.0, sources), sources)
    assert_same_structure_and_close(transform(g, argnums=1)(2.0, sources), want)
    got = transform(g, argnums=(1,))(2.0, sources)
    assert_same_structure_and_close(got, {k: (v,) for k, v in want.items()})


def test_structured_calls_compile_once_for_new_values():
    def k(s):
        return {"y": s["a"] ** 3, "z": tf.reduce_sum(s["b"]) * s["a"]}

    for i in range(4):
        tapelab.jacobian(k, {"a": A + i, "b": B - i})
        tapelab.jacobian(k, {"a": A + i, "b": B - i}, mode="forward")
    assert [c.experimental_get_tracing_count() for c in COMPILED.values(k)] == [1, 1]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_structures_are_refused_clearly_before_anything_runs(mode):
    calls = []

    def spy(s):
        calls.append(s)
        return s["a"]

    with pytest.raises(TypeError, match=r"Source 0\['b'\] must have a floating dtype.*"
                                        r"Received: .*int32"):
        tapelab.jacobian(spy, {"a": A, "b": tf.constant([1, 2])}, mode=mode)
    with pytest.raises(TypeError, match=r"Source 0\['b'\]\[1\] must be a tf.Variable.*"
                                        r"Received: str 'x'"):
        tapelab.jacobian(spy, {"a": A, "b": [1.0, "x"]}, mode=mode)  # a list is a structure
    with pytest.raises(TypeError, match=r"Source 0 must hold at least one value to "
                                        r"differentiate.*Received: an empty structure, \{\}"):
        tapelab.jacobian(spy, {}, mode=mode)
    with pytest.raises(TypeError, match=r"`fn` must return a tensor, or a dict, tuple or list "
                                        r"of tensors, for jacobian\. Received: .*str"):
        tapelab.jacobian(lambda a: {"y": a, "name": "a"}, A, mode=mode)
    assert calls == []


@pytest.mark.parametrize("transform, name", [(tapelab.jacrev, "jacrev"),
                                             (tapelab.jacfwd, "jacfwd")])
def test_a_ragged_source_is_refused_by_the_helpers_own_name(transform, name):
    """jacfwd called itself "jacfor" (f"jac{mode[:3]}" of "forward")."""
    ragged = tf.ragged.constant([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match=rf"^`{name}` needs dense sources"):
        transform(lambda r: r.flat_values * 2.0)(ragged)


def test_no_autograph_noise_for_a_lambda_it_cannot_locate(tmp_path):
    """Two lambdas on one line (or one typed in a REPL): TF printed "AutoGraph could not
    transform ... report this to the TensorFlow team". Not a TF bug to report: it now
    runs as written, quietly, with the same result."""
    import subprocess
    import sys

    script = tmp_path / "two_lambdas.py"
    script.write_text(
        "import tensorflow as tf, tapelab\n"
        "f, g = lambda x: tf.reduce_sum(x ** 2), lambda x: tf.reduce_sum(x ** 3)\n"
        "x = tf.constant([1.0, 2.0])\n"
        "print(tapelab.jacrev(f)(x).numpy().tolist(), tapelab.hessian(g, x).numpy().tolist(),"
        " tapelab.jit(f)(x).numpy().tolist(), tapelab.vmap(f)(tf.ones((2, 2))).numpy().tolist())\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[2.0, 4.0] [[6.0, 0.0], [0.0, 12.0]] 5.0 [2.0, 2.0]"
    assert "AutoGraph could not transform" not in done.stdout + done.stderr
    assert "TensorFlow team" not in done.stdout + done.stderr
