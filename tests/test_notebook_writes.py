"""Nothing lost, nothing shared: notebook writes are atomic, each run has its own
kernel log, and run-notebooks refuses to write two notebooks to one file."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tapelab.notebooks import ExecutionError, kernel_log, write_atomically

ROOT = Path(__file__).parent.parent


def make_notebook(path, source="print(1)", note_chars=10):
    """A small notebook, made large by a long markdown note when asked."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("n" * note_chars),
                nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, path)
    return path


def child(code, *args, limit_bytes=None, **kwargs):
    """Run ``code`` in a fresh Python from the repository root (so it imports this tapelab).

    With ``limit_bytes``, the child and its own children (a kernel) cannot make a
    file larger: a write past it fails with EFBIG, as on a full disk (Python
    ignores SIGXFSZ).
    """
    if limit_bytes:
        code = ("import resource\nresource.setrlimit(resource.RLIMIT_FSIZE, "
                f"({limit_bytes}, {limit_bytes}))\n{code}")
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, text=True, **kwargs)


# the command line, as `python -m tapelab ARGS`
CLI = "import runpy\nrunpy.run_module('tapelab', run_name='__main__', alter_sys=True)\n"


WRITE_BIG = """
import errno, signal, sys, nbformat
from tapelab.notebooks import write_atomically
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_markdown_cell("new " * 50_000)]  # 200 kB, over the limit
try:
    write_atomically(nb, sys.argv[1])
except OSError as exc:
    print(errno.errorcode[exc.errno])
"""


def test_a_full_disk_leaves_the_old_notebook_intact(tmp_path):
    path = make_notebook(tmp_path / "x.ipynb", note_chars=1000)
    before = path.read_bytes()
    proc = child(WRITE_BIG, str(path), limit_bytes=64 * 1024, stdout=subprocess.PIPE)
    out, _ = proc.communicate()
    assert out.strip() == "EFBIG"  # the write did fail
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["x.ipynb"]  # the temporary file is gone too


@pytest.mark.slow  # starts a Jupyter kernel
def test_run_notebooks_on_a_full_disk_fails_and_keeps_the_notebook(tmp_path):
    path = make_notebook(tmp_path / "x.ipynb", note_chars=2_000_000)  # 2 MB, limit 1 MB
    before = path.read_bytes()
    env = {**os.environ, "IPYTHONDIR": str(tmp_path / "ipython"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    proc = child(CLI, "run-notebooks", "--in-place", str(path),
                 limit_bytes=1024 * 1024, env=env, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    assert "FAILED: OSError" in out and "File too large" in err
    assert path.read_bytes() == before


KILLED_MID_WRITE = """
import os, sys, nbformat
from tapelab.notebooks import write_atomically


def slow_fsync(fd):  # the new notebook is in its temporary file: say so, wait to be killed
    print("mid-write", flush=True)
    sys.stdin.readline()  # never returns: the parent kills this process

os.fsync = slow_fsync
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_markdown_cell("new " * 250_000)]  # 1 MB
write_atomically(nb, sys.argv[1])
"""


def test_a_writer_killed_mid_write_leaves_the_old_notebook_intact(tmp_path):
    path = make_notebook(tmp_path / "x.ipynb", note_chars=1000)
    before = path.read_bytes()
    proc = child(KILLED_MID_WRITE, str(path), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == "mid-write\n"
        proc.kill()  # SIGKILL: no clean-up runs
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert path.read_bytes() == before
    assert nbformat.read(path, as_version=4).cells[0].source == "n" * 1000
    assert list(tmp_path.glob("*.ipynb")) == [path]  # a leftover temp file is not a notebook


def test_a_write_keeps_the_notebook_file_mode(tmp_path):
    path = make_notebook(tmp_path / "x.ipynb")
    os.chmod(path, 0o640)
    write_atomically(nbformat.read(path, as_version=4), path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_two_runs_of_one_notebook_have_their_own_kernel_logs(tmp_path):
    out = tmp_path / "x.ipynb"
    with contextlib.ExitStack() as runs:  # two runs at once: both logs open together
        first = runs.enter_context(kernel_log(out))
        second = runs.enter_context(kernel_log(out))
        first.write("first run\n")
        second.write("second run\n")
    assert first.name != second.name
    assert os.listdir(tmp_path) == []  # both succeeded: both logs removed


def test_a_failed_run_keeps_its_log_and_names_it(tmp_path):
    out = tmp_path / "x.ipynb"
    with pytest.raises(ExecutionError) as info, kernel_log(out) as failing:
        with kernel_log(out) as other:  # another run of the same notebook, succeeding
            other.write("other run\n")
        failing.write("the kernel said why\n")
        raise RuntimeError("a cell failed")
    log = Path(info.value.log)
    assert os.listdir(tmp_path) == [log.name]
    assert log.read_text() == "the kernel said why\n"
    assert log.name.startswith("x.") and log.name.endswith(".kernel.log")
    assert str(info.value).endswith(f"The kernel's stderr is kept in {log}.")
    assert "RuntimeError: a cell failed" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_same_name_notebooks_for_one_out_folder_are_refused(tmp_path):
    a = make_notebook((tmp_path / "a").mkdir() or tmp_path / "a" / "x.ipynb")
    b = make_notebook((tmp_path / "b").mkdir() or tmp_path / "b" / "x.ipynb")
    build = tmp_path / "build"
    proc = child(CLI, "run-notebooks", "--out", str(build), str(a), str(b),
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, out + err
    assert f"{a} and {b}" in err and str(build / "x.ipynb") in err
    assert "different --out folders" in err and "rename one" in err
    assert not build.exists()  # refused before running anything


def test_a_written_notebook_is_byte_for_byte_what_nbformat_writes(tmp_path):
    path = make_notebook(tmp_path / "x.ipynb")
    nb = nbformat.read(path, as_version=4)
    write_atomically(nb, tmp_path / "y.ipynb")
    nbformat.write(nb, tmp_path / "z.ipynb")
    assert (tmp_path / "y.ipynb").read_bytes() == (tmp_path / "z.ipynb").read_bytes()
