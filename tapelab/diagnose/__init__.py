"""Diagnostics: why a gradient is None (``explain``, with ``graph_paths``), and whether a
gradient is right (``gradcheck``)."""

from tapelab.diagnose.explain import FIXES, Finding, explain_none
from tapelab.diagnose.gradcheck import GradientCheck, check_gradient

__all__ = ["FIXES", "Finding", "GradientCheck", "check_gradient", "explain_none"]
