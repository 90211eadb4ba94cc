"""Running a notebook once, for claims held against fresh outputs (``--check-claims-outputs=executed``)."""

import copy
from pathlib import Path


def execute(nb, path, timeout=600):
    """A copy of notebook ``nb`` with every cell executed by its own kernel.

    The kernel is the notebook's kernelspec (``python3`` when it names none),
    started in the notebook's folder. Errors are kept as outputs, as a reader
    sees them (a claim may state one); the notebook file is not written.

    Args:
      nb: an ``nbformat.NotebookNode``.
      path: the notebook's file (its folder is the kernel's working directory).
      timeout: seconds each cell may run.

    Returns:
      The executed copy.
    """
    try:
        from nbclient import NotebookClient
    except ImportError as exc:
        raise ImportError("checking claims against executed outputs needs nbclient and a "
                          "kernel: pip install 'nbclaims[execute]'") from exc
    client = NotebookClient(
        copy.deepcopy(nb),
        timeout=timeout,
        allow_errors=True,
        record_timing=False,
        # under load a cell's last outputs may arrive seconds after its reply: wait for
        # them, and fail rather than check a claim against outputs that were cut short
        iopub_timeout=60,
        raise_on_iopub_timeout=True,
        resources={"metadata": {"path": str(Path(path).parent.resolve())}},
    )
    client.execute()
    return client.nb
