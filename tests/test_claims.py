"""check-claims: `# Output:` comments against stored notebook outputs."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tapelab.notebooks import claims, clean_outputs, strip_tf_logs

DATA = Path(__file__).parent / "data"
SEED = DATA / "seed_first_cell.ipynb"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tapelab", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def notebook(tmp_path, source, text):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    nb.cells = [nbformat.v4.new_markdown_cell("note"), cell]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_catches_the_seed_first_cell():
    """The seed's first cell claims 6.0; its own output says 12.0."""
    (claim,) = claims(SEED)
    assert claim.text == "tf.Tensor(6.0, shape=(), dtype=float32)"
    assert claim.actual.strip() == "tf.Tensor(12.0, shape=(), dtype=float32)"
    assert claim.cell == 1 and not claim.holds

    result = run_cli("check-claims", str(SEED))
    assert result.returncode == 1
    assert f"{SEED}: cell 1: claim not in output" in result.stdout
    assert "claim:  tf.Tensor(6.0, shape=(), dtype=float32)" in result.stdout
    assert "actual: tf.Tensor(12.0, shape=(), dtype=float32)" in result.stdout
    assert "check-claims: 0 of 1 claims hold in 1 notebook(s)" in result.stdout


def test_a_true_claim_passes(tmp_path):
    path = notebook(tmp_path, "print(12.0)  # Output: 12.0", "12.0\n")
    result = run_cli("check-claims", str(path))
    assert result.returncode == 0, result.stdout
    assert "1 of 1 claims hold" in result.stdout


def test_claims_are_comments_not_strings(tmp_path):
    source = 's = "# Output: not a claim"\nprint(s)  # Output: # Output: not a claim'
    path = notebook(tmp_path, source, "# Output: not a claim\n")
    (claim,) = claims(path)
    assert claim.text == "# Output: not a claim" and claim.holds


def test_claims_in_error_and_result_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 / 0  # Output: ZeroDivisionError: division by zero")
    cell.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError",
                                           evalue="division by zero", traceback=[])]
    nb.cells = [cell]
    path = tmp_path / "err.ipynb"
    nbformat.write(nb, path)
    assert claims(path)[0].holds


def test_missing_path_is_an_error():
    result = run_cli("check-claims", "no/such.ipynb")
    assert result.returncode == 2
    assert "no notebook at no/such.ipynb" in result.stderr


@pytest.mark.parametrize("text, reason", [
    ('{"cells": [', "Notebook does not appear to be JSON"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "cells"),
    ("[1, 2]", ""),
], ids=["truncated", "no-cells", "a-list"])
def test_a_malformed_notebook_is_one_line_and_exit_2(tmp_path, text, reason):
    path = tmp_path / "broken.ipynb"
    path.write_text(text)
    result = run_cli("check-claims", str(path))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "check-claims" in line]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"{path}: not a valid notebook: " in lines[0] and reason in lines[0]


def test_a_folder_is_searched_for_notebooks(tmp_path):
    notebook(tmp_path, "print(1)  # Output: 2", "1\n")
    result = run_cli("check-claims", str(tmp_path))
    assert result.returncode == 1 and "cell 2: claim not in output" in result.stdout


REAL_TF_LOG = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795687597.650453    2065 port.cc:153] oneDNN custom operations are on.\n"
    "E0000 00:00:1795687601.301796    2065 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error\n"
)


def test_strip_tf_logs_keeps_python_warnings():
    warning = "/x.py:3: UserWarning: a lesson\n  warnings.warn('a lesson')\n"
    assert strip_tf_logs(REAL_TF_LOG + warning) == warning
    assert strip_tf_logs(REAL_TF_LOG).strip() == ""


def test_clean_outputs_drops_log_only_stderr():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("import tensorflow")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=REAL_TF_LOG),
                    nbformat.v4.new_output("stream", name="stdout", text="ok\n")]
    nb.cells = [cell]
    clean_outputs(nb)
    assert [o["name"] for o in nb.cells[0].outputs] == ["stdout"]


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_cli_basics(args):
    result = run_cli(*args)
    assert result.returncode == 0
    assert ("tapelab 0.1.0" in result.stdout) if args == ["--version"] else (
        "check-claims" in result.stdout and "errata" in result.stdout)


def test_demo_prints_real_numbers():
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "value = 36.0, gradient = 12.0" in out and "y: 6.0, z: 108.0" in out
    assert "dy/dv = 8.0" in out and "body unchanged: True" in out
    losses = [float(v) for v in out.split("epoch losses: ")[1].split("(")[0].split()]
    assert len(losses) == 3 and losses[2] < losses[0]
