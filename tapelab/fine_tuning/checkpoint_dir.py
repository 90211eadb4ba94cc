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
    """One writer per checkpoint directory: a file holding the writer's host and PID.

    The file appears whole or not at all (written aside, then hard-linked into
    place, which fails if it exists), so no writer ever reads a half-written one.
    A lock whose process is gone is moved aside under a name of its own (one
    rename wins) and taken; a lock of a live process, this one included (another
    thread's run), is refused.
    """

    def __init__(self, directory):
        self.path = os.path.join(directory, LOCK)
        self.me = f"{socket.gethostname()} {os.getpid()}"
        self.held = False

    def acquire(self):
        for _ in range(3):
            if self._create():
                self.held = True
                return
            self._clear_stale()
        raise ValueError(f"`checkpoint_dir`'s lock file {self.path} keeps reappearing: another "
                         "process is starting in it. Use a directory of its own for this run.")

    def _create(self):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=LOCK + ".")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(self.me + "\n")
            os.link(tmp, self.path)  # atomic, and fails if a lock exists
            return True
        except FileExistsError:
            return False
        finally:
            os.remove(tmp)

    def _clear_stale(self):
        try:
            with open(self.path) as f:
                host, pid = f.read().split()
            pid = int(pid)
        except FileNotFoundError:
            return  # released meanwhile: try again
        except (OSError, ValueError):
            host, pid = None, None  # not a lock tapelab wrote
        here, where = socket.gethostname(), os.path.dirname(self.path)
        if host == here and _alive(pid):
            who = "this process (another run in it, in another thread)" if pid == os.getpid() \
                else f"process {pid} on this machine"
            raise ValueError(
                f"`checkpoint_dir` is in use: {who} is writing checkpoints to it (lock file "
                f"{self.path}). Received: checkpoint_dir={where!r}. Nothing was changed. Wait "
                "for that run to finish, or give this run a directory of its own.")
        if host is None:
            raise ValueError(
                f"`checkpoint_dir` holds a lock file tapelab cannot read ({self.path}). "
                f"Received: checkpoint_dir={where!r}. Nothing was changed. If no run is "
                "writing there, delete the lock file.")
        if host != here:
            raise ValueError(
                f"`checkpoint_dir` holds a lock file ({self.path}) of process {pid} on host "
                f"{host!r}, which this machine cannot check. Received: checkpoint_dir={where!r}. "
                "Nothing was changed. If that run is over, delete the lock file; otherwise use "
                "another directory.")
        try:  # the writer is gone: move its lock aside; of two takers, one rename wins
            os.rename(self.path, f"{self.path}.stale-{pid}-{os.getpid()}")
            os.remove(f"{self.path}.stale-{pid}-{os.getpid()}")
        except FileNotFoundError:
            pass

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
