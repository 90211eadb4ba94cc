"""Which notebooks a list of paths names: files, and folders searched as pytest searches them."""

from pathlib import Path


class NoNotebookError(ValueError):
    """A path that is neither a notebook nor a folder holding one."""


def notebooks_in(folder):
    """The notebooks in ``folder`` and its subfolders, in order, without ``.ipynb_checkpoints``."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*.ipynb")
                  if p.is_file() and ".ipynb_checkpoints" not in p.relative_to(folder).parts)


def find_notebooks(given):
    """The notebooks that ``given`` names, in the order given.

    Args:
      given: paths of ``.ipynb`` files or of folders (searched with their subfolders).

    Returns:
      A list of ``pathlib.Path``.

    Raises:
      NoNotebookError: a path is not a ``.ipynb`` file, or a folder holds none.
    """
    paths = []
    for p in map(Path, given):
        if p.is_dir():
            inside = notebooks_in(p)
            if not inside:
                raise NoNotebookError(
                    f"no notebook in {p} (searched it and its subfolders, skipping "
                    ".ipynb_checkpoints). Pass a .ipynb file or a folder that holds one")
            paths += inside
        elif p.suffix == ".ipynb" and p.is_file():
            paths.append(p)
        else:
            raise NoNotebookError(f"no notebook at {p} (expected a .ipynb file or a folder "
                                  "of them)")
    return paths
