"""Replacing a file the user owns in one step: it holds the old bytes or the new, never part."""

import contextlib
import os
import tempfile
from pathlib import Path


def replace_file(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole, or leave the file there as it was.

    The bytes go to a temporary file in the same folder, are flushed and synced
    to disk, and then replace ``path`` in one step (``os.replace``). A full disk
    or a killed process never leaves a partial or empty file: ``path`` holds the
    old contents or the new. On an error the temporary file is removed and the
    error raised; a killed writer may leave one behind (``.<name>.<random>.tmp``).
    An existing file keeps its mode, a new one gets the mode ``open()`` would give
    it, and a symlink is followed: its target is replaced, the link stays (as
    Jupyter does).

    Args:
      path: the file to write (replaced if it exists).
      data: its new contents.

    Returns:
      The path written (a symlink's target).

    >>> import tempfile
    >>> p = replace_file(Path(tempfile.mkdtemp()) / "a.txt", b"new")
    >>> p.read_bytes()
    b'new'
    """
    (staged,) = _staged({path: data})
    return _commit([staged])[0]


def replace_files(files: dict) -> list[Path]:
    """Write several files all or nothing: each to a temporary file beside it first; only
    when every one is written and synced do they replace their targets.

    Args:
      files: ``{path: bytes}``.

    Returns:
      The paths written (symlinks' targets), in order.

    Raises:
      OSError: a file could not be written (a full disk, no permission); every
        temporary file is removed and no target was touched.
    """
    return _commit(_staged(files))


def _staged(files):
    """[(temporary file, target)] with every file's bytes written and synced, or nothing."""
    staged = []
    try:
        for path, data in files.items():
            target = Path(os.path.realpath(path))  # a symlink stays a link: its target changes
            if target.exists():
                mode = target.stat().st_mode & 0o7777
            else:
                umask = os.umask(0o022)
                os.umask(umask)
                mode = 0o666 & ~umask
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                       dir=target.parent)
            staged.append((tmp, target))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    return staged


def _commit(staged):
    for tmp, target in staged:
        os.replace(tmp, target)
    return [target for _, target in staged]
