"""Build the tapelab book into build/site/ (`make docs`): Sphinx with myst-nb, offline.

Sources are laid out in build/book-src/, so nothing generated enters git:
  - docs/*.md and docs/_static/, as they are (docs/index.md gets the notebook tracks);
  - notebooks/*.ipynb as stored: their outputs are the ones CI checks (nbval, check-claims),
    and myst-nb shows them without running anything (``nb_execution_mode = "off"``);
  - api.md: an entry for every name in ``tapelab.__all__``, autodoc'd from its docstring;
  - errata.md: ``tapelab errata`` (:func:`tapelab.errata.run_all`), run now;
  - speed.md: benchmarks/results.json, written by the last ``make bench``.
Sphinx then runs with warnings as errors (``-W --keep-going``) on a fresh environment,
so a broken cross-reference, a missing page or a docstring autodoc cannot read fails
the build.

Run:  .venv/bin/python docs/build.py   (prints the path of build/site/index.html)
"""

import datetime
import importlib
import inspect
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "results.json"
BUILD = ROOT / "build"
SRC, DOCTREES, SITE = BUILD / "book-src", BUILD / "book-doctrees", BUILD / "site"

# the two tracks of the home page, by notebook number; a notebook in neither track
# (a new one) is listed under "More notebooks", so every notebook gets a page
TRACKS = [
    ("Autodiff track", "autodiff", ("01", "02", "03", "04", "06", "07", "09")),
    ("Fine-tuning track", "fine-tuning", ("05", "08")),
]
OTHER_TRACK = ("More notebooks", "more")


# ---------------------------------------------------------------- small helpers


def write_if_changed(path, text):
    """Write ``text`` to ``path`` unless it already holds it (keeps Sphinx's mtimes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def md_cell(text):
    """``text`` as one cell of a Markdown table: as it is, Markdown's signs escaped."""
    return re.sub(r"([\\`*_\[\]<>|#$])", r"\\\1", str(text))


# ---------------------------------------------------------------- notebooks


def notebook_info(path):
    """``(title, summary)`` of a notebook: its first heading and first sentence after it."""
    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
        if not heading:
            continue
        rest = [p for p in text[heading.end():].split("\n\n") if p.strip()]
        summary = " ".join(rest[0].split()) if rest else ""
        first = re.match(r"(.+?[.!?])(\s|$)", summary)
        return heading.group(1).strip(), first.group(1) if first else summary
    return path.stem, ""


def tracks(notebooks):
    """The home page's notebook tracks, as MyST: a list per track and a hidden toctree."""
    groups = [(title, anchor, [nb for nb in notebooks if nb.name[:2] in numbers])
              for title, anchor, numbers in TRACKS]
    placed = {nb for _, _, nbs in groups for nb in nbs}
    groups.append((*OTHER_TRACK, [nb for nb in notebooks if nb not in placed]))
    out = []
    for title, _, nbs in groups:
        if not nbs:
            continue
        out.append(f"### {title}\n")
        for nb in nbs:
            heading, summary = notebook_info(nb)
            out.append(f"- [{heading}](notebooks/{nb.name}): {summary}")
        out.append("")
        out.append(f"```{{toctree}}\n:hidden:\n:caption: {title}\n")
        out.extend(f"notebooks/{nb.stem}" for nb in nbs)
        out.append("```\n")
    return "\n".join(out)


# ---------------------------------------------------------------- API reference


def api_page():
    """One entry per name in ``tapelab.__all__``, grouped by the module that defines it."""
    import tapelab

    modules = {}
    for name in tapelab.__all__:
        modules.setdefault(tapelab._EXPORTS[name], []).append(name)
    order = list(dict.fromkeys(tapelab._EXPORTS.values()))  # as __init__.py lists them
    lines = [
        "# API reference",
        "",
        "Every public name of `tapelab` (`tapelab.__all__`), from its docstring. The `>>>`",
        "examples are real: `make test` runs each as a doctest. Import the package and use",
        "the names from it: `import tapelab; tapelab.value_and_gradient(...)`.",
        "",
    ]
    lines += api_sections(tapelab, modules, order)
    extra = returned_types(tapelab)
    if extra:
        lines += [
            "## Types the helpers return",
            "",
            "Not imported from `tapelab` itself: what the helpers above return.",
            "",
        ]
        for cls in extra:
            # the signature shows a dataclass's fields
            lines += ["```{eval-rst}", f".. autoclass:: {cls.__module__}.{cls.__qualname__}",
                      "```", ""]
    return "\n".join(lines)


def returned_types(tapelab):
    """tapelab's own classes that a public name returns or names in its docstring.

    Found from the return annotations and ``:class:`` references, then from those
    classes' docstrings in turn; the names in ``tapelab.__all__`` are left out.
    """
    found, queue = [], [getattr(tapelab, name) for name in tapelab.__all__]
    while queue:
        obj = queue.pop(0)
        if not (inspect.isroutine(obj) or inspect.isclass(obj)):
            continue
        namespace = getattr(obj, "__globals__", None) or vars(sys.modules[obj.__module__])
        names = re.findall(r":class:`~?\.?([\w.]+)`", obj.__doc__ or "")
        if inspect.isroutine(obj):
            names += re.findall(r"[A-Za-z_]\w*", str(obj.__annotations__.get("return", "")))
        for name in names:
            value = namespace.get(name.rsplit(".", 1)[-1])
            if (inspect.isclass(value) and value.__module__.startswith("tapelab.")
                    and value.__name__ not in tapelab.__all__ and value not in found):
                found.append(value)
                queue.append(value)
    return found


def api_sections(tapelab, modules, order):
    """The public names, a section per module."""
    lines = []
    for module in sorted(modules, key=order.index):
        doc = (importlib.import_module(module).__doc__ or "").strip().splitlines()
        lines += [f"## `{module}`", ""]
        if doc:
            lines += [doc[0], ""]
        for name in sorted(modules[module], key=lambda n: list(tapelab._EXPORTS).index(n)):
            value = getattr(tapelab, name)
            if inspect.isclass(value):
                directive = "autoexception" if issubclass(value, Warning) else "autoclass"
            elif inspect.isroutine(value):
                directive = "autofunction"
            else:
                directive = "autodata"  # a type alias such as LayerSelection
            # autodoc writes reStructuredText: MyST hands it to the rST parser
            lines += ["```{eval-rst}", f".. {directive}:: tapelab.{name}"]
            if directive == "autodata":  # its "#:" comment, where the module defines it
                lines += [""] + [f"   {line}" for line in attribute_doc(module, name)]
            lines += ["```", ""]
    return lines


def attribute_doc(module, name):
    """The ``#:`` comment above ``name = ...`` in ``module``, as lines."""
    from sphinx.pycode import ModuleAnalyzer

    return ModuleAnalyzer.for_module(module).find_attr_docs().get(("", name), [])


# ---------------------------------------------------------------- errata


def errata_page():
    """The seed tutorial's claims, checked now by ``tapelab errata``."""
    import keras
    import tensorflow as tf

    from tapelab.errata import run_all

    rows = run_all()
    wrong = sum(r.verdict != "holds" for r in rows)
    lines = [
        "# Errata of the seed tutorial",
        "",
        "tapelab started from a short tutorial on `tf.GradientTape` (the *seed*). This table",
        "is the output of `tapelab errata`, run while this book was built: each row runs the",
        "seed's own code (or the smallest piece of it that makes the claim) against the",
        "installed TensorFlow, offline, and says what TensorFlow does.",
        "",
        (f"Built {datetime.date.today().isoformat()} with TensorFlow {tf.__version__} and "
         f"Keras {keras.__version__}: {len(rows)} seed claims checked, {len(rows) - wrong} "
         f"hold, {wrong} do not."),
        "",
        "| seed claim | seed says | TF does here | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        verdict = r.verdict if r.verdict == "holds" else f"**{r.verdict}**"
        lines.append(f"| {md_cell(r.claim)} | {md_cell(r.seed_says)} | "
                     f"{md_cell(r.tf_does)} | {verdict} |")
    lines += [
        "",
        "The ImageNet row depends on the machine: where an earlier run left the weights in",
        "the Keras cache (`~/.keras/models/`), Keras loads them without a network and the",
        "row holds. The notebooks walk through each row: the first one in",
        "[notebook 01](notebooks/01_gradient_tape_basics.ipynb)."
        if (NOTEBOOKS / "01_gradient_tape_basics.ipynb").exists() else "",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- speed


NBSP = "\u00a0"  # keeps a number with its unit in a narrow table cell


def _goal(goal):
    if goal is None:
        return "—"
    return f"≤{NBSP}{goal:.2f}×" if goal >= 1 else f"≥{NBSP}{1 / goal:.0f}×{NBSP}faster"


def _ms(ms):
    digits = 3 if ms < 1 else 2 if ms < 10 else 1 if ms < 100 else 0
    return f"{ms:.{digits}f}{NBSP}ms"


# what a script's rows need said beside them
SPEED_NOTES = {
    "bench_jax.py": (
        "tapelab against JAX on the problems of JAX's Autodiff Cookbook: here the helper is "
        "tapelab and the reference is `jax.jit` on the same float32 inputs (CPU, the optional "
        "`bench` extra). Each case has two tapelab rows: `jit`, the default plain graph, and "
        "`jit(jit_compile=True)`, with XLA. Where JAX's time is a few hundredths of a "
        "millisecond (the cookbook's tiny functions and its 128-row vmaps), TensorFlow's "
        "per-call floor, the cost of calling any traced function, sets the ratio, not the "
        "work; at the larger sizes the work does."),
}


def speed_page():
    """The rows of the last ``make bench`` (benchmarks/results.json), per script."""
    lines = [
        "# Speed",
        "",
        "`make bench` times each helper and the same work done by hand (its reference)",
        "interleaved in one process, and keeps the median of the samples; the ratio is",
        "helper / reference, so below 1 the helper is faster. Ratios say more than the",
        "times, which depend on the machine. Each script wrote its rows to",
        "`benchmarks/results.json`, which this page shows as it was at build time.",
        "",
    ]
    if not RESULTS.exists():
        return "\n".join(lines + ["No results yet: run `make bench`.", ""])
    data = json.loads(RESULTS.read_text())
    for script, run in data.items():
        others = run.get("others_cpu_share")
        lines += [
            f"## `benchmarks/{script}`",
            "",
            (f"Run {run['date']} on {run['cpus']} CPUs, TensorFlow {run['tensorflow']}, "
             f"Keras {run['keras']}."),
            "",
        ]
        if script in SPEED_NOTES:
            lines += [SPEED_NOTES[script], ""]
        if others is not None and others >= 0.1:
            lines += [
                "```{note}",
                (f"Measured under load: other processes used {others:.0%} of the machine's "
                 f"{run['cpus']} CPUs while these rows ran. Both sides of a row were timed "
                 "interleaved, so both ran under the same load: read the ratios side by side, "
                 "not the times."),
                "```",
                "",
            ]
        lines += ["| comparison | helper | reference | ratio | goal |",
                  "| --- | --- | --- | --- | --- |"]
        for r in run["rows"]:
            ratio = r["ratio"]
            shown = (f"{ratio:.2f}×" if ratio >= 0.1
                     else f"{ratio:.3f}× ({1 / ratio:.0f}×{NBSP}faster)")
            met = "" if r["goal"] is None else (": met" if ratio <= r["goal"] else ": **missed**")
            lines.append(f"| {md_cell(r['comparison'])} | {_ms(r['helper_ms'])} | "
                         f"{_ms(r['reference_ms'])} | {shown} | {_goal(r['goal'])}{met} |")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- the build


def lay_out_sources():
    """Fill build/book-src/ with this run's sources; return the notebooks it holds."""
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    keep = set()
    for path in sorted(DOCS.rglob("*")):
        rel = path.relative_to(DOCS)
        if path.is_file() and (path.suffix == ".md" or rel.parts[0] == "_static"):
            keep.add(rel)
    pages = {rel: (DOCS / rel).read_bytes() for rel in keep}
    pages[Path("index.md")] = (DOCS / "index.md").read_text().replace(
        "%%TRACKS%%", tracks(notebooks)).encode()
    pages[Path("api.md")] = api_page().encode()
    pages[Path("errata.md")] = errata_page().encode()
    pages[Path("speed.md")] = speed_page().encode()
    for nb in notebooks:
        pages[Path("notebooks") / nb.name] = nb.read_bytes()
    for rel, data in pages.items():
        target = SRC / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
    for path in sorted(SRC.rglob("*"), reverse=True):  # what an earlier build left
        if path.is_file() and path.relative_to(SRC) not in pages:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return notebooks


def sphinx(src, out, doctrees, config=DOCS):
    """Run Sphinx (HTML, warnings as errors, fresh environment); return its exit status."""
    from sphinx.cmd.build import build_main

    return build_main(["-b", "html", "-W", "--keep-going", "-E", "-q", "-c", str(config),
                       "-d", str(doctrees), str(src), str(out)])


def main():
    from tapelab import tf_logs

    tf_logs.quiet()
    with tf_logs.without_tf_logs():  # the API page and the errata import TensorFlow
        lay_out_sources()
    if SITE.exists():
        shutil.rmtree(SITE)  # no page of an earlier build survives
    status = sphinx(SRC, SITE, DOCTREES)
    if status:
        print("docs: the build failed (warnings are errors): see above", file=sys.stderr)
        return status
    print(f"The book: {SITE / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # this checkout's tapelab, for autodoc
    sys.exit(main())
