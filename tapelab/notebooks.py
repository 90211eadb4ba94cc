"""Running notebooks headless and checking their ``# Output:`` claims.

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

import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

KERNEL_ARGS = ["--IPKernelApp.capture_fd_output=False"]

# absl / TF C++ log lines:  I0000 00:00:1795687597.650453    2065 port.cc:153] ...
TF_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\].*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate "
    r"compiler flags\.)$",
    re.MULTILINE,
)

CLAIM = re.compile(r"#\s*Output:\s*(?P<text>.*?)\s*$")


def strip_tf_logs(text):
    """Remove TF/absl log lines from a block of text."""
    return re.sub(r"\n{2,}", "\n", TF_LOG_LINE.sub("", text)).lstrip("\n")


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
                out["text"] = strip_tf_logs(out["text"])
                if not out["text"].strip():
                    continue
            if out.get("output_type") == "error":
                out["traceback"] = _cell_frames(out.get("traceback", []))
            kept.append(out)
        cell["outputs"] = kept
    return nb


def execute(path, out_path=None, timeout=600):
    """Execute a notebook headless; write it to ``out_path`` (default: in place).

    Returns the executed notebook (an ``nbformat.NotebookNode``).
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
    log = out_path.with_suffix(".kernel.log")  # kept when execution fails
    with open(log, "w") as stderr:
        client.execute(stderr=stderr)
    log.unlink()  # nothing went wrong: the log is noise
    clean_outputs(nb)
    nbformat.write(nb, out_path)
    return nb


def output_text(cell):
    """Everything a code cell shows as text: streams, plain-text results, errors."""
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(out.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "\n".join(parts)


def _comments(source):
    """The comment tokens of a cell's source (falls back to a line scan)."""
    try:
        tokens = tokenize.generate_tokens(io.StringIO(source).readline)
        return [tok.string for tok in tokens if tok.type == tokenize.COMMENT]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return [line[line.index("#"):] for line in source.splitlines() if "#" in line]


@dataclass(frozen=True)
class Claim:
    """One ``# Output: <text>`` comment and whether the stored output holds it."""

    notebook: str
    cell: int  # 1-based position among all the notebook's cells
    text: str
    actual: str

    @property
    def holds(self):
        return self.text in self.actual


def claims(path):
    """Every ``# Output:`` claim in the code cells of the notebook at ``path``."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        for comment in _comments(cell.source):
            match = CLAIM.search(comment)
            if match:
                found.append(Claim(str(path), number, match["text"], output_text(cell)))
    return found
