"""check-claims: `# Output:` comments against stored notebook outputs."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import tapelab
from tapelab.claims import Claim, claims
from tapelab.notebooks import clean_outputs
from tapelab.tf_logs import strip as strip_tf_logs

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
    assert f"{SEED}: cell 1: claim not in the stored output" in result.stdout
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
    ('{"cells": [', "it is not JSON"),
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
    assert result.returncode == 1 and "cell 2: claim not in the stored output" in result.stdout


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
    assert (f"tapelab {tapelab.__version__}\n" == result.stdout) if args == ["--version"] else (
        "check-claims" in result.stdout and "errata" in result.stdout
        and "notebooks" in result.stdout)


@pytest.mark.slow  # a new process imports TensorFlow
def test_demo_prints_real_numbers():
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "value = 36.0, gradient = 12.0" in out and "y: 6.0, z: 108.0" in out
    assert "dy/dv = 8.0" in out and "body unchanged: True" in out
    losses = [float(v) for v in out.split("epoch losses: ")[1].split("(")[0].split()]
    assert len(losses) == 3 and losses[2] < losses[0]


# --- claims match whole tokens; empty, unreadable and huge cases ------------


@pytest.mark.parametrize("text, actual, holds", [
    ("2.0", "12.0", False),  # inside a longer number, before
    ("2.0", "2.05", False),  # ... and after
    ("2", "2.5", False),  # a "." and a digit continue the number
    ("2.", "2.05", False),
    ("5", "0.5", False),
    ("2.0", "-2.0", False),  # a sign belongs to the number
    ("1.5", "1.5e-3", False),
    ("True", "Trueish", False),
    ("Error", "ValueError: x", False),
    ("12.0", "tf.Tensor(12.0, shape=(), dtype=float32)", True),
    ("2.0", "12.0 then 2.0", True),  # a later occurrence on boundaries
    ("has 5", "this run has 5.", True),  # a full stop ends a sentence, not a number
    ("x - 2.0", "y = x - 2.0", True),
    ("-0.4161", "-0.4161\n", True),
    ("None", "[3.0, None]", True),
    ("[2. 4. 6.]", "[2. 4. 6.]", True),
], ids=repr)
def test_a_claim_holds_only_on_token_boundaries(text, actual, holds):
    assert Claim("nb.ipynb", 1, text, actual).holds is holds


def test_the_seed_case_on_boundaries():
    (seed,) = claims(SEED)
    assert not Claim(seed.notebook, 1, "6.0", seed.actual).holds
    assert Claim(seed.notebook, 1, "12.0", seed.actual).holds


def test_an_empty_claim_is_an_error(tmp_path):
    path = notebook(tmp_path, "print(1)  # Output:", "1\n")
    (claim,) = claims(path)
    assert claim.text == "" and not claim.holds
    result = run_cli("check-claims", str(path))
    assert result.returncode == 1
    assert f"{path}: cell 2: empty claim" in result.stdout
    assert "0 of 1 claims hold" in result.stdout


def test_a_cell_that_cannot_be_tokenized_is_unreadable_not_a_bogus_claim(tmp_path):
    path = notebook(tmp_path, "print('# Output: 99')\nx = (", "99\n")
    (claim,) = claims(path)
    assert claim.unreadable and not claim.holds and claim.text == ""
    result = run_cli("check-claims", str(path))
    assert result.returncode == 1
    assert f"{path}: cell 2: unreadable cell" in result.stdout
    assert "99')" not in result.stdout
    assert "0 of 0 claims hold in 1 notebook(s); 1 cell(s) unreadable" in result.stdout


def test_a_cell_with_a_syntax_error_and_no_claim_has_no_claims(tmp_path):
    assert claims(notebook(tmp_path, "x = (", "")) == []


def test_a_failing_claim_on_a_huge_output_is_shortened(tmp_path):
    line = "x" * 99 + "\n"
    path = notebook(tmp_path, "print(big)  # Output: small", line * 200_000)  # 20 MB
    result = run_cli("check-claims", str(path))
    assert result.returncode == 1
    assert len(result.stdout) < 5_000
    shown = 20 * len(line) - 1  # the first 20 lines, without the last newline
    assert f"… ({200_000 * len(line) - 1 - shown} more characters)" in result.stdout


def test_folders_are_searched_recursively_without_checkpoints(tmp_path):
    (tmp_path / "sub").mkdir()
    notebook(tmp_path / "sub", "print(1)  # Output: 2", "1\n")
    (tmp_path / "sub" / ".ipynb_checkpoints").mkdir()
    notebook(tmp_path / "sub" / ".ipynb_checkpoints", "print(1)  # Output: 3", "1\n")
    result = run_cli("check-claims", str(tmp_path))
    assert result.returncode == 1
    assert f"{tmp_path / 'sub' / 'nb.ipynb'}: cell 2: claim not in the stored output" in result.stdout
    assert ".ipynb_checkpoints" not in result.stdout
    assert "0 of 1 claims hold in 1 notebook(s)" in result.stdout


def test_a_folder_without_notebooks_is_an_error(tmp_path):
    result = run_cli("check-claims", str(tmp_path))
    assert result.returncode == 2
    assert f"no notebook in {tmp_path}" in result.stderr


def test_run_notebooks_refuses_a_missing_path_before_running_anything(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "tapelab", "run-notebooks", "--out",
                             str(tmp_path / "build"), str(tmp_path / "nope.ipynb")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "no notebook at" in result.stderr and "nothing was run" in result.stderr
