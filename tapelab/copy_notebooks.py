"""Copy tapelab's notebooks, and the example script they run, into a folder of yours.

A wheel carries the notebooks as package data (``tapelab/_notebooks/``, and
``tapelab/_examples/`` for the script notebook 08 runs); in a checkout of the
repository they are the files in ``notebooks/`` and ``examples/``. Either way,
:func:`copy_notebooks` writes the same files, laid out as in the repository: the
notebooks at the top of the folder, the script in ``examples/``.
"""

import os
from pathlib import Path

from tapelab.replace_file import replace_file

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


def copy_notebooks(dest: str | os.PathLike, *, overwrite: bool = False) -> list[Path]:
    """Copy the notebooks (and what they run) into the folder ``dest``.

    The folder is created if it is missing. A file that is already there is
    never replaced unless ``overwrite=True``: otherwise nothing is copied, and
    the error names the files in the way. Each file is written to a temporary
    name first and then moved into place, so an interrupted copy never leaves a
    truncated notebook behind.

    Args:
        dest: the folder to copy into.
        overwrite: replace files of the same names already in ``dest``.

    Returns:
        The paths written, in order.

    Raises:
        FileExistsError: some of the files are already in ``dest`` and
            ``overwrite`` is false (nothing was copied).
        NotADirectoryError: ``dest`` is an existing file, not a folder.

    >>> import tempfile
    >>> written = copy_notebooks(tempfile.mkdtemp())
    >>> [p.name for p in written][:2]
    ['01_gradient_tape_basics.ipynb', '02_tape_gradient.ipynb']
    """
    if not isinstance(dest, (str, os.PathLike)) or isinstance(overwrite, str):
        raise TypeError("`dest` must be a folder path (str or os.PathLike) and `overwrite` a "
                        f"bool. Received: dest={dest!r}, overwrite={overwrite!r}")
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"`dest` must be a folder, or a path where one can be "
                                 f"made. Received: dest={str(dest)!r}, which is a file")
    files = notebook_files()
    if not overwrite:
        present = [name for name in files if os.path.lexists(dest / name)]
        if present:
            shown = ", ".join(present[:4]) + (f" and {len(present) - 4} more"
                                              if len(present) > 4 else "")
            raise FileExistsError(
                f"{dest} already holds {shown}; nothing was copied. Copy into another "
                "folder, or pass overwrite=True (`tapelab notebooks --force`) to replace them")
    written = []
    for name, source in files.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_file(target, source.read_bytes())
        written.append(target)
    return written
