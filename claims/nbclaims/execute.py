"""Running a notebook once, for claims held against fresh outputs (``--check-claims-outputs=executed``)."""

import copy
import logging
from pathlib import Path

# nbclient and jupyter_client log each failure with its traceback; the reason is
# reported once per claim instead
_QUIET = logging.getLogger("nbclaims.execute")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def execute(nb, path, timeout=600):
    """A copy of notebook ``nb`` with its cells executed by its own kernel, in order.

    The kernel is the notebook's kernelspec (``python3`` when it names none),
    started in the notebook's folder. Errors are kept as outputs, as a reader
    sees them (a claim may state one); the notebook file is not written. A run
    that cannot go on (a cell over ``timeout``, a kernel that is missing or dies)
    stops there: the cells before it keep their fresh outputs.

    Args:
      nb: an ``nbformat.NotebookNode``.
      path: the notebook's file (its folder is the kernel's working directory).
      timeout: seconds each cell may run.

    Returns:
      ``(executed copy, why the run stopped or "", number of cells it completed)``.
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
        log=_QUIET,
    )
    ran, started = 0, False
    try:
        client.km = client.create_kernel_manager()
        client.km.log = _QUIET
        with client.setup_kernel():
            started = True
            for index, cell in enumerate(client.nb.cells):
                client.execute_cell(cell, index)
                ran = index + 1
    except Exception as exc:  # noqa: BLE001 - the reason goes to every claim it stops
        message = " ".join(str(exc).split())
        if type(exc).__name__ == "CellTimeoutError":
            message = f"cell {ran + 1} ran over {timeout:g} seconds"
        reason = f"{type(exc).__name__}: {message[:300]}"
        return client.nb, reason if started else f"the kernel did not start: {reason}", ran
    return client.nb, "", ran
