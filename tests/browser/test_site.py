"""The book (build/site/, `make docs`) opened in headless Chromium: `make test-browser`.

Not part of `make test` (tests/conftest.py leaves this folder out unless it is named):
it needs the built site, Debian's chromium and Playwright's Python package, which
drives that chromium through ``executable_path`` (Playwright's own browser download
is never used). The site is served on 127.0.0.1, and the browser may reach nothing
else: any other request is aborted and fails the page.

Each page loads with no console error, every image decodes, every internal link
(and its #anchor) resolves; each notebook page shows its heading and its stored
outputs; the API page has an entry for every name in ``tapelab.__all__``. And what
guides a reader: the home page's blurbs name their notebooks, links between notebooks
open the notebook they name, previous/next follow the tracks, the copy button copies
code, long lines scroll, plot text is at least 9 px as displayed, images have alt
text, the search finds "12.0" and "1797", and errata rows link to their notebook section.
Screenshots of the home page and of a notebook page go to build/site-screenshots/.
"""

import functools
import html.parser
import http.server
import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import tapelab

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "site"
SHOTS = ROOT / "build" / "site-screenshots"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PAGES = ["index.html", "api.html", "errata.html", "speed.html", "checking_notebooks.html",
         "genindex.html", "search.html"] + [f"notebooks/{nb.stem}.html" for nb in NOTEBOOKS]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_path():
    path = os.environ.get("TAPELAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("no chromium: `make test-browser` installs Debian's chromium package")
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").exists():
        pytest.fail("build/site/ has no index.html: run `make docs` first")
    handler = functools.partial(_Quiet, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Visit:
    """One page opened in a fresh context: what went wrong while it loaded."""

    def __init__(self, browser, server, path):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.problems = []
        self.context.route("**/*", self._only_loopback(server))
        self.page = self.context.new_page()
        self.page.on("console", lambda m: (
            m.type == "error" or m.text.startswith("search_whole_numbers.js")) and
            self.problems.append(f"console {m.type}: {m.text} ({m.location.get('url', '')})"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"HTTP {r.status}: {r.url}"))
        self.url = server + path
        self.page.goto(self.url, wait_until="networkidle")

    def _only_loopback(self, server):
        def handle(route):
            url = route.request.url
            if url.startswith((server, "data:", "blob:", "about:")):
                route.continue_()
            else:
                self.problems.append(f"request outside the site: {url}")
                route.abort()
        return handle

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, server):
    opened = []

    def open_page(path):
        v = Visit(browser, server, path)
        opened.append(v)
        return v

    yield open_page
    for v in opened:
        v.close()


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name in ("id", "name") and value)


_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


@functools.cache
def fetch(url):
    """``(status, ids)`` of a URL on the local server: ids are the page's anchors."""
    try:
        with _LOCAL.open(url, timeout=30) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as err:
        return err.code, frozenset()
    ids = _Ids()
    if url.endswith((".html", "/")):
        ids.feed(body.decode("utf-8", errors="replace"))
    return status, frozenset(ids.ids)


def broken_links(page, server):
    """Every internal link of the page that does not resolve, with the reason."""
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    bad = []
    for href in sorted(set(hrefs)):
        if not href.startswith(server):
            if href.startswith(("http://127.", "http://localhost")):
                bad.append(f"{href}: another local server")
            continue  # external (the theme's and the notebooks' references): not followed
        target, _, fragment = href.partition("#")
        status, ids = fetch(target)
        if status != 200:
            bad.append(f"{href}: HTTP {status}")
        elif fragment and urllib.parse.unquote(fragment) not in ids:
            bad.append(f"{href}: no element with id {urllib.parse.unquote(fragment)!r}")
    return bad


def undecoded_images(page):
    """The page's images that do not decode (forcing lazy ones to load first)."""
    return page.evaluate("""async () => {
        const images = Array.from(document.images);
        for (const img of images) { img.loading = "eager"; }
        await Promise.all(images.map(img => img.decode().catch(() => null)));
        return images.filter(img => !(img.complete && img.naturalWidth > 0))
                     .map(img => img.currentSrc || img.src);
    }""")


def notebook_expectations(path):
    """A notebook's heading (as text), its stored text outputs and its number of images;
    a folded cell's outputs (an exercise's solution, tagged hide-cell) are not shown until
    opened, which test_exercise_solutions_are_folded_until_opened checks."""
    nb = json.loads(path.read_text())
    heading = None
    texts, images = [], 0
    for cell in nb["cells"]:
        if heading is None and cell["cell_type"] == "markdown":
            found = re.search(r"^#\s+(.+)$", "".join(cell["source"]), re.MULTILINE)
            heading = found and re.sub(r"[`*_]", "", found.group(1)).strip()
        if "hide-cell" in cell.get("metadata", {}).get("tags", []):
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            image = "image/png" in data or "image/svg+xml" in data
            images += image
            text = out.get("text") if out["output_type"] == "stream" else None
            if text is None and out["output_type"] == "execute_result" and not image:
                text = data.get("text/plain")  # with an image, the image is what is shown
            text = "".join(text) if isinstance(text, list) else text
            if text and text.strip():
                texts.append(text.strip().splitlines()[0])
    return heading, texts, images


def screenshot(page, name):
    """The whole page, rendered in a window as tall as the page (sticky sidebars whole)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1280, "height": height})
    page.wait_for_timeout(300)  # the layout settles at the new size
    page.screenshot(path=str(SHOTS / name))


def squash(text):
    return " ".join(text.split())


def test_every_page_of_the_site_is_checked():
    built = {p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
             if p.relative_to(SITE).parts[0] not in ("_static", "_sources", "_images")}
    assert built == set(PAGES), "pages built and pages this test opens differ"


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_cleanly(visit, server, path):
    v = visit(path)
    assert v.page.locator("h1:visible").first.is_visible(), f"{path}: no visible heading"
    problems = v.problems + [f"image does not decode: {src}"
                             for src in undecoded_images(v.page)]
    problems += [f"broken link: {b}" for b in broken_links(v.page, server)]
    assert not problems, f"{path}:\n" + "\n".join(problems)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_page_shows_its_heading_and_stored_outputs(visit, notebook):
    heading, texts, images = notebook_expectations(notebook)
    v = visit(f"notebooks/{notebook.stem}.html")
    h1 = v.page.locator("h1:visible").first
    assert h1.is_visible() and heading in squash(h1.inner_text()), (heading, h1.inner_text())
    outputs = v.page.locator(".cell_output")
    assert texts or images, f"{notebook.name} has no stored output"
    shown = squash(" ".join(outputs.all_inner_texts()))
    missing = [t for t in texts if squash(t) not in shown]
    assert not missing, f"stored outputs not on the page: {missing}"
    if texts:
        first = v.page.locator(".cell_output", has_text=texts[0].strip()).first
        assert first.is_visible(), f"not visible: {texts[0]!r}"
    assert v.page.locator(".cell_output img").count() == images, "plots on the page"
    assert v.page.locator("a.left-prev").first.is_visible() or notebook.name.startswith("01")


def test_notebook_01_shows_the_corrected_gradient_and_the_seed_claim_as_wrong(visit):
    v = visit("notebooks/01_gradient_tape_basics.html")
    corrected = v.page.locator(".cell_output", has_text="tf.Tensor(12.0, shape=(), dtype=float32)")
    assert corrected.first.is_visible()
    wrong = v.page.locator("p", has_text=re.compile(r"\(6\.0\) is wrong"))
    assert wrong.first.is_visible(), "the seed's 6.0 is not marked as wrong"
    screenshot(v.page, "01_gradient_tape_basics.png")


DRAWN = ["01_gradient_tape_basics", "03_tape_watch", "06_beyond_the_basics",
         "07_why_is_my_gradient_none"]


@pytest.mark.parametrize("stem", DRAWN)
def test_tape_drawings_are_readable_at_the_column_width(visit, stem):
    """tapelab.draw's SVGs: drawn at the column's width, their 12 px text stays >= 9 px."""
    v = visit(f"notebooks/{stem}.html")
    drawings = v.page.evaluate("""() => Array.from(document.querySelectorAll('img'))
        .filter(img => /\\.svg$|^data:image\\/svg/.test(img.getAttribute('src') || ''))
        .filter(img => img.closest('.cell_output'))
        .map(img => [img.getBoundingClientRect().width, img.naturalWidth])""")
    assert drawings, f"no drawing on {stem}"
    for shown, natural in drawings:
        assert natural > 0 and 12 * shown / natural >= 9, (stem, shown, natural)
    if stem == "01_gradient_tape_basics":
        screenshot(v.page, "01_with_drawing.png")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_solutions_are_folded_until_opened(visit, notebook):
    """Each solution (its code, and the checker's verdict, which names the answer) is
    hidden in a closed <details>; a click shows both."""
    v = visit(f"notebooks/{notebook.stem}.html")
    cells = v.page.locator(".cell.tag_solution")
    assert cells.count() >= 2, notebook.stem
    for k in range(cells.count()):
        cell = cells.nth(k)
        assert cell.locator("details").first.get_attribute("open") is None
        assert not cell.locator(".cell_input").first.is_visible()
        assert not cell.get_by_text("Right.").first.is_visible()
    cells.first.locator("details summary").first.click()
    assert cells.first.locator(".cell_input").first.is_visible()
    assert cells.first.get_by_text("Right.").first.is_visible()


def test_home_page_shows_the_tape_picture(visit):
    v = visit("index.html")
    img = v.page.locator('main img[src$="seed_tape.svg"]').first
    assert img.is_visible()
    shown, natural = img.evaluate("i => [i.getBoundingClientRect().width, i.naturalWidth]")
    assert natural > 0 and 12 * shown / natural >= 9


def test_home_page_starts_here_and_lists_both_tracks_and_every_notebook(visit):
    v = visit("index.html")
    for heading in ("The basics", "Autodiff track", "Fine-tuning track"):
        assert v.page.get_by_role("heading", name=re.compile(heading)).first.is_visible()
    main = v.page.locator("main")
    assert main.locator(".admonition", has_text="Start here").first.is_visible()
    assert main.get_by_text(re.compile(r"says 12\.0")).first.is_visible()  # the hook
    for nb in NOTEBOOKS:
        assert main.locator(f'a[href="notebooks/{nb.stem}.html"]').count() >= 1, nb.name
    screenshot(v.page, "home.png")


def test_home_page_blurbs_name_their_notebooks(visit, server):
    """Each list entry's link text is the start of the heading of the page it opens."""
    v = visit("index.html")
    entries = v.page.eval_on_selector_all(
        'main li > p > a[href^="notebooks/"], main li > a[href^="notebooks/"]',
        "links => links.map(a => [a.getAttribute('href'), a.innerText])")
    assert len(entries) == len(NOTEBOOKS)
    for href, text in entries:
        page = visit(href).page
        heading = squash(page.locator("h1:visible").first.inner_text()).rstrip("#").strip()
        assert heading.startswith(squash(text)), (href, text, heading)


def track_neighbours():
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    return importlib.import_module("book_tracks").neighbours


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_previous_and_next_follow_the_reading_track(visit, notebook):
    """04 leads to 06 (autodiff) and 05 (fine-tuning); 05's previous is 04; a track's
    last notebook has no next."""
    previous, nexts = track_neighbours()(notebook.name[:2])
    v = visit(f"notebooks/{notebook.stem}.html")
    prev_links = v.page.eval_on_selector_all("a.left-prev", "as => as.map(a => a.getAttribute('href'))")
    next_links = v.page.eval_on_selector_all("a.right-next", "as => as.map(a => a.getAttribute('href'))")
    home = ".."  # the first notebook's previous is the home page, ../index.html
    assert [h[:2] for h in prev_links] == [previous or home], prev_links
    assert [h[:2] for h in next_links] == [n for n, _ in nexts], next_links
    for link in v.page.locator("a.right-next").all():
        assert link.is_visible()
    if len(nexts) > 1:  # each says which track it continues, as written (not Title Cased)
        subtitles = v.page.locator("a.right-next .prev-next-subtitle").all_inner_texts()
        assert subtitles == [f"Next on the {track} track" for _, track in nexts], subtitles


@pytest.mark.parametrize("path", ["api.html", "errata.html", "speed.html",
                                  "checking_notebooks.html"])
def test_reference_pages_lead_into_no_track(visit, path):
    v = visit(path)
    links = v.page.eval_on_selector_all("a.left-prev, a.right-next",
                                        "as => as.map(a => a.getAttribute('href'))")
    assert not [h for h in links if "notebooks/" in h], links


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_links_between_notebooks_open_the_notebook_they_name(visit, notebook):
    """A link whose text names "notebook NN" goes to notebook NN's page (broken links
    are test_page_loads_cleanly's)."""
    v = visit(f"notebooks/{notebook.stem}.html")
    links = v.page.eval_on_selector_all(
        "article a[href]", "as => as.map(a => [a.innerText, a.getAttribute('href')])")
    named = [(t, h) for t, h in links if re.search(r"notebooks? \d\d", t, re.IGNORECASE)]
    assert named, f"{notebook.stem} links no other notebook by name"
    for text, href in named:
        numbers = re.findall(r"\d\d", text)
        assert Path(href.split("#")[0]).name[:2] in numbers, (text, href)
        assert href.split("#")[0].endswith(".html"), (text, href)


def test_the_copy_button_copies_a_code_cell_and_outputs_have_none(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.rstrip("/"))
    try:
        page = context.new_page()
        page.goto(server + "notebooks/01_gradient_tape_basics.html", wait_until="networkidle")
        cell = page.locator(".cell .cell_input", has_text="GradientTape").first
        code = cell.locator("pre").first.inner_text()
        cell.hover()
        cell.locator("button.copybtn").first.click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert squash(copied) == squash(code) and "GradientTape" in copied
        assert page.locator(".cell_output button.copybtn").count() == 0
    finally:
        context.close()


def test_long_code_lines_scroll_and_outputs_wrap(visit):
    """Code keeps its lines (a wrapped line reads as broken indentation) and scrolls;
    an output, mostly sentences and numbers, wraps at the column's edge."""
    v = visit("notebooks/08_fine_tuning_for_real.html")
    style = "ps => ps.map(p => [getComputedStyle(p).whiteSpace, getComputedStyle(p).overflowX])"
    code = v.page.eval_on_selector_all(".cell_input pre", style)
    assert code and all(ws == "pre" and ox == "auto" for ws, ox in code), set(map(tuple, code))
    outputs = v.page.eval_on_selector_all(".cell_output pre", style)
    assert outputs and all(ws == "pre-wrap" for ws, _ in outputs), set(map(tuple, outputs))
    widest = v.page.eval_on_selector_all(
        ".cell_output pre", "ps => Math.max(...ps.map(p => p.scrollWidth - p.clientWidth))")
    assert widest <= 1, "an output runs past the column's edge"


# the smallest text a plot draws, in points: matplotlib's tick labels and legend (10 pt
# by default), or a smaller size the cell's code sets
_SIZE_NAMES = {"xx-small": 5.79, "x-small": 6.94, "small": 8.33, "medium": 10.0}


def smallest_font_pt(source):
    sizes = [10.0]
    for value in re.findall(r"(?:fontsize|labelsize|size)\s*=\s*([\d.]+|\"[\w-]+\"|'[\w-]+')",
                            source):
        value = value.strip("\"'")
        sizes.append(_SIZE_NAMES.get(value, 10.0) if not value[0].isdigit() else float(value))
    return min(sizes)


def png_dpi(data):
    """The resolution a PNG records (its pHYs chunk; matplotlib writes the figure's dpi)."""
    import base64
    import struct

    raw = base64.b64decode(data)
    i = 8
    while i < len(raw):
        length, kind = struct.unpack(">I4s", raw[i:i + 8])
        if kind == b"pHYs":
            per_metre = struct.unpack(">I", raw[i + 8:i + 12])[0]
            return per_metre * 0.0254
        i += 12 + length
    return 72.0


def plots(notebook):
    """``[(smallest text in px as stored, alt text)]`` of a notebook's PNG plots, in order."""
    out = []
    for cell in json.loads(notebook.read_text())["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                px = smallest_font_pt("".join(cell["source"])) * png_dpi(data["image/png"]) / 72
                out.append(px)
    return out


@pytest.mark.parametrize("notebook", [nb for nb in NOTEBOOKS if plots(nb)], ids=lambda p: p.stem)
def test_plot_text_is_at_least_9_px_as_displayed(visit, notebook):
    v = visit(f"notebooks/{notebook.stem}.html")
    shown = v.page.evaluate(r"""() => Array.from(document.querySelectorAll('.cell_output img'))
        .filter(img => /^data:image\/png|\.png$/.test(img.getAttribute('src') || ''))
        .map(img => [img.getBoundingClientRect().width, img.naturalWidth])""")
    stored = plots(notebook)
    assert len(shown) == len(stored)
    for k, ((width, natural), px) in enumerate(zip(shown, stored)):
        assert px * width / natural >= 9, (
            f"plot {k + 1}: {px:.1f} px text shown at {width:.0f} of {natural} px "
            f"is {px * width / natural:.1f} px")


@pytest.mark.parametrize("path", [p for p in PAGES if p.startswith(("index", "notebooks/"))])
def test_every_image_has_alt_text_that_says_what_it_shows(visit, path):
    v = visit(path)
    alts = v.page.eval_on_selector_all("main img", "is => is.map(i => i.getAttribute('alt') || '')")
    for alt in alts:
        assert len(alt.split()) >= 4 and not re.fullmatch(r"[0-9a-f]{16,}", alt), (path, alt)


def test_search_finds_a_number_with_its_excerpt(visit):
    v = visit("search.html?q=12.0")
    results = v.page.locator("#search-results li")
    results.first.wait_for(timeout=30000)
    hrefs = results.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert any("01_gradient_tape_basics" in h for h in hrefs), hrefs
    first_01 = results.filter(has=v.page.locator('a[href*="01_gradient_tape_basics"]')).first
    first_01.locator("p.context").first.wait_for(timeout=30000)
    assert "12.0" in first_01.locator("p.context").first.inner_text()


def test_search_finds_a_whole_number_with_its_excerpt(visit):
    """Sphinx's search script drops a query word made only of digits; the book's
    search_whole_numbers.js puts it back. 1797, the digits data's size, is in 08 only:
    found alone or beside a word, shown in the excerpt, highlighted there and on the page
    a result opens; the script warns of nothing (it would if searchtools.js changed)."""
    for query in ("1797", "digits%201797"):
        v = visit(f"search.html?q={query}")
        results = v.page.locator("#search-results li")
        results.first.wait_for(timeout=30000)
        hrefs = results.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        assert any("08_fine_tuning_for_real" in h for h in hrefs), (query, hrefs)
        first_08 = results.filter(has=v.page.locator('a[href*="08_fine_tuning_for_real"]')).first
        first_08.locator("p.context").first.wait_for(timeout=30000)
        assert "1797" in first_08.locator("p.context").first.inner_text()
        first_08.locator("span.highlighted", has_text="1797").first.wait_for(timeout=30000)
        stored = v.page.evaluate("localStorage.getItem('sphinx_highlight_terms')")
        assert "1797" in stored.split(), stored
        assert v.problems == [], v.problems


def test_errata_rows_link_to_the_cell_that_shows_them(visit, server):
    v = visit("errata.html")
    rows = v.page.locator("table tbody tr")
    assert rows.count() >= 10
    for k in range(rows.count()):
        link = rows.nth(k).locator('a[href*="notebooks/"]').first
        href = link.get_attribute("href")
        assert href and "#" in href, rows.nth(k).inner_text()


def test_api_page_has_an_entry_for_every_public_name(visit):
    v = visit("api.html")
    for name in tapelab.__all__:
        entry = v.page.locator(f'dt[id="tapelab.{name}"]')
        assert entry.count() == 1 and entry.is_visible(), f"no API entry for tapelab.{name}"
        doc = getattr(tapelab, name).__doc__ or ""
        if ">>>" in doc:  # the docstring's example is shown with it
            body = v.page.locator(f'dt[id="tapelab.{name}"] + dd')
            assert ">>>" in body.inner_text(), f"tapelab.{name}: the example is not shown"


def test_errata_and_speed_pages_show_their_tables(visit):
    v = visit("errata.html")
    assert v.page.locator("table tr", has_text="wrong").count() >= 1
    assert v.page.get_by_text(re.compile(r"TensorFlow \d+\.\d+")).first.is_visible()
    v = visit("speed.html")
    if (ROOT / "benchmarks" / "results.json").exists():
        assert v.page.locator("table tr", has_text="value_and_gradient").count() >= 1
        assert v.page.get_by_text(re.compile(r"on \d+ CPUs, TensorFlow")).first.is_visible()
