"""replace_file: a file the user owns holds its old bytes or its new ones, never part."""

import os

import pytest

from tapelab.replace_file import replace_file


def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path):
    umask = os.umask(0o027)
    try:
        path = replace_file(tmp_path / "a.txt", b"x")
    finally:
        os.umask(umask)
    assert path.read_bytes() == b"x" and path.stat().st_mode & 0o777 == 0o640


def test_an_existing_file_keeps_its_mode_and_no_temporary_file_stays(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    replace_file(path, b"new")
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["a.txt"]


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path):
    target = tmp_path / "real.txt"
    target.write_bytes(b"old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert replace_file(link, b"new") == target
    assert link.is_symlink() and target.read_bytes() == b"new"


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        replace_file(path, b"new" * 1000)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.txt"]
