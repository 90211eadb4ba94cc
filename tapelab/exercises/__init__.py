"""Checked exercises for tapelab's notebooks: one module per notebook (``nb01`` to ``nb09``).

Each checker takes the learner's answer (a number, a list, a function) and
runs real TensorFlow against it. It returns a :class:`Verdict`: right, with
why, or not yet, with a hint that points at the idea. It never says just
"False", and it never shows the solution.

>>> from tapelab.exercises import nb01
>>> print(nb01.derivative_by_hand(None))
No answer yet: set `answer` to f'(-4) as a number, then run the cell again.
"""

from tapelab.exercises.verdict import Verdict

__all__ = ["Verdict"]
