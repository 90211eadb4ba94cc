"""tapelab: a small teaching toolkit for ``tf.GradientTape``.

Each helper is a thin layer over real TensorFlow and returns real TF objects
(a ``tf.GradientTape``, tensors, variables), so you can keep using TF directly.
TensorFlow is imported on first use of a helper, so ``tapelab --help`` is quick.
"""

import importlib
from typing import TYPE_CHECKING

__version__ = "0.2.0.dev0"  # the one place the version is written (pyproject.toml reads it)

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

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ loads them
    from tapelab.compiling import jit as jit
    from tapelab.diagnose.explain import explain_none as explain_none
    from tapelab.diagnose.gradcheck import check_gradient as check_gradient
    from tapelab.drawing import draw as draw
    from tapelab.fine_tuning.checkpoint import BackupAndResume as BackupAndResume
    from tapelab.fine_tuning.loop import fine_tune as fine_tune
    from tapelab.fine_tuning.select import LayerSelection as LayerSelection
    from tapelab.fine_tuning.select import SelectionWarning as SelectionWarning
    from tapelab.fine_tuning.select import select_layers as select_layers
    from tapelab.fine_tuning.select import trainable_variables as trainable_variables
    from tapelab.fine_tuning.step import fine_tune_step as fine_tune_step
    from tapelab.jacobians import hessian as hessian
    from tapelab.jacobians import hvp as hvp
    from tapelab.jacobians import jacfwd as jacfwd
    from tapelab.jacobians import jacobian as jacobian
    from tapelab.jacobians import jacrev as jacrev
    from tapelab.per_example import per_example_gradients as per_example_gradients
    from tapelab.transforms import grad as grad
    from tapelab.transforms import jvp as jvp
    from tapelab.transforms import vjp as vjp
    from tapelab.value_grad import gradients as gradients
    from tapelab.value_grad import value_and_gradient as value_and_gradient
    from tapelab.vectorize import vmap as vmap
    from tapelab.watching import tape as tape

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - one list of public names: the keys above


if not TYPE_CHECKING:  # hidden from type checkers, so a misspelt name is an error there

    def __getattr__(name):
        if name in _EXPORTS:
            value = getattr(importlib.import_module(_EXPORTS[name]), name)
            globals()[name] = value  # later look-ups skip this function
            return value
        raise AttributeError(f"module 'tapelab' has no attribute {name!r}")

    def __dir__():
        return sorted(set(globals()) | set(_EXPORTS))
