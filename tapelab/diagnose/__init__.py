"""Diagnostics: why a gradient is None (``explain``, with ``graph_paths``), and whether a
gradient is right (``gradcheck``)."""
