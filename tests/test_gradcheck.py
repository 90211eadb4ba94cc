"""check_gradient (tapelab/diagnose/gradcheck.py): both modes, both orders, the default step
per dtype, and a verdict that catches a derivative wrong at the order asked and no lower."""

import numpy as np
import pytest
import tensorflow as tf

from tapelab import check_gradient

X64 = tf.constant([0.3, -1.2, 2.0], tf.float64)


@tf.custom_gradient
def cube_with_a_flat_gradient(x):
    """x**3 whose gradient 3x**2 is right but has no derivative of its own: the
    second derivative comes out 0 instead of 6x."""
    return x ** 3, lambda dy: dy * tf.stop_gradient(3 * x ** 2)


def square_with_a_wrong_derivative(x):
    """x * x whose derivative comes out x in both modes (one factor is held constant),
    against 2x by finite differences."""
    return tf.stop_gradient(x) * x


def test_a_right_function_passes_both_modes_to_second_order():
    result = check_gradient(lambda x, y: tf.sin(x) * tf.reduce_sum(y ** 2), X64,
                            tf.constant([[1.0, 2.0]], tf.float64), order=2)
    assert result.ok and result.finite
    assert [c.check for c in result.comparisons] == [
        "rev order 1, source 0", "rev order 1, source 1", "rev order 2", "fwd order 1",
        "fwd order 2"]
    # float64 at delta 1/1024: truncation delta**2 |f'''| / 6 ~ 1e-7 for values of size 1
    assert result.max_abs_error < 1e-5
    result.assert_ok()


def test_a_wrong_second_derivative_fails_only_at_order_two():
    assert check_gradient(cube_with_a_flat_gradient, X64).ok  # first order is right
    result = check_gradient(cube_with_a_flat_gradient, X64, order=2)
    assert not result.ok
    assert "order 2" in result.worst().check
    with pytest.raises(AssertionError, match=r"gradient check failed \(tolerance 1e-05\): "
                                             r"(rev|fwd) order 2"):
        result.assert_ok()


@pytest.mark.parametrize("modes", [("rev",), ("fwd",), ("fwd", "rev")])
def test_each_mode_catches_a_wrong_gradient(modes):
    result = check_gradient(square_with_a_wrong_derivative, X64, modes=modes)
    assert not result.ok
    assert result.worst().check.startswith(modes[0])
    assert {c.check.split()[0] for c in result.comparisons} == set(modes)


def test_the_default_step_follows_the_dtype():
    # x**3 at 0: the central difference ((d)**3 - (-d)**3) / 2d is exactly d**2
    for dtype, delta in ((tf.float64, 1 / 1024), (tf.float32, 1 / 128)):
        result = check_gradient(lambda x: x ** 3, tf.constant([0.0], dtype), modes=("rev",))
        assert result.numerical[0][0] == delta ** 2, dtype
    result = check_gradient(lambda x: x ** 3, tf.constant([0.0], tf.float64),
                            modes=("rev",), delta=0.5)
    assert result.numerical[0][0] == 0.25


def test_float32_gets_a_verdict_at_its_own_tolerance():
    x = tf.constant([0.3, -1.2, 2.0], tf.float32)
    result = check_gradient(lambda x: tf.reduce_sum(tf.tanh(x) ** 3), x, order=2)
    assert result.tolerance == 1e-2
    assert result.ok
    # float32 central differences at 1/128 are good to about 5e-4 relative
    assert result.max_rel_error < 5e-3
    assert not check_gradient(square_with_a_wrong_derivative, tf.constant([1.0, 2.0])).ok


def test_directions_come_from_the_seed():
    f = lambda x: tf.reduce_sum(tf.exp(x))
    a = check_gradient(f, X64, modes=("fwd",), seed=3).comparisons
    b = check_gradient(f, X64, modes=("fwd",), seed=3).comparisons
    c = check_gradient(f, X64, modes=("fwd",), seed=4).comparisons
    assert a == b
    assert a != c


def test_forward_mode_memory_stays_that_of_the_inputs():
    """A million inputs: fwd runs fn a few times, never a dense (10**6)**2 Jacobian."""
    x = tf.constant(np.linspace(-1, 1, 10 ** 6), tf.float64)
    assert check_gradient(lambda x: tf.sin(x) * x, x, modes=("fwd",), order=2).ok


@pytest.mark.parametrize("kwargs, match", [
    ({"order": 3}, r"`order` must be 1 or 2.*Received: order=3"),
    ({"order": True}, r"`order` must be 1 or 2"),
    ({"modes": "fwd"}, r"`modes` must be a non-empty tuple of 'fwd' and 'rev'.*'fwd'"),
    ({"modes": ()}, r"`modes` must be a non-empty tuple"),
    ({"modes": ("fwd", "backward")}, r"Received: modes=\('fwd', 'backward'\)"),
])
def test_bad_options_say_what_was_received(kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_gradient(tf.sin, X64, **kwargs)
