"""Tolerances that follow the arithmetic, not the machine that runs the tests.

Every comparison in the suite uses one of these, named after what the two sides
compute. None of them may depend on oneDNN, the thread count or the CPU model:
`make test-portable` runs the suite under other layouts to check that.

EXACT
    The same ops in the same order on the same values (one compiled step traced
    twice, a checkpoint restored into the same step, a copy of a value). Any
    difference is a bug, so the tolerance is 0.
FLOAT32
    float32 on both sides, the same math in another op order: Keras `fit`'s graph
    against ours, a vectorised map against a loop, two replicas against one
    device, forward against reverse mode. Each op rounds to eps32 = 1.2e-7 of
    its size; another kernel (oneDNN, AVX-512, 1 or 6 threads) sums in another
    order, and a few training steps compound that to about 1e-6 of a weight.
    rtol 1e-5 (about 100 eps32) keeps a margin of 10.
FLOAT32_LONG
    float32 through many steps or a different split of the batch (cached
    features computed in one pass, a body run on other batch sizes): Adam's
    g / sqrt(v) amplifies round-off in small gradients, so 1e-4.
FLOAT16
    float16 activations (`mixed_float16`): eps16 = 9.8e-4, so one rounding of
    an activation is already 5e-4 of it, whichever CPU kernel ran it. Measured
    on an AVX-512 machine: 4.9e-5 on weights whose update is 0.1, against fit.
    rtol and atol 1e-3 keep a margin of 20 and still catch a learning rate off by
    3% (mutation-checked).
FLOAT64
    float64 on both sides in another op order: eps64 = 2.2e-16. Sums that cancel
    leave an absolute error of eps64 times the size of their terms, so both rtol
    and atol are 1e-9, far above that and far below any real error.
Finite differences (check_gradient) are bounded by the error analysis of the
central difference instead: truncation delta^2 |f'''| / 6 plus round-off
eps / delta, stated where they are used.
"""

import numpy as np

EXACT = {"rtol": 0.0, "atol": 0.0}
FLOAT32 = {"rtol": 1e-5, "atol": 1e-6}
FLOAT32_LONG = {"rtol": 1e-4, "atol": 1e-5}
FLOAT16 = {"rtol": 1e-3, "atol": 1e-3}
FLOAT64 = {"rtol": 1e-9, "atol": 1e-9}


def assert_variables_close(ours, theirs, tolerance):
    """Every variable of two models (weights, statistics, seed counters), one by one."""
    assert len(ours.variables) == len(theirs.variables)
    for a, b in zip(ours.variables, theirs.variables):
        np.testing.assert_allclose(np.asarray(a.numpy(), "float64"),
                                   np.asarray(b.numpy(), "float64"), err_msg=a.path,
                                   **tolerance)


def largest_allowed(tolerance, scale=1.0):
    """The largest absolute difference ``tolerance`` allows between values of size ``scale``.

    For a maximum over many values (a subprocess reports one number): the models
    compared this way hold weights and statistics of size 1 or less.
    """
    return tolerance["atol"] + tolerance["rtol"] * scale
