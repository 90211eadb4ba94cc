"""The book's generated pages, written by Sphinx's own build (a ``builder-inited`` hook).

At the start of every build (``sphinx-build docs build/site``, ``make docs``, or a
documentation host), before Sphinx looks for its sources, this writes into the
source folder (docs/; git ignores what it writes):
  - notebooks/*.ipynb: the repository's notebooks as stored: their outputs are the
    ones CI checks (nbval, check-claims), and myst-nb shows them without running
    anything (``nb_execution_mode = "off"``);
  - api.md: an entry for every name in ``tapelab.__all__`` (docs/_ext/book_api.py);
  - errata.md: ``tapelab errata`` (:func:`tapelab.errata.run_all`), run now;
  - speed.md: benchmarks/results.json, written by the last ``make bench``, with the
    commentary of docs/speed_commentary.md.
A file is written only when its text changed, so Sphinx rebuilds only what changed;
a generated file whose source is gone (a deleted notebook) is removed.
"""

import datetime
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "results.json"
GENERATED = ("api.md", "errata.md", "speed.md")  # and notebooks/: see .gitignore


def md_cell(text):
    """``text`` as one cell of a Markdown table: as it is, Markdown's signs escaped."""
    return re.sub(r"([\\`*_\[\]<>|#$])", r"\\\1", str(text))


# ---------------------------------------------------------------- errata


# where a notebook shows each seed claim: (notebook, the heading of its section, as the
# book's anchor); the build fails on an anchor that names no heading of that notebook
SHOWN_IN = {
    "d/dx (x**2 + 2x + 1) at x=5": ("01_gradient_tape_basics", "the-seeds-example-run-for-real"),
    "d/dx x**2 at x=3": ("03_tape_watch", "constants-need-watch"),
    "watch(t) gives a gradient for unused t": (
        "03_tape_watch", "watching-a-tensor-the-computation-does-not-use-gives-none"),
    "persistent: dy/dx, dz/dx at 3": ("04_persistent_tapes", "the-seeds-example"),
    "2nd gradient() needs persistent": (
        "04_persistent_tapes", "without-persistenttrue-the-second-call-fails"),
    "ResNet50(weights='imagenet')": (
        "05_fine_tuning_layer_subsets", "failure-1-weightsimagenet-needs-a-download"),
    "layers[-3:] are 3 layers to train": (
        "05_fine_tuning_layer_subsets", "failure-2-of-the-last-3-layers-only-one-has-weights"),
    "tape.watch(layer.weights)": (
        "05_fine_tuning_layer_subsets", "failure-3-tapewatchlayerweights-raises-valueerror"),
    "watch() picks what the tape records": (
        "03_tape_watch", "trainable-variables-are-watched-automatically"),
    "grad of softmax output trains": (
        "05_fine_tuning_layer_subsets", "failure-4-the-gradient-of-the-softmax-output-is-zero"),
    "per-layer apply_gradients": (
        "05_fine_tuning_layer_subsets",
        "failure-5-the-per-layer-update-loop-fails-on-its-first-layer"),
}


def shown_in(claim):
    """A Markdown link to the notebook section that shows ``claim``, or "—"."""
    if claim not in SHOWN_IN:
        return "—"
    stem, anchor = SHOWN_IN[claim]
    if not (NOTEBOOKS / f"{stem}.ipynb").exists():
        return "—"
    return f"[notebook {stem[:2]}](notebooks/{stem}.ipynb#{anchor})"


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
        "| seed claim | seed says | TF does here | verdict | shown in |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        verdict = r.verdict if r.verdict == "holds" else f"**{r.verdict}**"
        lines.append(f"| {md_cell(r.claim)} | {md_cell(r.seed_says)} | "
                     f"{md_cell(r.tf_does)} | {verdict} | {shown_in(r.claim)} |")
    lines += [
        "",
        "The ImageNet row depends on the machine: where an earlier run left the weights in",
        "the Keras cache (`~/.keras/models/`), Keras loads them without a network and the",
        "row holds. The last column opens the notebook section that runs each claim and",
        "explains what TensorFlow does.",
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
    commentary = DOCS / "speed_commentary.md"  # what the numbers mean; no numbers in it
    if commentary.exists():
        lines += [commentary.read_text().strip(), ""]
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


# ---------------------------------------------------------------- the hook


def _write(path, data):
    """Write ``data`` (bytes) to ``path`` unless it already holds it (keeps mtimes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def pages():
    """``{relative path: bytes}`` of every generated page of this build."""
    from book_api import api_page

    from tapelab import tf_logs

    tf_logs.quiet()
    with tf_logs.without_tf_logs():  # the API page and the errata import TensorFlow
        out = {"api.md": api_page(), "errata.md": errata_page(), "speed.md": speed_page()}
    out = {name: text.encode() for name, text in out.items()}
    for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
        out[f"notebooks/{nb.name}"] = nb.read_bytes()
    return out


def write_pages(app):
    """builder-inited: write the generated pages into the source folder, drop stale ones."""
    srcdir = Path(app.srcdir)
    generated = pages()
    for rel, data in generated.items():
        _write(srcdir / rel, data)
    for path in sorted((srcdir / "notebooks").glob("*.ipynb")):
        if f"notebooks/{path.name}" not in generated:
            path.unlink()  # a notebook deleted or renamed since the last build


def setup(app):
    app.connect("builder-inited", write_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
