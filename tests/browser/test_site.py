"""The book (build/site/, `make docs`) opened in headless Chromium: `make test-browser`.

Not part of `make test` (tests/conftest.py leaves this folder out unless it is named):
it needs the built site, Debian's chromium and Playwright's Python package, which
drives that chromium through ``executable_path`` (Playwright's own browser download
is never used). The site is served on 127.0.0.1, and the browser may reach nothing
else: any other request is aborted and fails the page.

Each page loads with no console error, every image decodes, every internal link
(and its #anchor) resolves; each notebook page shows its heading and its stored
outputs; the API page has an entry for every name in ``tapelab.__all__``.
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
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console error: {m.text} ({m.location.get('url', '')})"))
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
    assert v.page.locator("a.right-next").first.is_visible(), "no link to the next page"


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


def test_home_page_lists_both_tracks_and_every_notebook(visit):
    v = visit("index.html")
    for track in ("Autodiff track", "Fine-tuning track"):
        assert v.page.get_by_role("heading", name=track).first.is_visible()
    main = v.page.locator("main")
    for nb in NOTEBOOKS:
        assert main.locator(f'a[href="notebooks/{nb.stem}.html"]').count() >= 1, nb.name
    for command in ("make run", "make test"):
        assert main.get_by_text(command).first.is_visible()
    screenshot(v.page, "home.png")


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
