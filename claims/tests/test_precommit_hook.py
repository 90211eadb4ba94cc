"""The hook that the repository's .pre-commit-hooks.yaml defines, run by pre-commit itself.

pre-commit would install a hook repository's root package, tapelab (with
TensorFlow), so the test runs the same hook definition as a `repo: local` hook
with nbclaims as its one dependency: the light set-up the book recommends.
pip installs from this machine's configured (local) package index.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sample import one_holds_one_not, stream, write

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / ".pre-commit-hooks.yaml"

# the hook file is tapelab's repository's, outside nbclaims' own sdist: there, nothing to test
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not HOOKS.is_file(), reason="run from nbclaims' sdist: no repository around it")]


def test_the_hook_runs_on_staged_notebooks(tmp_path):
    import yaml  # comes with pre-commit
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    assert pre_commit, "pre-commit is a dev dependency (pip install -e '.[dev]')"
    (hook,) = yaml.safe_load(HOOKS.read_text())
    assert (hook["id"], hook["entry"], hook["language"]) == \
        ("check-claims", "check-claims", "python")
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}

    def run(*args):
        return subprocess.run(list(args), cwd=repo, env=env, capture_output=True, text=True,
                              timeout=600, check=False)

    config = {"repos": [{"repo": "local",
                         "hooks": [{**hook, "additional_dependencies": [str(ROOT / "claims")]}]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    write(repo / "good.ipynb", ("print(12.0)  # Output: 12.0", [stream("12.0\n")]))
    (repo / "notes.txt").write_text("# Output: not a notebook, not checked\n")
    assert run("git", "init", "-q").returncode == 0
    assert run("git", "add", "-A").returncode == 0

    done = run(pre_commit, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed" in done.stdout

    one_holds_one_not(repo / "bad.ipynb")
    run("git", "add", "bad.ipynb")
    done = run(pre_commit, "run")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "bad.ipynb: cell 3: claim not in the stored output" in done.stdout
    assert "check-claims: 2 of 3 claims hold in 2 notebook(s)" in done.stdout

    # the hook's environment holds the checker and no TensorFlow
    (python,) = (tmp_path / "cache").glob("repo*/py_env-*/bin/python")
    assert run(python, "-c", "import nbclaims").returncode == 0
    assert "No module named 'tensorflow'" in run(python, "-c", "import tensorflow").stderr
