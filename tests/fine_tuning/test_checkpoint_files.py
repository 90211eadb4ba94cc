"""A checkpoint directory's files (tapelab/fine_tuning/checkpoint_files.py): the directory
check, the one-writer lock under a real race, damaged files moved aside, the signature."""

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tapelab.fine_tuning.checkpoint_files import LOCK, Lock, check_directory, move_aside

ROOT = Path(__file__).resolve().parents[2]

# a racer: waits for the start time, tries the lock once, and if it got it, holds it for
# a while, logging when it held it ("pid start end" on one line, appended atomically)
RACER = """
import os, sys, time
sys.path.insert(0, sys.argv[4])
from tapelab.fine_tuning.checkpoint_files import Lock
directory, start_at, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
while time.time() < start_at:
    pass
lock = Lock(directory)
try:
    lock.acquire()
except ValueError:
    sys.exit(0)
got = time.monotonic()
time.sleep(0.15)
left = time.monotonic()
with open(log, "a") as f:
    f.write(f"{os.getpid()} {got} {left}\\n")
lock.release()
"""


def race(directory, log, racers):
    start_at = time.time() + 0.5
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(directory), str(start_at),
                               str(log), str(ROOT)]) for _ in range(racers)]
    for p in procs:
        assert p.wait(timeout=60) == 0


def killed_holder(directory):
    """A process that took the lock and was killed with kill -9: its lock file stays."""
    code = ("import sys, time; sys.path.insert(0, sys.argv[2]);"
            "from tapelab.fine_tuning.checkpoint_files import Lock;"
            "Lock(sys.argv[1]).acquire(); print('HELD', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(directory), str(ROOT)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "HELD"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_of_many_writers_starting_at_once_one_holds_the_lock(tmp_path):
    """The old lock took over a stale lock by check-then-rename: with 4 to 6 processes
    starting at once, 2 of 65 rounds ended with two holders. Here 40 rounds of 5, half of
    them over the lock file of a writer killed with kill -9: never two holders at once."""
    for round_ in range(40):
        directory = tmp_path / f"r{round_}"
        directory.mkdir()
        if round_ % 2:
            killed_holder(directory)
            assert (directory / LOCK).exists()
        log = tmp_path / f"r{round_}.log"
        race(directory, log, 5)
        held = sorted(tuple(map(float, line.split()[1:])) for line in log.read_text().splitlines())
        assert held, f"round {round_}: nobody got the lock"
        for (_, end), (start, _) in itertools.pairwise(held):
            assert start >= end, f"round {round_}: two writers held the lock at once: {held}"
        assert not (directory / LOCK).exists()  # released and removed


def test_a_second_lock_in_this_process_is_refused_and_release_lets_it_in(tmp_path):
    first, second = Lock(str(tmp_path)), Lock(str(tmp_path))
    first.acquire()
    with pytest.raises(ValueError, match=r"this process \(another run in it, in another "
                                         r"thread\) is writing checkpoints to it"):
        second.acquire()
    assert not second.held
    first.release()
    second.acquire()
    assert second.held
    second.release()
    assert not (tmp_path / LOCK).exists()


@pytest.mark.parametrize("content", ["otherhost 99\n", "1 2 3", ""])
def test_a_lock_file_that_nobody_holds_is_taken(tmp_path, content):
    (tmp_path / LOCK).write_text(content)
    lock = Lock(str(tmp_path))
    lock.acquire()
    assert lock.held and (tmp_path / LOCK).read_text().split()[1] == str(os.getpid())
    lock.release()


def test_check_directory_refuses_what_cannot_be_written(tmp_path):
    afile = tmp_path / "f"
    afile.write_text("x")
    for bad, match in ((afile, "a directory that this process can write"),
                       (afile / "sub", "a directory that this process can write"),
                       ("", "must name a directory"), (3, "must be a path")):
        with pytest.raises((ValueError, TypeError), match=match):
            check_directory(bad)
    assert check_directory(tmp_path / "new" / "dir") == str(tmp_path / "new" / "dir")
    assert (tmp_path / "new" / "dir").is_dir()


def test_move_aside_keeps_every_copy_and_only_moves_checkpoint_files(tmp_path):
    for name in ("ckpt-3.index", "ckpt-3.data-00000-of-00001", "ckpt-3.notes.txt",
                 "ckpt-30.index", "ckpt-3.index.damaged-1"):
        (tmp_path / name).write_text(name)
    assert move_aside(str(tmp_path), "ckpt-3") == ["ckpt-3.data-00000-of-00001.damaged-1",
                                                   "ckpt-3.index.damaged-2"]
    (tmp_path / "ckpt-3.index").write_text("again")
    assert move_aside(str(tmp_path), "ckpt-3") == ["ckpt-3.index.damaged-3"]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ckpt-3.data-00000-of-00001.damaged-1", "ckpt-3.index.damaged-1",
                     "ckpt-3.index.damaged-2", "ckpt-3.index.damaged-3", "ckpt-3.notes.txt",
                     "ckpt-30.index"]
    assert (tmp_path / "ckpt-3.index.damaged-1").read_text() == "ckpt-3.index.damaged-1"
