"""``pytest --check-claims`` (nbclaims.pytest_plugin), run as users run it: a pytest process."""

import subprocess
import sys

import pytest
from sample import one_holds_one_not, stream, write


def run_pytest(folder, *args):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--rootdir", str(folder), *map(str, args)], cwd=folder,
                          capture_output=True, text=True, timeout=300, check=False)


def test_one_item_per_claim_named_by_notebook_cell_and_claim(tmp_path):
    one_holds_one_not(tmp_path / "s.ipynb")
    write(tmp_path / "twice.ipynb", ("print(1); print(1)  # Output: 1\n# Output: 1",
                                     [stream("1\n1\n")]))
    done = run_pytest(tmp_path, "--check-claims", "--collect-only", "-q")
    assert done.stdout.splitlines()[:4] == ["s.ipynb::cell 2 [12.0]", "s.ipynb::cell 3 [0.3333]",
                                            "twice.ipynb::cell 2 [1]", "twice.ipynb::cell 2 [1] #2"]


def test_a_failure_shows_the_claim_and_the_actual_output(tmp_path):
    one_holds_one_not(tmp_path / "s.ipynb")
    done = run_pytest(tmp_path, "--check-claims", "s.ipynb")
    assert done.returncode == 1
    assert "1 failed, 1 passed" in done.stdout
    assert "s.ipynb: cell 3: claim not in the stored output\n  claim:  0.3333\n  actual: 0.3333333333333333" \
        in done.stdout
    assert "FAILED s.ipynb::cell 3 [0.3333]" in done.stdout


def test_without_the_option_notebooks_are_not_collected(tmp_path):
    one_holds_one_not(tmp_path / "s.ipynb")
    done = run_pytest(tmp_path, "s.ipynb")
    assert done.returncode == 4 or "no tests ran" in done.stdout  # not found / nothing collected


def test_a_notebook_that_cannot_be_read_is_one_failing_item(tmp_path):
    (tmp_path / "broken.ipynb").write_text("{")
    done = run_pytest(tmp_path, "--check-claims", "-q")
    assert done.returncode == 1
    assert "broken.ipynb: not a valid notebook: " in done.stdout
    assert "Traceback" not in done.stdout


@pytest.mark.slow
def test_composes_with_nbval_in_one_run(tmp_path):
    """nbval runs each cell and compares; the plugin checks the claims of the same notebook."""
    write(tmp_path / "s.ipynb",
          ("x = 6 * 2.0\nprint(x)  # Output: 12.0", [stream("12.0\n")]),
          ("print(x / 4)  # Output: 3.0", [stream("3.0\n")]),
          metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}})
    done = run_pytest(tmp_path, "--nbval", "--nbval-current-env", "--check-claims", "-v",
                      "s.ipynb")
    assert done.returncode == 0, done.stdout + done.stderr
    for item in ("::Cell 0 PASSED", "::Cell 1 PASSED",  # nbval names them s::ipynb::Cell 0
                 "s.ipynb::cell 2 [12.0] PASSED", "s.ipynb::cell 3 [3.0] PASSED"):
        assert item in done.stdout, done.stdout
    assert "4 passed" in done.stdout


@pytest.mark.slow
def test_claims_against_stored_or_freshly_executed_outputs(tmp_path):
    """A stale stored output fails the stored check; a fresh run holds the claim."""
    write(tmp_path / "s.ipynb",
          ("print(6 * 2.0)  # Output: 12.0", [stream("11.0\n")]),  # stale
          ("1 / 0  # Output: ZeroDivisionError: division by zero", []),  # never stored
          metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}})
    stored = run_pytest(tmp_path, "--check-claims", "s.ipynb")
    assert "2 failed" in stored.stdout, stored.stdout
    fresh = run_pytest(tmp_path, "--check-claims", "--check-claims-outputs=executed", "s.ipynb")
    assert fresh.returncode == 0 and "2 passed" in fresh.stdout, fresh.stdout + fresh.stderr
    # the notebook itself is not written
    assert "11.0" in (tmp_path / "s.ipynb").read_text()


@pytest.mark.slow
def test_a_run_that_stops_runs_once_and_says_so_in_one_line_per_claim(tmp_path):
    """A cell over the timeout: the notebook ran once; the claim before it is checked on
    its fresh output, the claims from it on fail with one line that says why."""
    log = tmp_path / "runs.log"
    write(tmp_path / "s.ipynb",
          (f"open({str(log)!r}, 'a').write('ran\\n')\nprint(1)  # Output: 1", []),
          ("import time\ntime.sleep(60)\nprint(2)  # Output: 2", []),
          ("print(3)  # Output: 3", []))
    done = run_pytest(tmp_path, "--check-claims", "--check-claims-outputs=executed",
                      "--check-claims-timeout=2", "-q", "s.ipynb")
    assert done.returncode == 1, done.stdout + done.stderr
    assert log.read_text() == "ran\n"  # once, not once per claim
    assert "2 failed, 1 passed" in done.stdout
    assert ("s.ipynb: cell 3: not checked: the run stopped in this cell (CellTimeoutError: "
            "cell 3 ran over 2 seconds)") in done.stdout
    assert "s.ipynb: cell 4: not checked: the run stopped at cell 3, before this one" \
        in done.stdout
    assert "Traceback" not in done.stdout and len(done.stdout.splitlines()) < 40, done.stdout


@pytest.mark.slow
def test_a_missing_kernel_fails_each_claim_in_one_line(tmp_path):
    write(tmp_path / "s.ipynb", ("print(1)  # Output: 1", []),
          metadata={"kernelspec": {"name": "nosuchkernel", "display_name": "?",
                                   "language": "python"}})
    done = run_pytest(tmp_path, "--check-claims", "--check-claims-outputs=executed", "-q",
                      "s.ipynb")
    assert done.returncode == 1
    assert "cell 2: not checked: the kernel did not start: NoSuchKernel: No such kernel " \
        "named nosuchkernel" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout and len(done.stdout.splitlines()) < 20


def test_item_names_say_what_kind_of_claim_fails(tmp_path):
    write(tmp_path / "s.ipynb", ("print(1)  # Output:\nprint(2)  # output: 2", [stream("1\n2\n")]),
          ('print("x  # Output: 3', [stream("3\n")]))
    done = run_pytest(tmp_path, "--check-claims", "--collect-only", "-q")
    assert done.stdout.splitlines()[:3] == ["s.ipynb::cell 2 (empty claim)",
                                            "s.ipynb::cell 2 (malformed claim)",
                                            "s.ipynb::cell 3 (unreadable claim)"]
