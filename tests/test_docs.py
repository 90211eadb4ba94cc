"""The book (docs/): its generated pages, its home page, its tracks, and a plain build.

`sphinx-build docs build/site` builds the whole book (docs/conf.py and its extensions in
docs/_ext/). The built site itself is checked in a browser by tests/browser/
(`make test-browser`).
"""

import doctest
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tapelab

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
HOME = (DOCS / "index.md").read_text()


def ext(name):
    """A module of docs/_ext/, imported as the book's build imports it."""
    if str(DOCS / "_ext") not in sys.path:
        sys.path.insert(0, str(DOCS / "_ext"))
    return importlib.import_module(name)


@pytest.mark.parametrize("name", ["book_tracks", "book_links", "book_search"])
def test_the_extensions_docstring_examples_hold(name):
    pytest.importorskip("sphinx")  # the `docs` extra (not in `make test-min`'s venv)
    module = ext(name)
    result = doctest.testmod(module)
    assert result.attempted >= 1 and result.failed == 0, name


def test_the_api_page_documents_every_public_name():
    pytest.importorskip("sphinx")
    page = ext("book_api").api_page()
    for name in tapelab.__all__:
        assert page.count(f":: tapelab.{name}\n") == 1, name
    # what the helpers return is documented too, so their docstrings' links resolve
    assert ":: tapelab.diagnose.gradcheck_report.GradientCheck\n" in page


# ---------------------------------------------------------------- the home page


def title(nb):
    """A notebook's title: its first level-1 heading."""
    for cell in json.loads(nb.read_text())["cells"]:
        found = re.search(r"^#\s+(.+)$", "".join(cell["source"]), re.MULTILINE)
        if cell["cell_type"] == "markdown" and found:
            return found.group(1).strip()
    raise AssertionError(f"{nb.name} has no title")


def home_entries():
    """``{notebook file name: (link text, minutes, blurb)}`` of the home page's lists."""
    entries = {}
    for text, path, minutes, blurb in re.findall(
            r"^- \[(.+?)\]\(notebooks/(\S+?\.ipynb)\)\s*\((\d+) min\):\s*(.+?)(?=\n- |\n\n)",
            HOME, re.MULTILINE | re.DOTALL):
        assert path not in entries, f"{path} is listed twice on the home page"
        entries[path] = (text, int(minutes), " ".join(blurb.split()))
    return entries


def test_every_notebook_is_on_the_home_page_once_with_a_blurb_and_a_time():
    entries = home_entries()
    assert sorted(entries) == [nb.name for nb in NOTEBOOKS]
    for nb in NOTEBOOKS:
        assert HOME.count(f"\nnotebooks/{nb.stem}\n") == 1, nb.name  # in one toctree
        assert len(entries[nb.name][2].split()) >= 8, f"{nb.name}'s blurb is too short"


def test_each_blurb_names_what_its_notebook_s_title_names():
    """The link text is the notebook's number and title (as on its page), or their start."""
    for nb in NOTEBOOKS:
        text, _, _ = home_entries()[nb.name]
        full = title(nb)
        assert text.startswith(nb.name[:2] + " · "), (nb.name, text)
        assert full.startswith(text) or text.startswith(full), (nb.name, text, full)


def test_each_time_follows_the_rule_the_home_page_states():
    """150 words and 10 lines of code a minute, and 10 minutes for the exercises."""
    assert "150 words and 10\nlines of code a minute, and 10 minutes" in HOME
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text())["cells"]
        words = sum(len("".join(c["source"]).split()) for c in cells
                    if c["cell_type"] == "markdown")
        lines = sum(len("".join(c["source"]).splitlines()) for c in cells
                    if c["cell_type"] == "code")
        rule = words / 150 + lines / 10 + 10
        stated = home_entries()[nb.name][1]
        assert 0.75 * rule <= stated <= 1.25 * rule, (nb.name, stated, round(rule))


def test_the_tracks_hold_every_notebook_and_the_home_page_lists_them_in_track_order():
    tracks = ext("book_tracks")
    numbers = [nb.name[:2] for nb in NOTEBOOKS]
    on_a_track = {n for track in tracks.TRACKS.values() for n in track}
    assert on_a_track == set(numbers), "a notebook on no track gets no previous/next"
    order = [m for m in re.findall(r"\(notebooks/(\d\d)_", HOME)]
    listed = list(dict.fromkeys(order))
    autodiff, fine = tracks.TRACKS["autodiff"], tracks.TRACKS["fine-tuning"]
    assert [n for n in listed if n in autodiff] == list(autodiff)
    assert [n for n in listed if n in fine and n not in tracks.BASICS] == list(fine[1:])


def test_a_notebook_s_neighbours_follow_its_track():
    neighbours = ext("book_tracks").neighbours
    assert neighbours("01") == (None, [("02", "autodiff")])
    assert neighbours("04") == ("03", [("06", "autodiff"), ("05", "fine-tuning")])
    assert neighbours("05") == ("04", [("08", "fine-tuning")])
    assert neighbours("06") == ("04", [("07", "autodiff")])
    assert neighbours("08") == ("05", [])
    assert neighbours("09") == ("07", [])


def test_a_notebook_link_to_a_repository_file_resolves_only_to_a_real_file():
    pytest.importorskip("sphinx")  # the `docs` extra (not in `make test-min`'s venv)
    links = ext("book_links")
    doc = "notebooks/08_fine_tuning_for_real"
    assert links.repository_file(doc, "../examples/multi_worker_fine_tune.py") == \
        "examples/multi_worker_fine_tune.py"
    assert links.repository_file(doc, "../README.md#install") == "README.md"
    assert links.repository_file(doc, "../examples/missing.py") is None
    assert links.repository_file(doc, "../../etc/passwd") is None  # outside the repository
    assert links.repository_file("index", "README.md") is None  # only from a notebook
    assert links.source_url().startswith("https://")


def test_the_search_keeps_decimal_numbers_whole():
    pytest.importorskip("sphinx")
    lang = ext("book_search").SearchNumbers({})
    words = lang.split("says 6.0, TensorFlow says 12.0 at x = 5")
    assert "12.0" in words and "6.0" in words
    assert all(lang.word_filter(lang.stem(w)) for w in ["12.0", "6.0", "1797"])
    assert not lang.word_filter("the")  # stopwords stay out
    assert "splitQuery" in lang.js_splitter_code


def test_every_seed_claim_of_the_errata_links_the_notebook_section_that_shows_it():
    """SHOWN_IN names each claim tapelab.errata checks (its anchors are checked by the
    build, which fails on a missing one, and by the browser test)."""
    pytest.importorskip("sphinx")
    source = (ROOT / "tapelab" / "errata.py").read_text()
    claims = set(re.findall(r'Erratum\(\s*"([^"]+)"', source))
    shown_in = ext("book_pages").SHOWN_IN
    assert len(claims) >= 10 and claims == set(shown_in)
    for stem, anchor in shown_in.values():
        assert (ROOT / "notebooks" / f"{stem}.ipynb").exists(), stem


def test_a_documentation_host_builds_the_book_as_make_docs_does():
    """.readthedocs.yaml: docs/conf.py, warnings as errors, nbclaims before tapelab[docs]."""
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / ".readthedocs.yaml").read_text())
    assert config["version"] == 2
    assert config["sphinx"] == {"configuration": "docs/conf.py", "builder": "html",
                                "fail_on_warning": True}
    installs = config["python"]["install"]
    assert [i["path"] for i in installs] == ["claims", "."]
    assert installs[1]["extra_requirements"] == ["docs"]
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "docs" in project["optional-dependencies"]
    assert any(dep.startswith("sphinx-copybutton") for dep in
               project["optional-dependencies"]["docs"])


# ---------------------------------------------------------------- builds


def sphinx_build(*args):
    return subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going",
                           "-E", "-q", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=900, check=False)


@pytest.mark.slow
def test_plain_sphinx_build_builds_the_whole_book_and_writes_only_ignored_files(tmp_path):
    pytest.importorskip("myst_nb")
    pytest.importorskip("sphinx_copybutton")
    done = sphinx_build("-d", tmp_path / "doctrees", DOCS, tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    site = tmp_path / "site"
    for page in ["index", "api", "errata", "speed", "checking_notebooks"]:
        assert (site / f"{page}.html").exists(), page
    for nb in NOTEBOOKS:
        assert (site / "notebooks" / f"{nb.stem}.html").exists(), nb.name
    assert '"12.0"' in (site / "searchindex.js").read_text()  # numbers are searchable
    if (ROOT / ".git").exists():  # what the build wrote into docs/ is ignored by git
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all",
                                 "docs"], capture_output=True, text=True, cwd=ROOT,
                                check=True).stdout
        untracked = [line for line in status.splitlines() if line.startswith("??")]
        assert not untracked, untracked


@pytest.mark.slow
def test_a_broken_cross_reference_fails_the_build(tmp_path):
    pytest.importorskip("myst_nb")
    src = tmp_path / "src"
    src.mkdir()
    book = ext("book_links").documentation_url()
    (src / "index.md").write_text(
        "# Book\n\nSee [the API](missing.md), {py:func}`tapelab.no_such_helper` and "
        f"[a gone helper]({book}/en/latest/api.html#tapelab.gone_helper).\n")
    done = sphinx_build("-c", DOCS, "-d", tmp_path / "doctrees", src, tmp_path / "site")
    assert done.returncode != 0
    for name in ("missing.md", "tapelab.no_such_helper", "tapelab.gone_helper"):
        assert name in done.stderr, name


def test_the_token_rule_table_of_the_claims_page_is_what_the_checker_does():
    """docs/checking_notebooks.md: each row's verdict is nbclaims.occurs's (docs are claims)."""
    from nbclaims import occurs

    page = (DOCS / "checking_notebooks.md").read_text()
    rows = re.findall(r"^\| `([^`]*)` \| `([^`]*)` \| (yes|no) \|", page, re.MULTILINE)
    assert len(rows) >= 12
    for claim, output, verdict in rows:
        assert occurs(claim, output) == (verdict == "yes"), (claim, output)
