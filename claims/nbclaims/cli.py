"""The ``check-claims`` command: ``check-claims --help`` says what it checks and how it exits."""

import argparse
import sys

from nbclaims.claim import NotebookError, claims
from nbclaims.paths import NoNotebookError, find_notebooks

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

Exit codes:
  0  every claim holds
  1  some claim does not hold, is empty or malformed, or sits in an unreadable
     cell (each is printed with the cell's actual output)
  2  a path names no notebook, or a notebook cannot be read (missing, no
     permission, not JSON, not nbformat 3 or 4); nothing is checked
"""


def add_arguments(parser):
    """The command's arguments, on ``parser`` (``tapelab check-claims`` shares them)."""
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="a .ipynb file, or a folder searched with its subfolders")


def make_parser(prog="check-claims"):
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def run(paths, prog="check-claims"):
    """Check the claims of the notebooks ``paths`` names; print the report; the exit code."""
    try:
        notebooks = find_notebooks(paths)
    except NoNotebookError as exc:
        print(f"{prog}: {exc}.", file=sys.stderr)
        return 2
    found = []
    for p in notebooks:
        try:
            found += claims(p)
        except NotebookError as exc:
            print(f"{prog}: {p}: not a valid notebook: {exc}", file=sys.stderr)
            return 2
    bad = [c for c in found if not c.holds]
    for c in bad:
        print(c.report())
    unreadable = sum(bool(c.unreadable) for c in found)
    checked = len(found) - unreadable
    print(f"{prog}: {checked - len(bad) + unreadable} of {checked} claims hold "
          f"in {len(notebooks)} notebook(s)"
          + (f"; {unreadable} cell(s) unreadable" if unreadable else ""))
    return 1 if bad else 0


def main(argv=None):
    args = make_parser().parse_args(argv)
    return run(args.paths)


if __name__ == "__main__":
    sys.exit(main())
