"""What a pip user and a packager get: the sdist, the wheel built from it, and a fresh venv.

Everything is built offline (no build isolation, no index). The fresh venv gets the
two wheels, tapelab's and nbclaims', and nothing else: TensorFlow and the notebooks
extra come from this test's own environment through a path entry placed after the
venv's site-packages, so the tapelab it imports is the wheel's (each test says so).
"""

import email
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import nbclaims
import nbformat
import pytest
from packaging.requirements import Requirement

import tapelab

ROOT = Path(__file__).parent.parent
# builds two wheels and an sdist, makes a venv, runs a kernel; from the repository only (an
# sdist has no claims/ to build nbclaims from, and is what these tests check)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (ROOT / "claims" / "pyproject.toml").is_file(), reason="needs the repository")]


def run(*args, cwd=ROOT, env=None, timeout=600):
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """(sdist, unpacked sdist, tapelab wheel built from the sdist, nbclaims wheel)."""
    out = tmp_path_factory.mktemp("dist")
    code = "import sys\nfrom setuptools import build_meta as b\nprint(b.build_sdist(sys.argv[1]))"
    name = run(sys.executable, "-c", code, out).stdout.split()[-1]
    sdist = out / name
    with tarfile.open(sdist) as tar:
        tar.extractall(out / "unpacked", filter="data")
    unpacked = out / "unpacked" / name.removesuffix(".tar.gz")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
           "--no-index", "--quiet", "-w", out]
    run(*pip, unpacked)
    # nbclaims from a clean copy: a build/ folder left in claims/ would ship stale files
    claims = shutil.copytree(ROOT / "claims", out / "claims", ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    run(*pip, claims)
    wheel, = out.glob("tapelab-*.whl")
    claims_wheel, = out.glob("nbclaims-*.whl")
    return sdist, unpacked, wheel, claims_wheel


def metadata(wheel):
    with zipfile.ZipFile(wheel) as z:
        text = z.read(f"tapelab-{tapelab.__version__}.dist-info/METADATA").decode()
    return email.message_from_string(text)


def test_the_version_is_written_once_and_nbclaims_pin_admits_its_version(dist):
    _, _, wheel, _ = dist
    meta = metadata(wheel)
    assert meta["Version"] == tapelab.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"{tapelab.__version__}"' not in pyproject and 'dynamic = ["version"]' in pyproject
    pin, = [Requirement(r) for r in meta.get_all("Requires-Dist") if r.startswith("nbclaims")]
    assert pin.specifier.contains(nbclaims.__version__)


def test_the_wheel_holds_the_license_the_notebooks_and_every_folder(dist):
    _, _, wheel, claims_wheel = dist
    with zipfile.ZipFile(claims_wheel) as z:
        assert z.read(f"nbclaims-{nbclaims.__version__}.dist-info/licenses/LICENSE") == (
            ROOT / "LICENSE").read_bytes()
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        license_text = z.read(f"tapelab-{tapelab.__version__}.dist-info/licenses/LICENSE")
        for nb in (ROOT / "notebooks").glob("*.ipynb"):
            assert z.read(f"tapelab/_notebooks/{nb.name}") == nb.read_bytes(), nb.name
    assert license_text == (ROOT / "LICENSE").read_bytes()
    assert b"Apache License" in license_text and b"Version 2.0, January 2004" in license_text
    assert "tapelab/py.typed" in names
    assert not [n for n in names if n.endswith((".cfg", ".pyc", ".log", ".tmp"))]
    assert "tapelab/_examples/multi_worker_fine_tune.py" in names
    folders = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tapelab").rglob("__init__.py")}
    assert folders <= names, f"folders missing from the wheel: {sorted(folders - names)}"
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tapelab").rglob("*.py")}
    assert modules <= names, f"modules missing from the wheel: {sorted(modules - names)}"
    meta = metadata(wheel)
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert sorted(urls) == ["Changelog", "Documentation", "Issues", "Source"]
    assert meta["License-Expression"] == "Apache-2.0"


def test_the_sdist_holds_what_its_tests_need_and_they_collect(dist):
    sdist, unpacked, _, _ = dist
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    tracked = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert tracked <= names, f"missing from the sdist: {sorted(tracked - names)}"
    assert {"LICENSE", "CHANGELOG.md", "README.md", "Makefile"} <= names
    done = run(sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
               cwd=unpacked)
    assert " error" not in done.stdout, done.stdout[-2000:]
    collected = int(done.stdout.strip().splitlines()[-1].split()[0])
    assert collected > 500, done.stdout[-500:]


@pytest.fixture(scope="module")
def fresh(dist, tmp_path_factory):
    """A fresh venv with the two wheels installed; its Python and the folder to work in."""
    _, _, wheel, claims_wheel = dist
    where = tmp_path_factory.mktemp("fresh")
    venv = where / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
        "--no-index", wheel, claims_wheel)
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    # TensorFlow and the notebooks extra: this environment's packages, after the venv's own
    ours = sysconfig.get_paths()["purelib"]
    Path(site.stdout.strip(), "zz_test_dependencies.pth").write_text(ours + "\n")
    env = {**os.environ, "JUPYTER_DATA_DIR": str(where / "jupyter"),
           "IPYTHONDIR": str(where / "ipython"), "JUPYTER_RUNTIME_DIR": str(where / "runtime")}
    env.pop("PYTHONPATH", None)
    # the python3 kernel of the venv (the user's own kernelspecs are out of the way)
    run(python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3", env=env)
    return python, where, env


def test_a_fresh_venv_copies_the_notebooks_from_the_wheel_and_runs_one(fresh):
    python, where, env = fresh
    found = run(python, "-c", "import tapelab.copy_notebooks as c; print(c.__file__); "
                "print(c.notebook_files()['01_gradient_tape_basics.ipynb'])", cwd=where, env=env)
    module, notebook = found.stdout.split()
    assert module.startswith(str(where / "venv")) and "/_notebooks/" in notebook, found.stdout
    dest = where / "my notebooks"
    done = run(python.parent / "tapelab", "notebooks", dest, cwd=where, env=env)
    assert "9 notebooks copied into" in done.stdout
    from tapelab.copy_notebooks import relinked, source_url

    for nb in (ROOT / "notebooks").glob("*.ipynb"):  # links to repository files relinked
        copied = (dest / nb.name).read_bytes()  # with the wheel's own Source URL
        assert copied == relinked(nb.read_bytes(), source_url()) and b"](../" not in copied
    # which Python and which tapelab the kernel runs: the venv's
    probe = dest / "probe.ipynb"
    probe.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {
            "name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [{"cell_type": "code", "id": "probe", "metadata": {}, "outputs": [],
                   "execution_count": None,
                   "source": "import sys, tapelab\nprint(sys.prefix)\nprint(tapelab.__file__)"}],
    }))
    first = dest / "01_gradient_tape_basics.ipynb"
    done = run(python.parent / "tapelab", "run-notebooks", "--out", where / "out", probe, first,
               cwd=dest, env=env)
    assert "2 of 2 notebooks ran cleanly" in done.stdout, done.stdout
    outputs = nbformat.read(where / "out" / "probe.ipynb", as_version=4).cells[0].outputs
    prefix, module = "".join(o.get("text", "") for o in outputs).split("\n")[:2]
    assert Path(prefix) == where / "venv" and module.startswith(str(where / "venv")), outputs


def test_type_checkers_see_the_installed_api(fresh, tmp_path):
    python, _, _ = fresh
    uses = tmp_path / "uses.py"
    uses.write_text("import tapelab\n"
                    "tapelab.value_and_gradient(lambda x: x * x, 3.0)\n"
                    "tapelab.fine_tune(1, 2, 3)\n")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--python-executable", str(python), "--no-incremental",
         "--ignore-missing-imports", "--follow-imports=silent", str(uses)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    # without py.typed, mypy would read the installed package as untyped (Any): no error
    assert 'uses.py:3: error: Missing positional arguments "loss_fn", "optimizer"' in done.stdout, \
        done.stdout + done.stderr
    assert "uses.py:2" not in done.stdout
