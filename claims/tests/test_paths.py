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
