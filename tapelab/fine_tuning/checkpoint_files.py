"""The files of a checkpoint directory: checked before the first step, locked, scanned.

- :func:`check_directory` refuses ``""``, a file, a path under a file and a
  directory this process cannot write, before anything changes.
- :class:`Lock` lets one process write a directory at a time. It is an OS lock
  (``fcntl.flock`` on a lock file), which the kernel releases when the process
  dies, however it dies: a lock is never stale, whatever host or PID wrote it.
  The file holds the writer's host and PID for the message only.
- :func:`checkpoints` lists the checkpoints by number, :func:`damage` says why
  one cannot be read, and :func:`move_aside` puts a damaged one's files out of
  the way under names of their own (never deleted, never overwritten).
"""

import fcntl
import os
import re
import socket
import tempfile
import time

LOCK = ".tapelab-fine_tune.lock"
_CHECKPOINT = re.compile(r"^ckpt-(\d+)\.index$")
# the files of checkpoint N: its index and its data shards, nothing else of the user's
_FILES = r"^ckpt-{n}\.(index|data-\d{{5}}-of-\d{{5}})$"


def check_directory(directory, argument="checkpoint_dir"):
    """``directory`` as a path to a directory this process can write, or ValueError.

    Creates it (and its parents) if needed, as Keras's ``BackupAndRestore`` does;
    refuses ``""``, a path that is a file or sits under one, and a directory
    where a file cannot be created.
    """
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"`{argument}` must be a path (str or os.PathLike). Received: "
                        f"{argument}={directory!r} of type {type(directory).__name__}.")
    path = os.fspath(directory)
    if not path:
        raise ValueError(f"`{argument}` must name a directory; an empty one would mean the "
                         f"current directory. Received: {argument}=''. Pass a directory "
                         "of its own, e.g. 'checkpoints/run-1'.")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ValueError(
            f"`{argument}` must be a directory that this process can write. Received: "
            f"{argument}={path!r}, where {type(e).__name__}: {e.strerror or e}. Nothing "
            "was trained. Pass a writable directory (not a file, nor a path under one)."
        ) from None
    return path


class Lock:
    """One writer per checkpoint directory: an exclusive ``flock`` on its lock file.

    ``acquire`` never waits: a directory whose lock another open file holds (another
    process, or another run in this one) is refused, naming the holder as its
    file says. The lock file is removed on release while still locked, so a
    writer that opened it just before checks, once locked, that the path still
    names the file it locked, and starts again if not.
    """

    def __init__(self, directory, argument="checkpoint_dir"):
        self.path = os.path.join(directory, LOCK)
        self.argument = argument  # the name the user gave the directory, for messages
        self.fd = None

    @property
    def held(self):
        return self.fd is not None

    def acquire(self):
        if self.held:
            return
        for _ in range(100):  # each retry means a release happened meanwhile
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise ValueError(
                    f"`{self.argument}`'s lock file {self.path} cannot be opened "
                    f"({type(e).__name__}: {e.strerror or e}). Received: {self.argument}="
                    f"{os.path.dirname(self.path)!r}. Nothing was changed. Remove what is at "
                    "that path, or use another directory.") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode(errors="replace").split()
                os.close(fd)
                self._refuse(holder)
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{socket.gethostname()} {os.getpid()}\n".encode(), 0)
                self.fd = fd
                return
            os.close(fd)  # released and removed by its holder in between: again
            time.sleep(0.001)
        raise ValueError(f"`{self.argument}`'s lock file {self.path} keeps being replaced: "
                         "other processes are starting in it. Use a directory of its own "
                         "for this run.")

    def _refuse(self, holder):
        where = os.path.dirname(self.path)
        if len(holder) == 2 and holder[1].isdigit():
            host, pid = holder[0], int(holder[1])
            who = ("this process (another run in it, in another thread)"
                   if host == socket.gethostname() and pid == os.getpid()
                   else f"process {pid} on host {host!r}")
        else:
            who = "another process"  # it has not written its name yet
        raise ValueError(
            f"`{self.argument}` is in use: {who} is writing checkpoints to it (it holds the "
            f"lock on {self.path}). Received: {self.argument}={where!r}. Nothing was "
            "changed. Wait for that run to finish, or give this run a directory of its own.")

    def release(self):
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            os.remove(self.path)  # still locked: nobody can lock this file meanwhile
        except OSError:
            pass
        os.close(fd)  # the kernel drops the lock with the last descriptor


def checkpoints(directory):
    """``{number: prefix}`` of the checkpoints in ``directory`` (those with an index file)."""
    return {int(m[1]): os.path.join(directory, f"ckpt-{m[1]}")
            for m in map(_CHECKPOINT.match, os.listdir(directory)) if m}


def damage(prefix):
    """Why the checkpoint at ``prefix`` cannot be read in full, or None if it can."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)  # reads the .data file: a truncated one fails here
    except Exception as e:  # noqa: BLE001 - any failure to read is damage to report
        return f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"
    return None


def index_note(directory, restored, damaged):
    """What is wrong with the directory's ``checkpoint`` index, in words, or None: it is
    missing or unreadable, or points at a checkpoint other than ``restored`` (the newest
    intact one) that is not among the ``damaged`` names."""
    import tensorflow as tf

    if not os.path.exists(os.path.join(directory, "checkpoint")):
        return "its index file 'checkpoint' is missing"
    state = tf.train.get_checkpoint_state(directory)
    if state is None:
        return "its index file 'checkpoint' cannot be read"
    name = os.path.basename(state.model_checkpoint_path)
    if name == os.path.basename(restored) or name in damaged:
        return None
    if not os.path.exists(os.path.join(directory, name + ".index")):
        return f"its index points at {name}, which is missing"
    return f"its index points at {name}, older than {os.path.basename(restored)}"


def rewrite_index(directory, newest):
    """Point the directory's ``checkpoint`` index at ``newest``, listing the intact
    checkpoints up to it (oldest first), as ``tf.train.CheckpointManager`` writes it."""
    import tensorflow as tf

    number = int(re.fullmatch(r".*ckpt-(\d+)", newest)[1])
    kept = [prefix for n, prefix in sorted(checkpoints(directory).items())
            if n <= number and (prefix == newest or damage(prefix) is None)]
    # with their times, as the manager writes them: it deletes the oldest by them
    times = [os.path.getmtime(prefix + ".index") for prefix in kept]
    tf.compat.v1.train.update_checkpoint_state(
        directory, newest, all_model_checkpoint_paths=kept,
        all_model_checkpoint_timestamps=times, last_preserved_timestamp=min(times) - 1)


def move_aside(directory, name):
    """Rename checkpoint ``name``'s files (``ckpt-3.index``, ``ckpt-3.data-...``) to
    ``<file>.damaged-<n>``, with ``n`` the first number no file there has yet.

    Returns:
      The new names, in order.
    """
    number = re.fullmatch(r"ckpt-(\d+)", name)[1]
    pattern = re.compile(_FILES.format(n=number))
    moved = []
    for file in sorted(os.listdir(directory)):
        if not pattern.match(file):
            continue
        n = 1
        while os.path.exists(os.path.join(directory, f"{file}.damaged-{n}")):
            n += 1
        target = f"{file}.damaged-{n}"
        os.replace(os.path.join(directory, file), os.path.join(directory, target))
        moved.append(target)
    return moved


# ---------------------------------------------------------------- the signature

FORMAT = "tapelab.checkpoint/2"


def optimizer_variables(optimizer, variables):
    """The shapes and dtypes of the optimizer's variables, or of those it will have
    without building it (a copy is built); None when no copy can be made (a custom
    optimizer whose config cannot rebuild it): then they are compared once built."""
    import copy

    if not optimizer.built:
        try:
            optimizer = copy.deepcopy(optimizer)
            optimizer.build(variables)
        except Exception:  # noqa: BLE001 - any failure: compare after the real build
            return None
    return [[list(v.shape), v.dtype] for v in optimizer.variables]


def signature(model, optimizer, variables, settings):
    """What a checkpoint must match to be resumed: the model's and the optimizer's
    variables (shapes and dtypes, in order: paths hold auto-numbered names, which
    differ between two builds of one model), which of them train, the optimizer's
    type and hyperparameters (its learning rate aside: restored, and reported when
    it differs), and ``settings`` (a JSON dict: the run's configuration)."""
    import json

    where = {id(v): i for i, v in enumerate(model.variables)}
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    try:
        config = inner.get_config()
    except Exception:  # noqa: BLE001 - a schedule that cannot say its config: its class
        from tapelab import _keras_internals

        rate = _keras_internals.learning_rate_object(inner)
        config = {"learning_rate": f"{type(rate).__module__}.{type(rate).__qualname__}"}
    if isinstance(config.get("learning_rate"), (int, float)):
        del config["learning_rate"]  # a constant rate is restored, and reported if it differs
    config.pop("name", None)  # a schedule stays: another schedule is another run
    return {
        "format": FORMAT,
        "model": [[list(v.shape), v.dtype] for v in model.variables],
        "selected": [where[id(v)] for v in variables],
        "optimizer": [type(optimizer).__name__, optimizer_variables(optimizer, variables)],
        "optimizer_config": json.loads(json.dumps(config, sort_keys=True, default=str)),
        "settings": json.loads(json.dumps(settings)),  # in the configuration's order
    }


def _shown(value):
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def first_difference(saved, own, model):
    """A sentence naming the first thing in ``saved`` that ``own`` does not match, or None."""
    if saved.get("format") != FORMAT:
        return (f"it is in format {saved.get('format')!r}, not {FORMAT!r} (written by "
                "another version of tapelab)")
    if saved["optimizer"][0] != own["optimizer"][0]:
        return (f"it was written with optimizer {saved['optimizer'][0]}, this run has "
                f"{own['optimizer'][0]}")
    for name in sorted(set(saved.get("optimizer_config", {})) | set(own["optimizer_config"])):
        theirs, mine = saved.get("optimizer_config", {}).get(name), own["optimizer_config"].get(name)
        if theirs != mine:
            return f"its optimizer had {name}={_shown(theirs)}, this run's has {name}={_shown(mine)}"
    paths = [v.path for v in model.variables]
    for what, a, b in (("model variables", saved["model"], own["model"]),
                       ("selected variables", saved["selected"], own["selected"]),
                       ("optimizer variables", saved["optimizer"][1], own["optimizer"][1])):
        if a is None or b is None:  # optimizer variables not known before the build
            continue
        if len(a) != len(b):
            return f"it holds {len(a)} {what}, this run has {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                name = f" ({paths[i]})" if what == "model variables" else ""
                return f"its {what} differ at #{i}{name}: {x} there, {y} here"
    theirs, mine = saved.get("settings", {}), own["settings"]
    for name in [*mine, *(k for k in theirs if k not in mine)]:
        if theirs.get(name) != mine.get(name):
            return (f"it was written with {name}={_shown(theirs.get(name))}, this run has "
                    f"{name}={_shown(mine.get(name))}, so resuming would not continue the "
                    "run that wrote it")
    return None
