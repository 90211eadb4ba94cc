"""Copy tapelab's notebooks, and the example script they link, into a folder of yours.

A wheel carries the notebooks as package data (``tapelab/_notebooks/``, and
``tapelab/_examples/`` for the script notebook 08 links); in a checkout of the
repository they are the files in ``notebooks/`` and ``examples/``. Either way,
:func:`copy_notebooks` writes the same files, laid out as in the repository: the
notebooks at the top of the folder, the script in ``examples/``.
"""

import contextlib
import importlib.metadata
import os
import re
from pathlib import Path

from tapelab.replace_file import replace_files

_PACKAGE = Path(__file__).resolve().parent

# where each kind of file lives: (in a wheel, in a checkout, file pattern, folder in the copy)
_SOURCES = (
    (_PACKAGE / "_notebooks", _PACKAGE.parent / "notebooks", "*.ipynb", "."),
    (_PACKAGE / "_examples", _PACKAGE.parent / "examples", "*.py", "examples"),
)


def notebook_files() -> dict[str, Path]:
    """The files :func:`copy_notebooks` writes, as {name in the copy: file it copies}.

    Returns:
        Relative POSIX names (``"01_gradient_tape_basics.ipynb"``,
        ``"examples/multi_worker_fine_tune.py"``) mapped to the files they copy.

    >>> files = notebook_files()
    >>> "01_gradient_tape_basics.ipynb" in files, "examples/multi_worker_fine_tune.py" in files
    (True, True)
    """
    files = {}
    for installed, checkout, pattern, folder in _SOURCES:
        where = installed if installed.is_dir() else checkout
        for path in sorted(where.glob(pattern)):
            name = path.name if folder == "." else f"{folder}/{path.name}"
            files[name] = path
    if not any(name.endswith(".ipynb") for name in files):
        raise FileNotFoundError(
            f"tapelab's notebooks are not installed: neither {_SOURCES[0][0]} nor "
            f"{_SOURCES[0][1]} holds any. Reinstall tapelab from its wheel "
            "(pip install --force-reinstall tapelab), or use a checkout of the repository")
    return files


# a notebook's Markdown link to a repository file, from notebooks/: [text](../path)
_REPOSITORY_LINK = re.compile(rb"\]\(\.\./([^)\s\"]+)\)")


def source_url() -> str | None:
    """The repository's address, as the installed package records it (its Source URL)."""
    try:
        urls = importlib.metadata.metadata("tapelab").get_all("Project-URL") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [url.split(",", 1)[1].strip() for url in urls if url.startswith("Source,")]
    return found[0].rstrip("/") if found else None


def relinked(notebook: bytes, source: str | None) -> bytes:
    """A notebook's bytes with its links to repository files fixed for the copy.

    In the repository a notebook links ``../examples/...`` and ``../README.md``; in
    the copy the notebooks sit at the top of the folder, with the script in
    ``examples/`` beside them, and the rest of the repository is not there. So a link
    to ``examples/`` becomes relative to the copy, and any other becomes a link to
    the file at ``source`` (the repository's address); without one it is left as is.

    >>> relinked(b'see [it](../examples/a.py), [the README](../README.md)',
    ...          "https://example.org/r")
    b'see [it](examples/a.py), [the README](https://example.org/r/blob/main/README.md)'
    """
    def fix(match):
        path = match.group(1).decode()
        if path.startswith("examples/"):
            return f"]({path})".encode()
        return f"]({source}/blob/main/{path})".encode() if source else match.group(0)

    return _REPOSITORY_LINK.sub(fix, notebook)


class NotebooksInTheWay(FileExistsError):
    """Files of the names :func:`copy_notebooks` writes are already in the folder."""

    def __init__(self, dest, names):
        self.dest, self.names = dest, names
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        super().__init__(f"{dest} already holds {shown}; nothing was copied. Copy into "
                         "another folder, or pass overwrite=True to replace them")


def without_solutions(notebook: bytes) -> bytes:
    """A notebook's bytes with its solution cells (tagged ``solution``) left out.

    >>> import json
    >>> nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["solution"]}},
    ...                 {"cell_type": "markdown", "metadata": {}}], "metadata": {},
    ...       "nbformat": 4, "nbformat_minor": 5}
    >>> len(json.loads(without_solutions(json.dumps(nb).encode()))["cells"])
    1
    """
    import json

    nb = json.loads(notebook)
    nb["cells"] = [c for c in nb["cells"]
                   if "solution" not in (c.get("metadata") or {}).get("tags", [])]
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def copy_notebooks(dest: str | os.PathLike, *, overwrite: bool = False,
                   solutions: bool = True) -> list[Path]:
    """Copy the notebooks (and what they run) into the folder ``dest``, all or nothing.

    A notebook's links to repository files are fixed for the copy (see
    :func:`relinked`). The folder is created if it is missing. A file that is
    already there is never replaced unless ``overwrite=True``: otherwise nothing is copied, and
    the error names the files in the way. Every file is written to a temporary
    name beside its target first, and only when all are written do they take
    their names: a full disk or a read-only folder leaves the folder as it was.

    Args:
        dest: the folder to copy into.
        overwrite: replace files of the same names already in ``dest``.
        solutions: keep each exercise's solution cells; False leaves them out
            (the exercises and their checkers stay).

    Returns:
        The paths written, in order.

    Raises:
        NotebooksInTheWay: a ``FileExistsError``: some of the files are already
            in ``dest`` and ``overwrite`` is false (nothing was copied).
        NotADirectoryError: ``dest``, or a folder the copy needs inside it
            (``examples``), is a file; or a notebook's name is a folder there.
        OSError: the files could not be written (nothing was copied).

    >>> import tempfile
    >>> written = copy_notebooks(tempfile.mkdtemp())
    >>> [p.name for p in written][:2]
    ['01_gradient_tape_basics.ipynb', '02_tape_gradient.ipynb']
    """
    if not isinstance(dest, (str, os.PathLike)) or not isinstance(overwrite, bool) or \
            not isinstance(solutions, bool):
        raise TypeError("`dest` must be a folder path (str or os.PathLike), `overwrite` and "
                        f"`solutions` bools. Received: dest={dest!r}, overwrite={overwrite!r}, "
                        f"solutions={solutions!r}")
    if not os.fspath(dest):
        raise ValueError("`dest` must name a folder. Received: dest='' (for the current "
                         "folder, pass '.')")
    dest = Path(dest)
    files = notebook_files()
    folders = sorted({(dest / name).parent for name in files} | {dest})
    for folder in folders:
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f"{folder} must be a folder, to copy into, and it is a "
                                     "file; nothing was copied. Move it, or copy into "
                                     "another folder")
    targets = {name: dest / name for name in files}
    folders_in_the_way = [n for n, t in targets.items() if t.is_dir()]
    if folders_in_the_way:
        raise NotADirectoryError(f"{dest} holds folders named as files to copy "
                                 f"({', '.join(folders_in_the_way)}); nothing was copied. "
                                 "Copy into another folder")
    if not overwrite:
        present = [name for name, t in targets.items() if os.path.lexists(t)]
        if present:
            raise NotebooksInTheWay(dest, present)
    made = [f for f in folders if not f.exists()]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    url = source_url()

    def copied(name, path):
        data = path.read_bytes()
        if not name.endswith(".ipynb"):
            return data
        return relinked(without_solutions(data) if not solutions else data, url)

    try:
        return replace_files({targets[name]: copied(name, path)
                              for name, path in files.items()})
    except BaseException:
        for folder in reversed(made):  # the folders this call made, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
