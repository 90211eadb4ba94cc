"""The check-claims command (nbclaims.cli): its report, its help and its exit codes."""

import subprocess
import sys

import pytest
from sample import one_holds_one_not, stream, write


def check(*args):
    return subprocess.run([sys.executable, "-m", "nbclaims", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_exit_0_when_every_claim_holds(tmp_path):
    path = write(tmp_path / "ok.ipynb", ("print(12.0)  # Output: 12.0", [stream("12.0\n")]))
    done = check(path)
    assert (done.returncode, done.stdout) == (0, "check-claims: 1 of 1 claims hold in 1 notebook(s)\n")


def test_exit_1_with_the_claim_and_the_actual_output(tmp_path):
    path = one_holds_one_not(tmp_path / "s.ipynb")
    done = check(path)
    assert done.returncode == 1
    assert done.stdout == (f"{path}: cell 3: claim not in the stored output\n  claim:  0.3333\n"
                           "  actual: 0.3333333333333333\n"
                           "check-claims: 1 of 2 claims hold in 1 notebook(s)\n")


@pytest.mark.parametrize("content", ["{", '{"cells": [' + "[" * 100_000 + "]}"])
def test_exit_2_in_one_line_for_a_file_that_is_no_notebook(tmp_path, content):
    path = tmp_path / "x.ipynb"
    path.write_text(content)
    done = check(path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"check-claims: {path}: not a valid notebook: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_exit_2_for_a_path_that_names_none(tmp_path):
    done = check(tmp_path / "none.ipynb")
    assert done.returncode == 2 and "none.ipynb: it does not exist" in done.stderr
    done = check("")
    assert done.returncode == 2 and "no notebook at '' (an empty path" in done.stderr


def test_help_explains_the_syntax_the_token_rule_and_the_exit_codes():
    done = check("--help")
    assert done.returncode == 0
    for text in ("# Output: 12.0", "token boundaries", '"inf"\nnot in "-inf"', "Exit codes:",
                 "0  every claim holds", "1  some claim does not hold", "2  a path names no",
                 "not nbformat 3 or 4", "numbered from 1, markdown cells included"):
        assert text in done.stdout, text


def test_the_console_script_is_installed():
    import shutil
    from pathlib import Path

    script = shutil.which("check-claims", path=str(Path(sys.executable).parent))
    assert script, "pip install -e ./claims installs the check-claims command"
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and done.stdout.startswith("usage: check-claims")
