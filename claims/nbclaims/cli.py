"""The ``check-claims`` command: ``check-claims --help`` says what it checks and how it exits."""

import argparse
import sys

from nbclaims.claim import NotebookError, claims_in, read_notebook
from nbclaims.paths import NoNotebookError, find_notebooks
from nbclaims.prose import prose_problems

DESCRIPTION = "Check every `# Output:` comment in notebooks against the stored output of its cell."

EPILOG = """\
A claim is a comment in a code cell that states what the cell shows:

    print(f(5.0))           # Output: 12.0
    tape.gradient(y, x)     # Output: tf.Tensor(12.0, shape=(), dtype=float32)

The text after "# Output:" (to the end of the line, spaces trimmed) must occur
in the cell's output, as Jupyter shows it: its streams (each stream whole, its
pieces joined), its plain-text results and its errors ("ValueError: message").
It must occur on token boundaries: no word or number of the output goes on
across either end. So "2.0" does not hold in "12.0", "2.05" or "-2.0"; "inf"
not in "-inf"; "5" not in "1e-5"; "3" not in "3+4j"; "1" not in "1,000"; and a
number inside "shape=(...)" is not a value. A "# Output:" inside a string is not
a claim; a cell that cannot be read as Python (IPython's magics aside) is
reported as unreadable, and "# output: 4" as a malformed claim. Cells are
numbered from 1, markdown cells included.

With --prose, the markdown is held to the outputs too: every measured figure
(12.5, 97.8%, 3x, 1.5 s, 38 MiB) must occur in a compared output of the same
notebook or name its source in its sentence (a link, or "(source: ...)"), and
"the same values" beside an output that prints a bound ("below 1e-6") must say
how the same ("up to round-off"). Versions, counts, notebook and section
numbers, code and math are outside the rule.

Exit codes:
  0  every claim holds (and, with --prose, the prose too)
  1  some claim does not hold, is empty or malformed, or sits in an unreadable
     cell (each is printed with the cell's actual output); or a prose problem
  2  a path names no notebook, or a notebook cannot be read (missing, no
     permission, not JSON, not nbformat 3 or 4); nothing is checked
"""


def add_arguments(parser):
    """The command's arguments, on ``parser`` (``tapelab check-claims`` shares them)."""
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="a .ipynb file, or a folder searched with its subfolders")
    parser.add_argument("--prose", action="store_true",
                        help="also hold the markdown's figures and verdicts to the outputs")


def make_parser(prog="check-claims"):
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def run(paths, prog="check-claims", prose=False):
    """Check the claims (and with ``prose``, the prose) of the notebooks ``paths`` names;
    print the report; return the exit code."""
    try:
        notebooks = find_notebooks(paths)
    except NoNotebookError as exc:
        print(f"{prog}: {exc}.", file=sys.stderr)
        return 2
    found, problems = [], []
    for p in notebooks:
        try:
            nb = read_notebook(p)
        except NotebookError as exc:
            print(f"{prog}: {p}: not a valid notebook: {exc}", file=sys.stderr)
            return 2
        found += claims_in(nb, str(p))
        problems += prose_problems(nb, str(p)) if prose else []
    bad = [c for c in found if not c.holds]
    for c in bad:
        print(c.report())
    for problem in problems:
        print(problem.report())
    unreadable = sum(bool(c.unreadable) for c in found)
    checked = len(found) - unreadable
    print(f"{prog}: {checked - len(bad) + unreadable} of {checked} claims hold "
          f"in {len(notebooks)} notebook(s)"
          + (f"; {unreadable} cell(s) unreadable" if unreadable else "")
          + (f"; {len(problems)} prose problem(s)" if prose else ""))
    return 1 if bad or problems else 0


def main(argv=None):
    args = make_parser().parse_args(argv)
    return run(args.paths, prose=args.prose)


if __name__ == "__main__":
    sys.exit(main())
