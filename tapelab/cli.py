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


def cmd_check_claims(args):
    """Report every `# Output:` claim that its cell's stored output does not hold."""
    from nbclaims.cli import run

    return run(args.paths, prog="tapelab check-claims", prose=args.prose)


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


def _runnable(paths):
    """Why the notebooks ``paths`` cannot all run with tapelab's Python kernel, or ""."""
    from nbclaims import NotebookError, read_notebook

    from tapelab.notebooks import language

    for p in paths:
        try:
            nb = read_notebook(p)
        except NotebookError as exc:
            return f"{p}: not a valid notebook: {exc}"
        found = language(nb)
        if found not in (None, "python"):
            name = nb.metadata.get("kernelspec", {}).get("name", "?")
            return (f"{p} is a {found} notebook (kernelspec {name!r}), and run-notebooks runs "
                    "every notebook with this environment's python3 kernel. Run it with its "
                    "own kernel (jupyter nbconvert --execute), or leave it out")
    return ""


def _positive_seconds(text):
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds. Received: {text!r}")
    return seconds


def missing_extra(command, modules, extra="notebooks"):
    """The message for modules an optional command needs and this install lacks, or ""."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return ""
    return (f"tapelab {command}: needs {', '.join(missing)}, which this install lacks. "
            f"Install tapelab's {extra!r} extra: pip install 'tapelab[{extra}]'")


def cmd_notebooks(args):
    """Copy the notebooks (and the example script they run) into a folder."""
    import shlex
    from pathlib import Path

    from tapelab.copy_notebooks import NotebooksInTheWay, copy_notebooks

    try:
        written = copy_notebooks(args.dest, overwrite=args.force,
                                 solutions=not args.without_solutions)
    except NotebooksInTheWay as exc:
        shown = ", ".join(exc.names[:4]) + (f" and {len(exc.names) - 4} more"
                                            if len(exc.names) > 4 else "")
        print(f"tapelab notebooks: {exc.dest} already holds {shown}; nothing was copied. "
              "Copy into another folder, or pass --force to replace them.", file=sys.stderr)
        return 2
    except ValueError:
        print("tapelab notebooks: DEST must name a folder. Received: '' (for the current "
              "folder, pass .); nothing was copied.", file=sys.stderr)
        return 2
    except OSError as exc:  # a file in the way, a full disk, a read-only folder
        if exc.filename and exc.strerror:
            print(f"tapelab notebooks: cannot copy into {args.dest}: {exc.strerror} (writing "
                  f"into {Path(exc.filename).parent}); nothing was copied.", file=sys.stderr)
        else:
            print(f"tapelab notebooks: {exc}.", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    notebooks = sum(p.suffix == ".ipynb" for p in written)
    print(f"{notebooks} notebooks copied into {args.dest}. Open them with "
          f"`jupyter lab {shlex.quote(str(args.dest))}`; start with {written[0].name}.")
    hint = missing_extra("notebooks", ["jupyterlab", "nbclient", "matplotlib", "sklearn"])
    if hint:
        print(hint.replace("needs", "running them needs", 1), file=sys.stderr)
    return 0


def cmd_run_notebooks(args):
    """Execute notebooks headless and print a one-screen summary."""
    import signal
    import time
    from pathlib import Path

    from nbclaims import NoNotebookError, claims, find_notebooks

    try:
        paths = find_notebooks(args.paths)
    except NoNotebookError as exc:
        print(f"tapelab run-notebooks: {exc}; nothing was run.", file=sys.stderr)
        return 2
    why_not = _runnable(paths)
    if why_not:
        print(f"tapelab run-notebooks: {why_not}; nothing was run.", file=sys.stderr)
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
    # the paths first (their errors say more), then what running them needs
    hint = missing_extra("run-notebooks", ["nbclient", "ipykernel"])
    if hint:
        print(f"{hint}; nothing was run.", file=sys.stderr)
        return 2
    from tapelab.notebooks import ExecutionError, Stopped, execute

    def stop(signum, frame):  # between notebooks; nbclient handles a signal during one
        raise Stopped(signum)

    failed = 0
    print(f"{'notebook':<40} {'cells':>5} {'claims':>7} {'seconds':>8}  result")
    for number, (p, out) in enumerate(runs):
        start = time.perf_counter()
        try:
            # nbclient resets SIGTERM to its default after each notebook: set ours again
            signal.signal(signal.SIGTERM, stop)
            nb = execute(p, out, timeout=args.timeout)
            result = "ok"
        except Stopped as exc:
            name = signal.Signals(exc.signum).name
            print(f"{p.name:<40} {'':>5} {'':>7} {time.perf_counter() - start:>8.1f}  "
                  f"stopped by {name}")
            left = len(runs) - number - 1
            print(f"tapelab run-notebooks: stopped by {name} while running {p}; it was not "
                  "written" + (f", and the {left} notebook(s) after it were not run."
                               if left else "."), file=sys.stderr)
            return 128 + exc.signum
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
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
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
    from nbclaims.cli import DESCRIPTION, EPILOG, add_arguments

    check = sub.add_parser("check-claims", help="check `# Output:` comments against stored "
                           "outputs of notebooks (files or folders)",
                           description=DESCRIPTION, epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(check)
    check.set_defaults(func=cmd_check_claims)
    errata = sub.add_parser("errata", help="re-check the seed tutorial's claims live")
    errata.set_defaults(func=cmd_errata)
    run = sub.add_parser("run-notebooks", help="execute notebooks headless, print a summary")
    run.add_argument("paths", nargs="+", metavar="NOTEBOOK")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--out", default="build", help="folder for executed copies (default: build)")
    where.add_argument("--in-place", action="store_true",
                       help="store the outputs in the notebooks themselves (maintainers)")
    run.add_argument("--timeout", type=_positive_seconds, default=600, metavar="SECONDS",
                     help="seconds one cell may run before its notebook fails (default: 600)")
    run.set_defaults(func=cmd_run_notebooks)
    copy = sub.add_parser("notebooks", help="copy the notebooks into a folder, to run them "
                          "in Jupyter", description="Copy tapelab's notebooks, and the example "
                          "script notebook 08 links (examples/), into the folder DEST (made if "
                          "missing). Running them needs the notebooks extra: "
                          "pip install 'tapelab[notebooks]'.")
    copy.add_argument("dest", metavar="DEST", help="the folder to copy into")
    copy.add_argument("--force", action="store_true",
                      help="replace files of the same names already in DEST")
    copy.add_argument("--without-solutions", action="store_true",
                      help="leave out the exercises' solution cells (the checkers stay)")
    copy.set_defaults(func=cmd_notebooks)
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
