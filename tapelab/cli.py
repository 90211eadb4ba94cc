"""The ``tapelab`` command line: ``tapelab --help`` lists the subcommands."""

import argparse
import sys

from tapelab import __version__, tf_logs


def cmd_demo(args):
    """A short tour of the API with real outputs."""
    tf_logs.quiet()
    import warnings

    import keras
    import numpy as np
    import tensorflow as tf

    import tapelab

    print("value_and_gradient(lambda x: x**2 + 2*x + 1, 5.0)")
    value, grad = tapelab.value_and_gradient(lambda x: x**2 + 2 * x + 1, 5.0)
    print(f"  value = {float(value)}, gradient = {float(grad)}   # f'(x) = 2x + 2 = 12")

    print('gradients(lambda x: {"y": x**2, "z": (x**2)**2}, 3.0)')
    g = tapelab.gradients(lambda x: {"y": x**2, "z": (x**2) ** 2}, 3.0)
    print(f"  y: {float(g['y'])}, z: {float(g['z'])}   # 2x = 6, 4x^3 = 108")

    print("tape(watch=keras.Variable(4.0)), y = v * v")
    v = keras.Variable(4.0)
    with tapelab.tape(watch=v, only_watched=True) as t:
        y = v * v
    print(f"  {type(t).__module__}.{type(t).__name__}, dy/dv = {float(t.gradient(y, v))}")

    print("fine_tune_step on a small model, head only, 5 steps")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="body"),
                              keras.layers.Dense(2, name="head")], name="demo")
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    body_before = [w.numpy().copy() for w in model.get_layer("body").weights]
    opt = keras.optimizers.SGD(0.5)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tapelab.SelectionWarning)
        losses = [float(tapelab.fine_tune_step(model, ["head"], loss_fn, x, y, opt))
                  for _ in range(5)]
    print("  losses: " + " ".join(f"{loss:.3f}" for loss in losses))
    same = all(np.array_equal(a, b.numpy())
               for a, b in zip(body_before, model.get_layer("body").weights))
    print(f"  body unchanged: {same}")

    print("fine_tune on the same model, head only, 3 epochs (compiled, batches of 8)")
    history = tapelab.fine_tune(model, ["head"], (x, y), loss_fn, opt, epochs=3,
                                batch_size=8, verbose=0)
    print("  epoch losses: " + " ".join(f"{v:.3f}" for v in history.history["loss"])
          + f"   (TF {tf.__version__})")
    return 0


def _notebooks_in(folder):
    """The notebooks in ``folder`` and its subfolders, as pytest finds them, in order."""
    return sorted(p for p in folder.rglob("*.ipynb")
                  if p.is_file() and ".ipynb_checkpoints" not in p.relative_to(folder).parts)


def _notebook_paths(given, command, then=""):
    """The notebooks that ``given`` names (files, or folders searched as pytest does), or
    None after saying on stderr which path holds none; ``then`` ends that message."""
    from pathlib import Path

    paths = []
    for p in map(Path, given):
        if p.is_dir():
            inside = _notebooks_in(p)
            if not inside:
                print(f"tapelab {command}: no notebook in {p} (searched it and its "
                      "subfolders, skipping .ipynb_checkpoints). Pass a .ipynb file or a "
                      f"folder that holds one{then or '.'}", file=sys.stderr)
                return None
            paths += inside
        elif p.suffix == ".ipynb" and p.is_file():
            paths.append(p)
        else:
            print(f"tapelab {command}: no notebook at {p} (expected a .ipynb file or a "
                  f"folder of them){then}", file=sys.stderr)
            return None
    return paths


def _shorten(text, lines=20, chars=2000):
    """The first ``lines`` lines (at most ``chars`` characters) of ``text``, and how much is left.

    >>> _shorten("a\\nb\\nc", lines=2)
    'a\\nb\\n… (2 more characters)'
    """
    head = "\n".join(text[:chars].split("\n")[:lines])
    rest = len(text) - len(head)
    return head if rest <= 0 else f"{head}\n… ({rest} more characters)"


def _report(claim):
    """The lines that say why one claim does not hold."""
    where = f"{claim.notebook}: cell {claim.cell}"
    if claim.unreadable:
        return (f"{where}: unreadable cell: Python cannot tokenize its source "
                f"({claim.unreadable}), so its `# Output:` claims cannot be told from "
                "strings and none is checked. Fix the cell's syntax.")
    if not claim.text:
        return (f"{where}: empty claim: `# Output:` with nothing after it. Write the "
                "output the cell shows after the colon, or remove the comment.")
    actual = _shorten(claim.actual.strip()) or "(no output)"
    return (f"{where}: claim not in output\n  claim:  {claim.text}\n  actual: "
            + actual.replace("\n", "\n          "))


def cmd_check_claims(args):
    """Report every `# Output:` claim that its cell's stored output does not hold."""

    import nbformat

    from tapelab.claims import claims

    paths = _notebook_paths(args.paths, "check-claims")
    if paths is None:
        return 2
    found = []
    for p in paths:
        try:
            found += claims(p)
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError,
                nbformat.ValidationError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            print(f"tapelab check-claims: {p}: not a valid notebook: {reason[:200]}",
                  file=sys.stderr)
            return 2
    bad = [c for c in found if not c.holds]
    for c in bad:
        print(_report(c))
    unreadable = sum(bool(c.unreadable) for c in found)
    checked = len(found) - unreadable
    print(f"check-claims: {checked - len(bad) + unreadable} of {checked} claims hold "
          f"in {len(paths)} notebook(s)"
          + (f"; {unreadable} cell(s) unreadable" if unreadable else ""))
    return 1 if bad else 0


def cmd_errata(args):
    """Re-check the seed tutorial's claims live against the installed TF."""
    tf_logs.quiet()
    from tapelab.errata import format_table, run_all

    rows = run_all()
    print(format_table(rows))
    wrong = sum(r.verdict != "holds" for r in rows)
    print(f"\n{len(rows)} seed claims checked: {len(rows) - wrong} hold, {wrong} do not.")
    return 0


def _strip_ansi(text):
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def cmd_run_notebooks(args):
    """Execute notebooks headless and print a one-screen summary."""
    import time
    from pathlib import Path

    from tapelab.claims import claims
    from tapelab.notebooks import ExecutionError, execute

    paths = _notebook_paths(args.paths, "run-notebooks", "; nothing was run.")
    if paths is None:
        return 2
    runs, written = [], {}  # (notebook, output file); output file -> notebook
    for p in paths:
        out = p if args.in_place else Path(args.out) / p.name
        other = written.setdefault(out, p)
        if other.resolve() != p.resolve():
            print(f"tapelab run-notebooks: {other} and {p} would both be written to {out}, "
                  "the second over the first; nothing was run. Run them with different "
                  "--out folders, or rename one.", file=sys.stderr)
            return 2
        runs.append((p, out))
    failed = 0
    print(f"{'notebook':<40} {'cells':>5} {'claims':>7} {'seconds':>8}  result")
    for p, out in runs:
        start = time.perf_counter()
        try:
            nb = execute(p, out)
            result = "ok"
        except Exception as exc:  # noqa: BLE001 - report and go on to the next notebook
            cause = exc.__cause__ if isinstance(exc, ExecutionError) else exc  # the cell's
            nb, result, failed = None, f"FAILED: {type(cause).__name__}", failed + 1
            lines = [ln for ln in _strip_ansi(str(exc)).splitlines() if ln.strip()]
            print("\n".join("    " + ln for ln in lines[-6:]), file=sys.stderr)
        seconds = time.perf_counter() - start
        cells = sum(c.cell_type == "code" for c in nb.cells) if nb else 0
        held = claims(out) if nb else []
        if any(not c.holds for c in held):
            result, failed = "FAILED: an # Output: claim does not hold", failed + 1
        print(f"{p.name:<40} {cells:>5} {len(held):>7} {seconds:>8.1f}  {result}")
    where = "in place" if args.in_place else f"into {args.out}/"
    print(f"{len(runs) - failed} of {len(runs)} notebooks ran cleanly {where}")
    return 1 if failed else 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tapelab",
        description="tapelab: a teaching toolkit for tf.GradientTape.",
    )
    parser.add_argument("--version", action="version", version=f"tapelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="a short tour of the API with real outputs")
    demo.set_defaults(func=cmd_demo)
    check = sub.add_parser("check-claims", help="check `# Output:` comments against stored "
                           "outputs of notebooks (files or folders)")
    check.add_argument("paths", nargs="+", metavar="PATH")
    check.set_defaults(func=cmd_check_claims)
    errata = sub.add_parser("errata", help="re-check the seed tutorial's claims live")
    errata.set_defaults(func=cmd_errata)
    run = sub.add_parser("run-notebooks", help="execute notebooks headless, print a summary")
    run.add_argument("paths", nargs="+", metavar="NOTEBOOK")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--out", default="build", help="folder for executed copies (default: build)")
    where.add_argument("--in-place", action="store_true",
                       help="store the outputs in the notebooks themselves (maintainers)")
    run.set_defaults(func=cmd_run_notebooks)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if args.func in (cmd_demo, cmd_errata):  # these import TensorFlow in this process
        with tf_logs.without_tf_logs():
            return args.func(args)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
