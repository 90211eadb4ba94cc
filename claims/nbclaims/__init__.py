"""nbclaims: check the ``# Output:`` comments of Jupyter notebooks against their outputs.

A code cell states what it prints in a comment, ``# Output: 12.0``; the
checker holds every such claim against the cell's output, on token
boundaries (``2.0`` does not hold in ``12.0``). It needs only nbformat: no
kernel, no TensorFlow. Use it as a command (``check-claims PATH...``), as a
pytest plugin (``pytest --check-claims``) or as a pre-commit hook.

>>> from nbclaims import occurs
>>> occurs("12.0", "tf.Tensor(12.0, shape=(), dtype=float32)"), occurs("2.0", "12.0")
(True, False)
"""

from nbclaims.bounds import below
from nbclaims.claim import Claim, NotebookError, claims, claims_in, read_notebook
from nbclaims.match import occurs
from nbclaims.outputs import output_text
from nbclaims.paths import NoNotebookError, find_notebooks
from nbclaims.prose import ProseProblem, prose_problems

__version__ = "0.2.0.dev0"

__all__ = ["Claim", "NoNotebookError", "NotebookError", "ProseProblem", "below", "claims",
           "claims_in", "find_notebooks", "occurs", "output_text", "prose_problems",
           "read_notebook"]
