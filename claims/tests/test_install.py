"""nbclaims alone, in a fresh venv without TensorFlow: the command and the pytest plugin.

pip installs from this machine's configured package index (a local one; nothing
is downloaded from the network). The venv is built once for the module.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from sample import one_holds_one_not

CLAIMS = Path(__file__).resolve().parents[1]  # the distribution: claims/pyproject.toml

pytestmark = pytest.mark.slow


def run(*args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=600, check=False, **kwargs)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    where = tmp_path_factory.mktemp("venv") / "v"
    made = run(sys.executable, "-m", "venv", where)
    assert made.returncode == 0, made.stderr
    python = where / "bin" / "python"
    done = run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               CLAIMS, "pytest")
    assert done.returncode == 0, done.stdout + done.stderr
    return python


def test_the_venv_has_no_tensorflow(venv):
    done = run(venv, "-c", "import tensorflow")
    assert done.returncode == 1 and "No module named 'tensorflow'" in done.stderr
    listed = run(venv, "-m", "pip", "list", "--format=freeze").stdout.lower()
    assert "nbclaims==" in listed and "tensorflow" not in listed and "keras" not in listed


def test_check_claims_runs_there(venv, tmp_path):
    path = one_holds_one_not(tmp_path / "s.ipynb")
    done = run(venv.parent / "check-claims", path)
    assert done.returncode == 1, done.stderr
    assert done.stdout.endswith("check-claims: 1 of 2 claims hold in 1 notebook(s)\n")
    assert "claim:  0.3333" in done.stdout


def test_pytest_check_claims_runs_there(venv, tmp_path):
    one_holds_one_not(tmp_path / "s.ipynb")
    done = run(venv, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", tmp_path,
               "--check-claims", "-v", "s.ipynb", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "s.ipynb::cell 2 [12.0] PASSED" in done.stdout
    assert "s.ipynb::cell 3 [0.3333] FAILED" in done.stdout
    assert "1 failed, 1 passed" in done.stdout


def test_below_comes_with_it(venv):
    done = run(venv, "-c", "from nbclaims import below; print(below(2e-8, 1e-6))")
    assert done.stdout == "below 1e-6\n", done.stderr


def test_executed_outputs_without_nbclient_is_one_usage_error(venv, tmp_path):
    one_holds_one_not(tmp_path / "s.ipynb")
    done = run(venv, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", tmp_path,
               "--check-claims", "--check-claims-outputs=executed", "s.ipynb", cwd=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert "needs nbclient and a kernel: pip install 'nbclaims[execute]'" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
