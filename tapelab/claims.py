"""``# Output:`` claims, from the checker that tapelab ships as its own small package.

The checker is the ``nbclaims`` distribution (``claims/`` in this repository):
it needs only nbformat, so a project without TensorFlow installs it alone.
tapelab keeps these names for its own code and for earlier imports.
"""

from nbclaims import Claim, NotebookError, claims, claims_in, occurs, output_text

__all__ = ["Claim", "NotebookError", "claims", "claims_in", "occurs", "output_text"]
