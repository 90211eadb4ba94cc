"""Running notebooks headless, and storing their outputs so that they hold everywhere.

TF 2.21 writes absl log lines (timestamps, PIDs) straight to file descriptor 2.
A Jupyter kernel normally captures that descriptor into cell outputs; under
pytest (nbval) it does not. So we start kernels with fd capture off
(``--IPKernelApp.capture_fd_output=False``): the C++ lines go to the terminal,
never into a notebook, while Python-level stderr (warnings a cell teaches)
is still recorded. Any absl line that slips through anyway is stripped.

Stored outputs hold on every machine: a traceback keeps the frames of the
notebook's own cells and its last line, not the library frames (their file
paths name the machine that ran it), and :func:`below` prints a value that is
round-off as a bound instead of its digits.
"""

import contextlib
import os
import re
import tempfile
from pathlib import Path

from tapelab import tf_logs

KERNEL_ARGS = ["--IPKernelApp.capture_fd_output=False"]




def below(value, bound):
    """``value`` as a documented output that holds on every machine.

    Round-off differs between CPUs, thread counts, oneDNN and GPUs, so a stored
    output never shows its digits: a value whose size is under ``bound`` prints
    as ``"below 1e-6"``. Any other value (NaN included) prints its own digits,
    so the stored output stops matching and the reader sees the real number.

    Args:
      value: a Python or NumPy number (a difference, an error, a gradient).
      bound: the bound to print, far above the round-off of the computation.

    Returns:
      ``"below <bound>"``, or the value and the bound it missed.

    >>> below(2e-08, 1e-6), below(0.0, 1e-6), below(-3e-9, 1e-6)
    ('below 1e-6', 'below 1e-6', 'below 1e-6')
    >>> below(0.25, 1e-6)
    '0.25 (not below 1e-6)'
    """
    mantissa, exponent = f"{bound:.0e}".split("e")
    shown = f"{mantissa}e{int(exponent)}"
    if abs(value) < bound:
        return f"below {shown}"
    return f"{float(value):.2g} (not below {shown})"


# a traceback frame that names a file: "File /path/to/module.py:123, in name(...)"
_FILE_FRAME = re.compile(r"^\s*File\s")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _cell_frames(traceback):
    """A traceback without the frames of library files (their paths name the machine)."""
    return [part for part in traceback if not _FILE_FRAME.match(_ANSI.sub("", part))]


def clean_outputs(nb):
    """Drop TF log lines from stderr, empty stderr outputs and library traceback frames."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                out["text"] = tf_logs.strip(out["text"])
                if not out["text"].strip():
                    continue
            if out.get("output_type") == "error":
                out["traceback"] = _cell_frames(out.get("traceback", []))
            kept.append(out)
        cell["outputs"] = kept
    return nb


class ExecutionError(RuntimeError):
    """A notebook failed to execute; ``log`` names the file that keeps the kernel's stderr."""

    def __init__(self, message, log):
        super().__init__(message)
        self.log = log


@contextlib.contextmanager
def kernel_log(out_path):
    """A log file of this run's own, next to ``out_path``, for the kernel's stderr.

    Two runs of one notebook at once get two logs. The log is removed when the
    block succeeds and kept when it fails: the error is then an
    :class:`ExecutionError` that says where the log is.

    Args:
      out_path: where the executed notebook goes; the log goes in its folder.

    Yields:
      The log, open for writing (pass it to ``NotebookClient.execute(stderr=...)``).
    """
    out_path = Path(out_path)
    fd, log = tempfile.mkstemp(prefix=f"{out_path.stem}.", suffix=".kernel.log",
                               dir=out_path.parent)
    try:
        with os.fdopen(fd, "w") as stderr:
            yield stderr
    except Exception as exc:
        raise ExecutionError(f"{type(exc).__name__}: {exc}\nThe kernel's stderr is kept "
                             f"in {log}.", log) from exc
    os.unlink(log)  # nothing went wrong: the log is noise


def write_atomically(nb, path):
    """Write notebook ``nb`` to ``path`` whole, or leave the file there as it was.

    The notebook goes to a temporary file in the same folder, is flushed and
    synced to disk, and then replaces ``path`` in one step (``os.replace``). A
    full disk or a killed process never leaves a partial or empty notebook:
    ``path`` holds the old notebook or the new one. On an error the temporary
    file is removed and the error raised; a killed writer may leave one
    behind (``.<name>.<random>.tmp``, never a ``.ipynb``). The file keeps its mode.

    Args:
      nb: an ``nbformat.NotebookNode``.
      path: the notebook file to write (replaced if it exists).
    """
    import nbformat

    path = Path(path)
    if path.exists():
        mode = path.stat().st_mode & 0o7777
    else:
        umask = os.umask(0o022)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def execute(path, out_path=None, timeout=600):
    """Execute a notebook headless; write it to ``out_path`` (default: in place).

    The kernel's stderr goes to a log of this run's own (:func:`kernel_log`),
    kept only when execution fails; the notebook is written with
    :func:`write_atomically`, so a failed write leaves the old file whole.

    Returns:
      The executed notebook (an ``nbformat.NotebookNode``). Raises
      :class:`ExecutionError` (naming the kept log) when execution fails.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,  # no timestamps in stored notebooks
        extra_arguments=KERNEL_ARGS,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    # the kernel's own stderr (TF's C++ log lines) goes to a log file, not the terminal
    out_path = Path(out_path) if out_path else path
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with kernel_log(out_path) as stderr:
        client.execute(stderr=stderr)
    clean_outputs(nb)
    write_atomically(nb, out_path)
    return nb
