"""tapelab notebooks DEST: the notebooks, and the script 08 links, copied into a folder."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tapelab.copy_notebooks import copy_notebooks, notebook_files, relinked, source_url

ROOT = Path(__file__).parent.parent


def tapelab(*args):
    return subprocess.run([sys.executable, "-m", "tapelab", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_every_notebook_and_the_example_script_are_copied_byte_for_byte(tmp_path):
    """Byte for byte, but for the links to repository files (relinked for the copy)."""
    written = copy_notebooks(tmp_path / "new" / "folder")
    names = sorted(p.relative_to(tmp_path / "new" / "folder").as_posix() for p in written)
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert names == sorted(notebooks + ["examples/multi_worker_fine_tune.py"])
    unchanged = 0
    for path in written:
        source = notebook_files()[path.relative_to(tmp_path / "new" / "folder").as_posix()]
        expected = source.read_bytes()
        if path.suffix == ".ipynb":
            expected = relinked(expected, source_url())
        unchanged += expected == source.read_bytes()
        assert path.read_bytes() == expected
        assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert unchanged >= 5  # the notebooks without such links, and the script


def test_links_to_repository_files_work_in_the_copy(tmp_path):
    """The copy has no notebooks/ folder above it: ../examples/ becomes examples/ (copied
    beside the notebooks), any other repository file the repository's address."""
    written = copy_notebooks(tmp_path)
    url = source_url()
    assert url and url.startswith("https://")
    seen_example = seen_url = False
    for path in written:
        if path.suffix != ".ipynb":
            continue
        text = path.read_text()
        assert "](../" not in text, path.name
        for target in re.findall(r"\]\((examples/[^)\s\"]+)\)", text):
            assert (tmp_path / target).is_file(), target
            seen_example = True
        seen_url |= f"]({url}/blob/main/README.md" in text
    assert seen_example and seen_url


def test_relinking_leaves_links_between_notebooks_and_web_links_alone():
    text = (b"[notebook 05](05_fine_tuning_layer_subsets.ipynb) [web](https://x.org/a) "
            b"[up](../README.md#install)")
    assert relinked(text, "https://h/r") == (
        b"[notebook 05](05_fine_tuning_layer_subsets.ipynb) [web](https://x.org/a) "
        b"[up](https://h/r/blob/main/README.md#install)")
    assert relinked(text, None) == text  # no address known: nothing invented


def _umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_a_file_in_the_way_stops_the_copy_before_anything_is_written(tmp_path):
    mine = tmp_path / "03_tape_watch.ipynb"
    mine.write_text("my own notes")
    with pytest.raises(FileExistsError, match=r"already holds 03_tape_watch\.ipynb; nothing "
                                              r"was copied.*overwrite=True"):
        copy_notebooks(tmp_path)
    assert os.listdir(tmp_path) == ["03_tape_watch.ipynb"] and mine.read_text() == "my own notes"


def test_overwrite_replaces_the_files_in_the_way(tmp_path):
    (tmp_path / "03_tape_watch.ipynb").write_text("old")
    copy_notebooks(tmp_path, overwrite=True)
    assert (tmp_path / "03_tape_watch.ipynb").read_bytes() == (
        ROOT / "notebooks" / "03_tape_watch.ipynb").read_bytes()


def test_bad_destinations_are_refused_by_name(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"file must be a folder, to copy into, and "
                                                 r"it is a file; nothing was copied"):
        copy_notebooks(tmp_path / "file")
    with pytest.raises(ValueError, match=r"`dest` must name a folder\. Received: dest=''"):
        copy_notebooks("")
    with pytest.raises(TypeError, match=r"`dest` must be a folder path.*Received: dest=3"):
        copy_notebooks(3)


def test_the_command_copies_refuses_a_second_time_and_forces(tmp_path):
    done = tapelab("notebooks", tmp_path / "nb")
    assert done.returncode == 0, done.stderr
    assert "9 notebooks copied into" in done.stdout and "01_gradient_tape_basics" in done.stdout
    again = tapelab("notebooks", tmp_path / "nb")
    assert again.returncode == 2 and "nothing was copied" in again.stderr
    assert "--force" in again.stderr
    forced = tapelab("notebooks", tmp_path / "nb", "--force")
    assert forced.returncode == 0, forced.stderr


def test_a_missing_extra_is_named_with_its_install_line():
    # a Python that does not find nbclient, as an install without the notebooks extra
    code = ("import importlib.util, sys\n"
            "real = importlib.util.find_spec\n"
            "importlib.util.find_spec = lambda n, *a: None if n == 'nbclient' else real(n, *a)\n"
            "from tapelab.cli import main\n"
            "sys.exit(main(['run-notebooks', 'notebooks/01_gradient_tape_basics.ipynb']))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2
    # (an install without the extra may lack ipykernel too: then both are named)
    assert "tapelab run-notebooks: needs nbclient" in done.stderr
    assert ("which this install lacks. Install tapelab's 'notebooks' extra: pip install "
            "'tapelab[notebooks]'; nothing was run.") in done.stderr


def test_a_full_disk_copies_nothing_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    writes = []

    def full_after_three(fd):
        writes.append(fd)
        if len(writes) > 3:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_after_three)
    with pytest.raises(OSError, match="No space left"):
        copy_notebooks(tmp_path / "new")
    assert not (tmp_path / "new").exists()  # the folders it made are gone, no file was left
    (tmp_path / "mine").mkdir()
    with pytest.raises(OSError, match="No space left"):
        copy_notebooks(tmp_path / "mine")
    assert os.listdir(tmp_path / "mine") == []


@pytest.mark.parametrize("make, match", [
    (lambda d: (d / "examples").write_text("x"), r"examples must be a folder.*it is a file"),
    (lambda d: (d / "03_tape_watch.ipynb").mkdir(), (r"holds folders named as files to copy "
                                                   r"\(03_tape_watch\.ipynb\)")),
])
def test_things_in_the_way_are_refused_before_anything_is_written(tmp_path, make, match):
    make(tmp_path)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(NotADirectoryError, match=match):
        copy_notebooks(tmp_path, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == before


def test_the_command_names_the_flag_and_refuses_an_empty_folder_name(tmp_path):
    (tmp_path / "01_gradient_tape_basics.ipynb").write_text("mine")
    done = tapelab("notebooks", tmp_path)
    assert done.returncode == 2
    assert "already holds 01_gradient_tape_basics.ipynb; nothing was copied. Copy into " \
           "another folder, or pass --force to replace them." in done.stderr
    empty = tapelab("notebooks", "")
    assert empty.returncode == 2 and "DEST must name a folder" in empty.stderr


def test_without_solutions_leaves_out_the_solution_cells_and_keeps_the_exercises(tmp_path):
    import nbformat

    copy_notebooks(tmp_path, solutions=False)
    for path in sorted(tmp_path.glob("*.ipynb")):
        original = nbformat.reads(relinked((ROOT / "notebooks" / path.name).read_bytes(),
                                           source_url()).decode(), as_version=4)
        copied = nbformat.read(path, as_version=4)
        tags = [c.metadata.get("tags", []) for c in copied.cells]
        assert not any("solution" in t for t in tags), path.name
        assert sum("exercise" in t for t in tags) >= 2, path.name
        kept = [c for c in original.cells if "solution" not in c.metadata.get("tags", [])]
        assert [c.source for c in copied.cells] == [c.source for c in kept]
    done = tapelab("notebooks", "--without-solutions", tmp_path / "cli")
    assert done.returncode == 0, done.stderr
    assert "Solution 1" not in (tmp_path / "cli" / "01_gradient_tape_basics.ipynb").read_text()
