"""TensorFlow's log lines, in one place: asking for fewer, and keeping them out of outputs.

TF 2.21 writes absl log lines (timestamps, PIDs) from C++ straight to file
descriptor 2, past ``sys.stderr``. ``TF_CPP_MIN_LOG_LEVEL=2`` (:func:`quiet`) asks
for errors only, yet a few start-up lines still come. So the lines are also
recognised (``TF_LOG_LINE``) and dropped: from a process's descriptor 2
(:func:`without_tf_logs`, for ``tapelab demo`` and ``errata``) and from stored
notebook outputs (:func:`strip`). Python warnings and tracebacks pass through.
"""

import contextlib
import os
import re
import sys
import threading

# absl / TF C++ log lines:  I0000 00:00:1795687597.650453    2065 port.cc:153] ...
TF_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\].*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate "
    r"compiler flags\.)$",
    re.MULTILINE,
)


def strip(text):
    """Remove TF/absl log lines from a block of text."""
    return re.sub(r"\n{2,}", "\n", TF_LOG_LINE.sub("", text)).lstrip("\n")


def quiet():
    """Ask TF's C++ logger for errors only (it may still print a few start-up lines)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def without_tf_logs():
    """Drop TF's C++ log lines from file descriptor 2 (they bypass sys.stderr).

    Everything else written to stderr (Python warnings, tracebacks) passes through.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump():
        with os.fdopen(read_end, "rb") as source:
            for line in source:
                if not TF_LOG_LINE.match(line.decode(errors="replace").rstrip("\n")):
                    os.write(saved, line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the pump sees EOF
        thread.join(timeout=5)
        os.close(saved)
