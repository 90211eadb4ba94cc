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
import signal
import tempfile
from pathlib import Path

from nbclaims import below  # noqa: F401 - the portable-output rule, shipped with the checker

from tapelab import tf_logs
from tapelab.replace_file import replace_file

KERNEL_ARGS = ["--IPKernelApp.capture_fd_output=False"]


# a traceback frame that names a file: "File /path/to/module.py:123, in name(...)"
_FILE_FRAME = re.compile(r"^\s*File\s")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _cell_frames(traceback):
    """A traceback without the frames of library files (their paths name the machine)."""
    return [part for part in traceback if not _FILE_FRAME.match(_ANSI.sub("", part))]


def _coalesce(outputs):
    """``outputs`` with each run of consecutive pieces of one stream joined into one."""
    kept = []
    for out in outputs:
        last = kept[-1] if kept else {}
        if (out.get("output_type") == "stream" and last.get("output_type") == "stream"
                and last.get("name") == out.get("name")):
            last["text"] += out.get("text", "")
        else:
            kept.append(out)
    return kept


def clean_outputs(nb):
    """Drop TF log lines from stderr, empty stderr outputs and library traceback frames,
    and join the consecutive pieces of one stream.

    A kernel sends a stream in pieces whose borders depend on timing (under load
    one ``print`` may arrive as two outputs), so the stored notebook keeps one
    output per run of a stream, as nbconvert's ``coalesce_streams`` does.
    """
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        # a TF log line may be split between two pieces of stderr: join, strip, join again
        for out in _coalesce(cell.get("outputs", [])):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                out["text"] = tf_logs.strip(out["text"])
                if not out["text"].strip():
                    continue
            if out.get("output_type") == "error":
                out["traceback"] = _cell_frames(out.get("traceback", []))
            kept.append(out)
        cell["outputs"] = _coalesce(kept)
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
    behind (``.<name>.<random>.tmp``, never a ``.ipynb``). The file keeps its mode,
    and a symlink is followed: its target is replaced, the link stays (as Jupyter does).

    Args:
      nb: an ``nbformat.NotebookNode``.
      path: the notebook file to write (replaced if it exists).
    """
    import nbformat

    text = nbformat.writes(nb)
    text += "" if text.endswith("\n") else "\n"  # as nbformat.write ends a file
    replace_file(path, text.encode("utf-8"))


class Stopped(Exception):
    """A run stopped by a signal (SIGTERM, SIGINT) while a notebook ran: it was not written."""

    def __init__(self, signum):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


def language(nb):
    """The language a notebook's metadata names (``"python"``, ``"r"``, ...), or None.

    >>> language({"metadata": {"kernelspec": {"name": "ir", "language": "R"}}})
    'r'
    >>> language({"metadata": {}}) is None
    True
    """
    meta = nb.get("metadata", {})
    for found in (meta.get("kernelspec", {}).get("language"),
                  meta.get("language_info", {}).get("name")):
        if isinstance(found, str) and found.strip():
            return found.strip().lower()
    return None


def _client(nb, **kwargs):
    """An nbclient ``NotebookClient`` that remembers a SIGTERM or SIGINT during the run.

    nbclient answers both signals by shutting the kernel down while the cell's
    reply is still awaited, and the run then fails with an ``AssertionError``
    that says nothing. This client records the signal (``stopped_by``), so the
    caller can say what happened, and kills the kernel at once.
    """
    import asyncio
    import atexit

    from nbclient import NotebookClient

    class Client(NotebookClient):
        stopped_by = None

        @contextlib.asynccontextmanager
        async def async_setup_kernel(self, **kw):
            async with super().async_setup_kernel(**kw):
                loop = asyncio.get_event_loop()
                with contextlib.suppress(RuntimeError, NotImplementedError):
                    for signum in (signal.SIGTERM, signal.SIGINT):
                        loop.add_signal_handler(signum, self._stop, signum)
                yield

        def _stop(self, signum):
            if self.stopped_by is None:
                self.stopped_by = signum
                self.shutdown_kernel = "immediate"
                self._async_cleanup_kernel_future = asyncio.ensure_future(
                    self._async_cleanup_kernel())
                atexit.unregister(self._cleanup_kernel)

    return Client(nb, **kwargs)


def execute(path, out_path=None, timeout=600):
    """Execute a notebook headless; write it to ``out_path`` (default: in place).

    The kernel's stderr goes to a log of this run's own (:func:`kernel_log`),
    kept only when execution fails; the notebook is written with
    :func:`write_atomically`, so a failed write leaves the old file whole.

    Args:
      path: the notebook (a Python one: it runs with this environment's ``python3`` kernel).
      out_path: where the executed notebook goes (default: ``path`` itself).
      timeout: seconds one cell may run before the run fails.

    Returns:
      The executed notebook (an ``nbformat.NotebookNode``).

    Raises:
      ExecutionError: a cell failed or timed out (the error names the kept log).
      Stopped: a SIGTERM or SIGINT arrived; the kernel was shut down and nothing written.
    """
    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = _client(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,  # no timestamps in stored notebooks
        extra_arguments=KERNEL_ARGS,
        # a cell's last outputs may arrive seconds after its reply on a loaded machine:
        # wait for them, and fail rather than store (and check) outputs cut short
        iopub_timeout=60,
        raise_on_iopub_timeout=True,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    # the kernel's own stderr (TF's C++ log lines) goes to a log file, not the terminal
    out_path = Path(out_path) if out_path else path
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with kernel_log(out_path) as stderr:
        try:
            client.execute(stderr=stderr)
        except Exception:
            if client.stopped_by is None:
                raise
    if client.stopped_by is not None:
        raise Stopped(client.stopped_by)
    clean_outputs(nb)
    write_atomically(nb, out_path)
    return nb
