"""The ``tapelab`` command line: check-claims is nbclaims' command; run-notebooks under
load, with a timeout, through symlinks, on other languages and when stopped."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).parent.parent
PY3 = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def tapelab(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tapelab", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def make(path, *sources, metadata=PY3):
    nb = nbformat.v4.new_notebook(metadata=metadata)
    nb.cells = [nbformat.v4.new_markdown_cell("A test notebook.")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_check_claims_help_explains_syntax_and_exit_codes():
    done = tapelab("check-claims", "--help")
    assert done.returncode == 0
    assert done.stdout.startswith("usage: tapelab check-claims")
    for text in ("# Output: 12.0", "token boundaries", "Exit codes:", "0  every claim holds",
                 "2  a path names no notebook"):
        assert text in done.stdout, text


def test_check_claims_reports_an_unreadable_notebook_in_one_line(tmp_path):
    (tmp_path / "deep.ipynb").write_text('{"cells": [' + "[" * 100_000 + "]}")
    done = tapelab("check-claims", tmp_path / "deep.ipynb")
    assert done.returncode == 2
    assert done.stderr == (f"tapelab check-claims: {tmp_path / 'deep.ipynb'}: not a valid "
                           "notebook: its JSON is nested too deeply to read\n")


@pytest.mark.slow  # starts a kernel
def test_one_print_split_by_a_slow_flush_is_stored_whole(tmp_path):
    """Under load ipykernel sends one line in two pieces; here a sleep forces it."""
    path = make(tmp_path / "split.ipynb",
                'import time\nprint("4.0", end="", flush=True)\ntime.sleep(0.5)\n'
                'print(" [1. 1. 1.]")  # Output: 4.0 [1. 1. 1.]')
    done = tapelab("run-notebooks", "--out", tmp_path / "build", path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "split.ipynb" in done.stdout and " ok" in done.stdout
    (cell,) = [c for c in nbformat.read(tmp_path / "build" / "split.ipynb", 4).cells
               if c.cell_type == "code"]
    assert [(o.output_type, o.text) for o in cell.outputs] == [("stream", "4.0 [1. 1. 1.]\n")]


@pytest.mark.slow
def test_timeout_fails_a_cell_that_runs_on(tmp_path):
    path = make(tmp_path / "loop.ipynb", "while True:\n    pass")
    done = tapelab("run-notebooks", "--timeout", "3", "--out", tmp_path / "build", path,
                   timeout=120)  # without --timeout the cell would run 600 s
    assert done.returncode == 1
    assert "FAILED: CellTimeoutError" in done.stdout
    assert "0 of 1 notebooks ran cleanly" in done.stdout


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_timeout_must_be_a_positive_number(tmp_path, value):
    done = tapelab("run-notebooks", "--timeout", value, tmp_path / "x.ipynb")
    assert done.returncode == 2
    assert f"must be a positive number of seconds. Received: '{value}'" in done.stderr


@pytest.mark.slow
def test_in_place_through_a_symlink_writes_its_target(tmp_path):
    target = make(tmp_path / "target.ipynb", "print(6 * 2.0)  # Output: 12.0")
    link = tmp_path / "link.ipynb"
    link.symlink_to(target.name)
    done = tapelab("run-notebooks", "--in-place", link)
    assert done.returncode == 0, done.stdout + done.stderr
    assert link.is_symlink() and os.readlink(link) == "target.ipynb"
    (cell,) = [c for c in nbformat.read(target, 4).cells if c.cell_type == "code"]
    assert cell.outputs[0].text == "12.0\n"


def test_a_notebook_in_another_language_is_refused_before_anything_runs(tmp_path):
    python = make(tmp_path / "a.ipynb", "print(1)")
    r = make(tmp_path / "b.ipynb", "print(1)",
             metadata={"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}})
    before = r.read_bytes()
    done = tapelab("run-notebooks", "--out", tmp_path / "build", python, r)
    assert done.returncode == 2 and done.stdout == ""
    assert (f"{r} is a r notebook (kernelspec 'ir')" in done.stderr
            and done.stderr.endswith("; nothing was run.\n"))
    assert r.read_bytes() == before and not (tmp_path / "build").exists()


def test_an_unreadable_notebook_is_refused_before_anything_runs(tmp_path):
    good = make(tmp_path / "a.ipynb", "print(1)")
    (tmp_path / "b.ipynb").write_text("{")
    done = tapelab("run-notebooks", "--out", tmp_path / "build", good, tmp_path / "b.ipynb")
    assert done.returncode == 2
    assert "b.ipynb: not a valid notebook: " in done.stderr
    assert done.stderr.endswith("; nothing was run.\n") and not (tmp_path / "build").exists()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_cell_stops_the_run_and_says_so(tmp_path, signum):
    started = tmp_path / "started"
    first = make(tmp_path / "a.ipynb",
                 f"import time\nopen({str(started)!r}, 'w').close()\ntime.sleep(120)")
    second = make(tmp_path / "b.ipynb", "print(1)")
    build = tmp_path / "build"
    proc = subprocess.Popen([sys.executable, "-m", "tapelab", "run-notebooks", "--out",
                             str(build), str(first), str(second)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), "the cell never started"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, out + err
    assert f"stopped by {name}" in out and "AssertionError" not in out + err
    assert err.strip().endswith(f"stopped by {name} while running {first}; it was not "
                                "written, and the 1 notebook(s) after it were not run.")
    assert sorted(p.name for p in build.iterdir()) == []  # no notebook, no kernel log
