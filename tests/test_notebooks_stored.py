"""The stored notebooks follow the project's rules (nbval checks their outputs)."""

import re
from pathlib import Path

import nbformat
import pytest

from tapelab.notebooks import TF_LOG_LINE, claims

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_the_notebooks_exist_in_reading_order():
    names = [p.name[:3] for p in NOTEBOOKS]
    assert names[:7] == ["01_", "02_", "03_", "04_", "05_", "06_", "07_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_rules(path):
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
    # a markdown note before each code cell
    for i in code:
        assert i > 0 and cells[i - 1].cell_type == "markdown", f"code cell {i + 1} has no note"
    # outputs are stored, with no TF log lines and no timing metadata
    assert all(cells[i].get("execution_count") for i in code), "run `make notebooks`"
    for i in code:
        for out in cells[i].outputs:
            text = out.get("text", "") + str(out.get("evalue", ""))
            assert not TF_LOG_LINE.search(text), f"TF log line stored in cell {i + 1}"
            assert not re.search(r"0x[0-9a-f]{6,}", text), f"memory address in cell {i + 1}"
        assert "execution" not in cells[i].metadata
    # seeds are set, and every # Output: claim holds
    assert "set_random_seed" in "".join(cells[i].source for i in code)
    assert all(c.holds for c in claims(path))
