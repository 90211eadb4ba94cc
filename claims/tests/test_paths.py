"""Which notebooks a list of paths names (nbclaims.paths)."""

import pytest
from nbclaims import NoNotebookError, find_notebooks
from sample import one_holds_one_not


def test_files_and_folders_in_order_without_checkpoints(tmp_path):
    (tmp_path / "sub" / ".ipynb_checkpoints").mkdir(parents=True)
    b = one_holds_one_not(tmp_path / "sub" / "b.ipynb")
    a = one_holds_one_not(tmp_path / "a.ipynb")
    one_holds_one_not(tmp_path / "sub" / ".ipynb_checkpoints" / "b-checkpoint.ipynb")
    assert find_notebooks([tmp_path]) == [a, b]
    assert find_notebooks([b, a]) == [b, a]


def test_a_path_that_names_no_notebook(tmp_path):
    with pytest.raises(NoNotebookError, match="no notebook at .*x.txt"):
        find_notebooks([tmp_path / "x.txt"])
    with pytest.raises(NoNotebookError, match="no notebook in "):
        find_notebooks([tmp_path])


def test_folders_pytest_skips_are_skipped_unless_named(tmp_path):
    keep = one_holds_one_not(tmp_path / "notebooks" / "ok.ipynb") if \
        (tmp_path / "notebooks").mkdir() is None else None
    for skipped in (".venv/lib", "node_modules/pkg", "build", "dist", ".git", "env_with_cfg"):
        (tmp_path / skipped).mkdir(parents=True)
        (tmp_path / skipped / "x.ipynb").write_text("not a notebook")
    (tmp_path / "env_with_cfg" / "pyvenv.cfg").write_text("home = /usr\n")
    assert find_notebooks([tmp_path]) == [keep]
    assert find_notebooks([tmp_path / "build"]) == [tmp_path / "build" / "x.ipynb"]


def test_a_path_given_twice_is_checked_once(tmp_path):
    a = one_holds_one_not(tmp_path / "a.ipynb")
    assert find_notebooks([tmp_path, a, str(a)]) == [a]


def test_an_empty_path_is_not_the_current_folder():
    with pytest.raises(NoNotebookError, match=r"no notebook at '' \(an empty path"):
        find_notebooks([""])


CHILD = """
import os, sys
from nbclaims import find_notebooks, NoNotebookError
if os.getuid() == 0:
    os.setuid(65534)  # nobody, who may not read the locked folder
try:
    find_notebooks([sys.argv[1]])
except NoNotebookError as exc:
    print("NoNotebookError:", exc)
"""


def test_a_folder_that_cannot_be_read_is_an_error_not_a_skip():
    """As root every folder is readable, so the search runs in a child that drops to nobody."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    top = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        os.chmod(top, 0o755)
        one_holds_one_not(top / "ok.ipynb")
        (top / "locked").mkdir()
        one_holds_one_not(top / "locked" / "hidden.ipynb")
        for p in (top / "ok.ipynb", top / "locked" / "hidden.ipynb"):
            os.chmod(p, 0o644)
        os.chmod(top / "locked", 0o000)
        done = subprocess.run([sys.executable, "-c", CHILD, str(top)], capture_output=True,
                              text=True, timeout=60, check=False)
    finally:
        os.chmod(top / "locked", 0o755)
        shutil.rmtree(top)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"NoNotebookError: cannot read the folder {top / 'locked'} "
                                  "(PermissionError: Permission denied)"), done.stdout
