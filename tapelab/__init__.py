"""tapelab: a small teaching toolkit for ``tf.GradientTape``.

Each helper is a thin layer over real TensorFlow and returns real TF objects
(a ``tf.GradientTape``, tensors, variables), so you can keep using TF directly.
TensorFlow is imported on first use of a helper, so ``tapelab --help`` is quick.
"""

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "value_and_gradient": "tapelab.value_grad",
    "gradients": "tapelab.value_grad",
    "tape": "tapelab.watching",
    "select_layers": "tapelab.fine_tuning.select",
    "trainable_variables": "tapelab.fine_tuning.select",
    "fine_tune_step": "tapelab.fine_tuning.step",
    "fine_tune": "tapelab.fine_tuning.loop",
    "BackupAndResume": "tapelab.fine_tuning.checkpoint",
    "SelectionWarning": "tapelab.fine_tuning.select",
    "LayerSelection": "tapelab.fine_tuning.select",
    "explain_none": "tapelab.diagnose.explain",
    "check_gradient": "tapelab.diagnose.gradcheck",
    "grad": "tapelab.transforms",
    "jvp": "tapelab.transforms",
    "vjp": "tapelab.transforms",
    "jacobian": "tapelab.jacobians",
    "jacrev": "tapelab.jacobians",
    "jacfwd": "tapelab.jacobians",
    "hessian": "tapelab.jacobians",
    "hvp": "tapelab.jacobians",
    "per_example_gradients": "tapelab.per_example",
    "vmap": "tapelab.vectorize",
    "jit": "tapelab.compiling",
    "draw": "tapelab.drawing",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - one list of public names: the keys above


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'tapelab' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
