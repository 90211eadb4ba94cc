"""The notebooks are one click apart: every mention of another notebook is a link, every
relative link resolves, each "Next" links where its track goes, and every figure has alt text.

The links are relative Markdown links (``[notebook 05](05_fine_tuning_layer_subsets.ipynb)``):
they work in Jupyter, and myst-nb turns a link to a notebook into a link to its book page.
Alt text is cell metadata myst-nb reads for image outputs (``mystnb.image.alt``).
"""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
BY_NUMBER = {p.name[:2]: p for p in NOTEBOOKS}

# where each notebook's "Next" leads, along the two tracks (autodiff: 01 02 03 04 06 07 09;
# fine-tuning: 05 08, after 04); the end of each track points to the start of the other
NEXT = {"01": {"02"}, "02": {"03"}, "03": {"04"}, "04": {"05", "06"}, "05": {"08"},
        "06": {"07"}, "07": {"09"}, "08": {"06"}, "09": {"05"}}

LINK = re.compile(r"(?<!!)\[(?P<text>(?:[^\[\]]|\[[^\]]*\])*)\]\((?P<target>[^)\s]+)\)")
# "notebook 05", "Notebook 05's", "notebooks 02 and 03", "notebooks 02, 03 and 06"
MENTION = re.compile(r"\b[Nn]otebooks?\s+(\d\d)\b((?:\s*(?:,|and|or)\s*\d\d\b)*)")
NUMBER = re.compile(r"\d\d")


def _prose(source):
    """``source`` with code (fenced and inline) and math blanked, offsets kept."""
    blank = lambda m: re.sub(r"[^\n]", " ", m.group(0))
    text = re.sub(r"^(```|~~~).*?^\1", blank, source, flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r"`[^`\n]*`", blank, text)
    text = re.sub(r"\$\$.*?\$\$", blank, text, flags=re.DOTALL)
    return re.sub(r"(?<!\\)\$[^$\n]*(?<!\\)\$", blank, text)


def links(source):
    """``[(text, target)]`` of a markdown cell's links (images, code and math left out)."""
    return [(m["text"], m["target"]) for m in LINK.finditer(_prose(source))]


def unlinked_mentions(source, own):
    """The numbers of the notebooks ``source`` names ("notebook NN") outside a link's text.

    A mention of the notebook itself (``own``) needs no link.
    """
    prose = _prose(source)
    # the text as read, each character marked with whether it sits inside a link's text
    chars, linked, end = [], [], 0
    for m in LINK.finditer(prose):
        chars.append(prose[end:m.start()])
        linked += [False] * (m.start() - end)
        chars.append(m["text"])
        linked += [True] * len(m["text"])
        end = m.end()
    chars.append(prose[end:])
    linked += [False] * (len(prose) - end)
    read = "".join(chars)
    found = []
    for m in MENTION.finditer(read):
        for n in NUMBER.finditer(m.group(0)):
            at = m.start() + n.start()
            if n.group(0) != own and not all(linked[at:at + 2]):
                found.append(n.group(0))
    return found


def _markdown(path):
    return [(i, c.source) for i, c in enumerate(nbformat.read(path, as_version=4).cells)
            if c.cell_type == "markdown"]


def _slug(heading):
    """The anchor myst-parser gives a heading (``myst_heading_anchors``): GitHub's slug."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def _anchors(path):
    if path.suffix == ".ipynb":
        text = "\n".join(s for _, s in _markdown(path))
    else:
        text = path.read_text()
    return {_slug(h) for h in re.findall(r"^#{1,3}\s+(.+)$", _prose(text), re.MULTILINE)}


def test_the_mention_finder_sees_what_it_should():
    own = "05"
    assert unlinked_mentions("See notebook 03 and Notebook 04's method.", own) == ["03", "04"]
    assert unlinked_mentions("As notebooks 02 and 03 show; notebooks 06, 07 and 09.", own) == [
        "02", "03", "06", "07", "09"]
    assert unlinked_mentions("notebook\n08 measures it", own) == ["08"]
    assert unlinked_mentions("[notebook 03](03_tape_watch.ipynb) and notebooks "
                             "[02](02_tape_gradient.ipynb) and [04](04_persistent_tapes.ipynb)",
                             own) == []
    assert unlinked_mentions("This notebook (05) and notebook 05; `notebook 03` in code", own) == []
    assert links("A [link](a.ipynb), ![an image](b.png), `[code](c.md)`") == [("link", "a.ipynb")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_mention_of_another_notebook_is_a_link(path):
    problems = [f"cell {i + 1}: notebook {n}" for i, source in _markdown(path)
                for n in unlinked_mentions(source, path.name[:2])]
    assert not problems, (f"{path.name} names other notebooks without a link "
                          f"(write [notebook NN](NN_name.ipynb)): {problems}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_relative_link_resolves(path):
    problems = []
    checked = 0
    for i, source in _markdown(path):
        for text, target in links(source):
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # https:, mailto:: not a file of this repository
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve() if file else path
            checked += 1
            if not resolved.is_file():
                problems.append(f"cell {i + 1}: [{text}]({target}): no file {resolved}")
            elif anchor and anchor not in _anchors(resolved):
                problems.append(f"cell {i + 1}: [{text}]({target}): no heading #{anchor}")
            if file.endswith(".ipynb") and "/" in file:
                problems.append(f"cell {i + 1}: [{text}]({target}): a notebook is a sibling")
    assert not problems, "\n".join(problems)
    assert checked, f"{path.name} links to nothing of this repository"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_next_links_where_its_track_goes(path):
    last = nbformat.read(path, as_version=4).cells[-1]
    assert last.cell_type == "markdown" and "**Next" in last.source, path.name
    linked = {target[:2] for _, target in links(last.source)
              if re.fullmatch(r"\d\d_[\w.-]+\.ipynb", target)}
    expected = NEXT[path.name[:2]]
    assert expected <= linked, (f"{path.name}'s Next links {sorted(linked)}, "
                                f"not {sorted(expected - linked)}")
    assert all(n in BY_NUMBER for n in linked), sorted(linked)


def test_notebook_04_leads_to_both_tracks_and_05_follows_it():
    last = nbformat.read(BY_NUMBER["04"], as_version=4).cells[-1]
    targets = [t for _, t in links(last.source)]
    assert BY_NUMBER["06"].name in targets and BY_NUMBER["05"].name in targets
    first = nbformat.read(BY_NUMBER["05"], as_version=4).cells[0]
    assert BY_NUMBER["04"].name in [t for _, t in links(first.source)]


def _image_cells(path):
    cells = nbformat.read(path, as_version=4).cells
    return [(i, c) for i, c in enumerate(cells) if c.cell_type == "code" and any(
        kind.startswith("image/") for out in c.get("outputs", []) for kind in out.get("data", {}))]


def test_there_are_figures_to_describe():
    assert sum(len(_image_cells(p)) for p in NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_alt_text(path):
    problems = []
    for i, cell in _image_cells(path):
        alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
        words = re.findall(r"[A-Za-z]{2,}", alt if isinstance(alt, str) else "")
        if len(words) < 8 or re.search(r"\b[0-9a-f]{32,}\b", alt):
            problems.append(f"cell {i + 1}: alt text {alt!r} (one sentence: what the figure "
                            "shows, its axes and its point)")
        elif "\n" in alt:
            problems.append(f"cell {i + 1}: alt text on one line")
        images = [o for o in cell.outputs if any(k.startswith("image/") for k in o.get("data", {}))]
        if len(images) > 1:  # myst-nb gives every image of a cell the cell's one alt text
            problems.append(f"cell {i + 1}: {len(images)} figures share one alt text; "
                            "show one figure per cell, each with its own")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


BOOK_PAGES = {"index", "api", "errata", "speed", "checking_notebooks"}


def test_links_to_the_published_book_name_a_page_or_an_api_entry_that_exists():
    """A notebook links the book's API reference or Speed page by its published address
    (it works in Jupyter); the book turns each into a cross-reference
    (docs/_ext/book_links.py), and the build fails on one that names nothing. Here,
    without a build: each names a page the book has or a public name of tapelab."""
    import sys

    import tapelab

    pytest.importorskip("sphinx")  # the `docs` extra (not in `make test-min`'s venv)
    sys.path.insert(0, str(NOTEBOOK_DIR.parent / "docs" / "_ext"))
    import book_links

    base = book_links.documentation_url()
    seen = []
    for path in NOTEBOOKS:
        for i, source in _markdown(path):
            for text, target in links(source):
                if not target.startswith(base):
                    continue
                kind_name = book_links.book_target(target, base)
                assert kind_name, f"{path.name} cell {i + 1}: {target} names no page"
                kind, name = kind_name
                if kind == "py":
                    assert name.removeprefix("tapelab.") in tapelab.__all__, target
                else:
                    assert name.lstrip("/") in BOOK_PAGES, target
                seen.append(target)
    assert len(seen) >= 6  # the API reference and the Speed page, from 07, 08 and 09
