"""check_gradient never reports a clean result for a broken gradient, and refuses
what it cannot check, saying why."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tapelab import check_gradient

F64 = tf.float64


def nan_gradient_square():
    return tf.custom_gradient(lambda a: (a * a, lambda dy: dy * np.nan))


def test_a_nan_gradient_is_not_error_zero():
    result = check_gradient(nan_gradient_square(), tf.constant([1.0, 2.0], F64))
    assert not result.finite
    assert math.isnan(result.max_abs_error) and math.isnan(result.max_rel_error)
    assert result.problems == ("source 0 element (0,): tape nan, numerical 2.0",
                               "source 0 element (1,): tape nan, numerical 4.0")
    assert "NOT FINITE" in str(result) and "source 0 element (1,)" in str(result)


def test_where_log_at_zero_is_caught():
    # the tape's gradient of the untaken log branch at 0 is 0 * inf = nan
    result = check_gradient(lambda x: tf.where(x > 0, tf.math.log(x), 0.0),
                            tf.constant([0.0, 1.0], F64))
    assert not result.finite and math.isnan(result.max_abs_error)
    assert result.problems[0].startswith("source 0 element (0,): tape nan")


def test_only_the_second_source_is_nan():
    square = nan_gradient_square()
    result = check_gradient(lambda a, b: a * square(b), tf.constant([1.0], F64),
                            tf.constant([3.0], F64))
    assert not result.finite and math.isnan(result.max_abs_error)
    assert result.problems == ("source 1 element (0,): tape nan, numerical 6.0",)


def test_an_infinite_gradient_is_not_finite():
    inf_grad = tf.custom_gradient(lambda a: (a * 2.0, lambda dy: dy * np.inf))
    result = check_gradient(inf_grad, tf.constant([1.0], F64))
    assert not result.finite and math.isinf(result.max_abs_error)


def test_a_good_gradient_is_finite_with_no_problems():
    result = check_gradient(tf.sin, tf.constant([0.5, 1.0], F64))
    # float64 central differences at TF's delta 1e-3: truncation delta^2 / 6 ~ 2e-7
    assert result.finite and result.problems == () and result.max_abs_error < 1e-6


def test_gather_gives_indexed_slices_which_are_made_dense():
    x = tf.constant([1.0, 2.0, 3.0], F64)
    result = check_gradient(lambda x: tf.reduce_sum(tf.gather(x, [0, 2]) ** 2), x)
    np.testing.assert_allclose(result.tape_gradient[0], [2.0, 0.0, 6.0])  # 2x, exact in float64
    assert result.max_abs_error < 1e-6  # a quadratic: central differences are exact but round-off


def test_complex_sources_are_refused_up_front():
    with pytest.raises(TypeError, match="source 0 of dtype complex128.*real and imaginary"):
        check_gradient(lambda z: tf.math.real(z * z), tf.constant([1 + 1j], tf.complex128))


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_half_precision_warns_and_suggests_float64(dtype):
    with pytest.warns(UserWarning, match=f"source 0 is {dtype.name}.*tf.cast\\(x, tf.float64\\)"):
        check_gradient(lambda x: x * x, tf.constant([1.0, 2.0], dtype))


def test_inside_tf_function_it_refuses_with_a_clear_error():
    @tf.function
    def checked(x):
        return check_gradient(tf.sin, x).max_abs_error

    with pytest.raises(RuntimeError, match="runs eagerly.*inside tf.function"):
        checked(tf.constant([1.0], F64))


@pytest.mark.parametrize("delta", [0, 0.0, -1e-3, float("nan"), float("inf"), np.float64(0)],
                         ids=repr)
def test_a_step_that_is_not_positive_and_finite_is_a_value_error(delta):
    with pytest.raises(ValueError, match=r"`delta` must be a positive finite number.*"
                                         r"Received: delta="):
        check_gradient(tf.sin, tf.constant([0.5], F64), delta=delta)


@pytest.mark.parametrize("delta", ["1e-3", True, [1e-3]], ids=repr)
def test_a_step_that_is_not_a_number_is_a_type_error(delta):
    with pytest.raises(TypeError, match=r"`delta` must be a number.*Received: delta="):
        check_gradient(tf.sin, tf.constant([0.5], F64), delta=delta)


def test_a_given_step_is_used():
    # x**3 at 1: central differences give 3 + delta**2 exactly
    result = check_gradient(lambda x: x**3, tf.constant([1.0], F64), delta=0.1)
    np.testing.assert_allclose(result.numerical[0], [3.01], rtol=1e-9)


def test_a_large_input_is_checked_along_random_directions_in_both_modes():
    """Past 100,000 elements the reverse check is JAX's, <u, J v>: fn a few times in all."""
    x = tf.linspace(tf.constant(-1.0, F64), 1.0, 100_001)
    result = check_gradient(lambda x: tf.sin(x) * x, x, order=2)
    assert result.ok and result.tape_gradient == ()  # no element-wise gradient kept
    assert [c.check for c in result.comparisons] == [
        "rev order 1", "rev order 2", "fwd order 1", "fwd order 2"]

    @tf.custom_gradient
    def wrong(x):  # its backward function is 1.5 times too large; forward mode skips it
        return x * x, lambda dy: dy * 3.0 * x

    assert check_gradient(wrong, x, modes=("fwd",)).ok  # TF's forward mode cannot see it
    bad = check_gradient(wrong, x, modes=("rev",))
    assert not bad.ok and bad.worst().check == "rev order 1"


def test_the_old_name_tape_still_works_with_a_deprecation_warning():
    result = check_gradient(tf.sin, tf.constant([0.5], F64))
    with pytest.warns(DeprecationWarning, match="use GradientCheck.tape_gradient"):
        old = result.tape
    assert old is result.tape_gradient
