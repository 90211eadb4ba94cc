"""docs/build.py: the book's generated pages, and a build that fails on a broken reference.

The built site itself is checked in a browser by tests/browser/ (`make test-browser`).
"""

import importlib.util
import re
from pathlib import Path

import pytest

import tapelab

ROOT = Path(__file__).resolve().parents[1]


def load_build():
    spec = importlib.util.spec_from_file_location("book_build", ROOT / "docs" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_api_page_documents_every_public_name():
    pytest.importorskip("sphinx")  # the `docs` extra (not in `make test-min`'s venv)
    page = load_build().api_page()
    for name in tapelab.__all__:
        assert page.count(f":: tapelab.{name}\n") == 1, name
    # what the helpers return is documented too, so their docstrings' links resolve
    assert ":: tapelab.diagnose.gradcheck_report.GradientCheck\n" in page


def test_every_notebook_is_on_the_home_page_once():
    build = load_build()
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    home = build.tracks(notebooks)
    for nb in notebooks:
        assert home.count(f"\nnotebooks/{nb.stem}\n") == 1, nb.name  # in one toctree
        assert home.count(f"(notebooks/{nb.name})") == 1, nb.name  # and one list entry


def test_a_notebook_outside_both_tracks_still_gets_a_page(tmp_path):
    build = load_build()
    extra = tmp_path / "99_new.ipynb"
    extra.write_text('{"cells": [{"cell_type": "markdown", "metadata": {}, "source": '
                     '["# 99 · New\\n\\nA new notebook. More text."]}], "metadata": {}, '
                     '"nbformat": 4, "nbformat_minor": 5}')
    home = build.tracks([extra])
    assert "### More notebooks" in home
    assert "- [99 · New](notebooks/99_new.ipynb): A new notebook." in home


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*is deprecated. Check CHANGES for Sphinx API")  # theirs
def test_a_broken_cross_reference_fails_the_build(tmp_path, capsys):
    pytest.importorskip("myst_nb")
    build = load_build()
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.md").write_text("# Book\n\nSee [the API](missing.md) and "
                                  "{py:func}`tapelab.no_such_helper`.\n")
    status = build.sphinx(src, tmp_path / "site", tmp_path / "doctrees")
    err = capsys.readouterr().err
    assert status != 0
    assert "missing.md" in err and "tapelab.no_such_helper" in err


def test_the_token_rule_table_of_the_claims_page_is_what_the_checker_does():
    """docs/checking_notebooks.md: each row's verdict is nbclaims.occurs's (docs are claims)."""
    from nbclaims import occurs

    page = (ROOT / "docs" / "checking_notebooks.md").read_text()
    rows = re.findall(r"^\| `([^`]*)` \| `([^`]*)` \| (yes|no) \|", page, re.MULTILINE)
    assert len(rows) >= 12
    for claim, output, verdict in rows:
        assert occurs(claim, output) == (verdict == "yes"), (claim, output)
