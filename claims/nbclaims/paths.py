"""Which notebooks a list of paths names: files, and folders searched as pytest searches them.

A folder is searched with its subfolders, skipping those pytest skips by default
(``norecursedirs``: hidden folders such as ``.git``, ``.venv`` and
``.ipynb_checkpoints``, ``build``, ``dist``, ``node_modules``, ``venv``,
``*.egg``, ``CVS``, ``_darcs``, ``{arch}``) and any folder that holds a virtual
environment. A path named explicitly is always taken.
"""

import fnmatch
import os
from pathlib import Path

# pytest's default norecursedirs
SKIPPED = ("*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}")


class NoNotebookError(ValueError):
    """A path that is neither a notebook nor a folder holding one, or a folder that
    cannot be read."""


def _skipped(folder):
    if any(fnmatch.fnmatch(folder.name, pattern) for pattern in SKIPPED):
        return True
    try:
        return (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta" / "history").is_file()
    except OSError:  # a folder that cannot be read: the walk reports it
        return False


def notebooks_in(folder):
    """The notebooks in ``folder`` and its subfolders, in order, skipping what pytest skips.

    Raises:
      NoNotebookError: a folder on the way cannot be read.
    """
    folder = Path(folder)

    def refuse(error):
        raise NoNotebookError(f"cannot read the folder {error.filename} "
                              f"({type(error).__name__}: {error.strerror or error}); "
                              "its notebooks would not be checked")

    found = []
    for root, dirs, files in os.walk(folder, onerror=refuse):
        dirs[:] = sorted(d for d in dirs if not _skipped(Path(root) / d))
        found += [Path(root) / f for f in files if f.endswith(".ipynb")]
    return sorted(found)


def find_notebooks(given):
    """The notebooks that ``given`` names, in the order given, each once.

    Args:
      given: paths of ``.ipynb`` files or of folders (searched with their subfolders).

    Returns:
      A list of ``pathlib.Path``.

    Raises:
      NoNotebookError: a path is empty, is not a ``.ipynb`` file or a folder, or
        a folder holds none or cannot be read.
    """
    paths, seen = [], set()
    for text in given:
        if not str(text):
            raise NoNotebookError("no notebook at '' (an empty path; expected a .ipynb file "
                                  "or a folder of them)")
        p = Path(text)
        if p.is_dir():
            inside = notebooks_in(p)
            if not inside:
                raise NoNotebookError(
                    f"no notebook in {p} (searched it and its subfolders, skipping those "
                    "pytest skips: hidden ones, build, dist, venv, ...). Pass a .ipynb file "
                    "or a folder that holds one")
        elif p.suffix == ".ipynb" and p.is_file():
            inside = [p]
        elif not p.exists():
            raise NoNotebookError(f"no notebook at {p}: it does not exist")
        else:
            raise NoNotebookError(f"no notebook at {p} (expected a .ipynb file or a folder "
                                  "of them)")
        for q in inside:
            key = os.path.realpath(q)
            if key not in seen:
                seen.add(key)
                paths.append(q)
    return paths
