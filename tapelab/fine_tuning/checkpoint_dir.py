"""The checkpoint directory of ``fine_tune``: checked before the first step, one writer at a time.

``check_directory`` refuses ``""``, a file, a path under a file and a directory
this process cannot write, before anything changes. ``Lock`` lets one process
write a directory at a time: a lock file holds the writer's host and PID; a
second writer is refused, and a lock left by a dead process is taken over.
"""

import os
import socket
import tempfile

LOCK = ".tapelab-fine_tune.lock"


def check_directory(directory):
    """``checkpoint_dir`` as a path to a directory this process can write, or ValueError.

    Creates it (and its parents) if needed, as Keras's ``BackupAndRestore`` does;
    refuses ``""``, a path that is a file or sits under one, and a directory
    where a file cannot be created. Runs before the first step.
    """
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError("`checkpoint_dir` must be a path (str or os.PathLike). Received: "
                        f"checkpoint_dir={directory!r} of type {type(directory).__name__}.")
    path = os.fspath(directory)
    if not path:
        raise ValueError("`checkpoint_dir` must name a directory; an empty one would mean the "
                         "current directory. Received: checkpoint_dir=''. Pass a directory "
                         "of its own, e.g. checkpoint_dir='checkpoints/run-1'.")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ValueError(
            f"`checkpoint_dir` must be a directory that this process can write. Received: "
            f"checkpoint_dir={path!r}, where {type(e).__name__}: {e.strerror or e}. Nothing "
            "was trained. Pass a writable directory (not a file, nor a path under one)."
        ) from None
    return path


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


class Lock:
    """One writer per checkpoint directory: a file holding the writer's host and PID."""

    def __init__(self, directory):
        self.path = os.path.join(directory, LOCK)
        self.me = f"{socket.gethostname()} {os.getpid()}"
        self.held = False

    def acquire(self):
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            self._take_over()
        else:
            with os.fdopen(fd, "w") as f:
                f.write(self.me + "\n")
        self.held = True

    def _take_over(self):
        try:
            with open(self.path) as f:
                host, pid = f.read().split()
            pid = int(pid)
        except (OSError, ValueError):
            host, pid = None, None  # unreadable: left half-written by a killed writer
        here = socket.gethostname()
        if host == here and pid is not None and pid != os.getpid() and _alive(pid):
            raise ValueError(
                f"`checkpoint_dir` is in use: process {pid} on this machine is writing "
                f"checkpoints to it (lock file {self.path}). Received: checkpoint_dir="
                f"{os.path.dirname(self.path)!r}. Nothing was changed. Wait for that run to "
                "finish, or give this run a directory of its own.")
        if host is not None and host != here:
            raise ValueError(
                f"`checkpoint_dir` is in use by process {pid} on host {host!r} (lock file "
                f"{self.path}), which this machine cannot check. Received: checkpoint_dir="
                f"{os.path.dirname(self.path)!r}. Nothing was changed. If that run is over, "
                "delete the lock file; otherwise use another directory.")
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=LOCK + ".")
        with os.fdopen(fd, "w") as f:
            f.write(self.me + "\n")
        os.replace(tmp, self.path)  # a dead writer's lock, or this process's own

    def release(self):
        if self.held:
            self.held = False
            try:
                with open(self.path) as f:
                    mine = f.read().strip() == self.me
                if mine:
                    os.remove(self.path)
            except OSError:
                pass
