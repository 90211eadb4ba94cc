"""Reading claims (nbclaims.claim): every unreadable file is a NotebookError, never a crash."""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbclaims import Claim, NotebookError, claims, read_notebook
from sample import one_holds_one_not, stream, write


def test_claims_in_cell_order_with_their_verdicts(tmp_path):
    found = claims(one_holds_one_not(tmp_path / "s.ipynb"))
    assert [(c.cell, c.text, c.holds) for c in found] == [(2, "12.0", True), (3, "0.3333", False)]
    assert found[1].report() == (f"{tmp_path / 's.ipynb'}: cell 3: claim not in the stored output\n"
                                 "  claim:  0.3333\n  actual: 0.3333333333333333")


def test_a_claim_in_a_string_is_not_a_claim_and_an_untokenizable_cell_says_so(tmp_path):
    path = write(tmp_path / "s.ipynb",
                 ('s = "# Output: 1"\nprint(2)  # Output: 2', [stream("2\n")]),
                 ('print("oops  # Output: 3', [stream("3\n")]))
    ok, bad = claims(path)
    assert ok.text == "2" and ok.holds
    assert bad.unreadable and not bad.holds and "unreadable cell" in bad.report()


def test_an_empty_claim_never_holds():
    claim = Claim("n.ipynb", 2, "", "anything")
    assert not claim.holds and "empty claim" in claim.report()


NB4 = '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, '


@pytest.mark.parametrize(("content", "reason"), [
    ("not json", "it is not JSON (Expecting value: line 1 column 1"),
    ('{"cells": [' + "[" * 100_000 + "]" * 100_000 + "]}", "nested too deeply"),
    ("[]", "its top level is a JSON list, not an object"),
    ('{"cells": []}', "it has no nbformat version (the top-level key 'nbformat')"),
    ('{"nbformat": 2, "worksheets": []}', "it is nbformat 2; nbformat 3 and 4 are read"),
    (NB4 + '"cells": 3}', "its 'cells' is a int, not a list"),
    (NB4 + '"cells": [3]}', "cell 1 is not a cell (an object with a 'cell_type')"),
    (NB4 + '"cells": [{"cell_type": "code", "source": "1", "outputs": null}]}',
     "cell 1's 'outputs' is a null, not a list"),
    (NB4 + '"cells": [{"cell_type": "code", "source": 5, "outputs": []}]}',
     "cell 1's source is a int, not text"),
    (b"\xff\xfe not utf-8", "cannot read it (UnicodeDecodeError"),
])
def test_a_file_that_is_no_notebook_is_a_notebook_error(tmp_path, content, reason):
    path = tmp_path / "x.ipynb"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(NotebookError, match=re.escape(reason)):
        read_notebook(path)


def test_a_missing_file_or_a_folder_is_a_notebook_error(tmp_path):
    with pytest.raises(NotebookError, match="cannot read it"):
        read_notebook(tmp_path / "missing.ipynb")
    with pytest.raises(NotebookError, match="cannot read it"):
        read_notebook(tmp_path)


CHILD = """
import os, sys
from nbclaims import claims, NotebookError
claims(sys.argv[1])  # a good notebook first: the imports are done as root
if os.getuid() == 0:
    os.setuid(65534)  # nobody, who may not read the file
try:
    claims(sys.argv[2])
except NotebookError as exc:
    print("NotebookError:", exc)
"""


def test_a_file_without_read_permission_is_a_notebook_error(tmp_path):
    """As root every file is readable, so the check runs in a child that drops to nobody."""
    folder = Path(tempfile.mkdtemp(dir="/tmp"))  # tmp_path's parents may be closed to nobody
    try:
        os.chmod(folder, 0o755)
        good = one_holds_one_not(folder / "good.ipynb")
        os.chmod(good, 0o644)
        locked = one_holds_one_not(folder / "locked.ipynb")
        os.chmod(locked, 0o000)
        done = subprocess.run([sys.executable, "-c", CHILD, str(good), str(locked)],
                              capture_output=True, text=True, timeout=60, check=False)
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "NotebookError: cannot read it (PermissionError: Permission denied)"


def test_an_nbformat_3_notebook_is_read(tmp_path):
    path = tmp_path / "v3.ipynb"
    path.write_text('{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": '
                    '[{"cell_type": "code", "input": "print(2)  # Output: 2", "outputs": '
                    '[{"output_type": "stream", "stream": "stdout", "text": "2\\n"}]}]}]}')
    (claim,) = claims(path)
    assert claim.text == "2" and claim.holds


def test_a_cell_without_an_id_reads_without_warnings(tmp_path, recwarn):
    path = tmp_path / "noid.ipynb"
    path.write_text(NB4 + '"cells": [{"cell_type": "code", "source": "1  # Output: 1", '
                    '"metadata": {}, "execution_count": 1, "outputs": [{"output_type": '
                    '"execute_result", "execution_count": 1, "metadata": {}, "data": '
                    '{"text/plain": "1"}}]}]}')
    (claim,) = claims(path)
    assert claim.holds and not recwarn.list


def test_null_text_fields_are_no_text(tmp_path):
    path = tmp_path / "null.ipynb"
    path.write_text(NB4 + '"cells": [{"cell_type": "code", "source": "x  # Output: None", '
                    '"metadata": {}, "outputs": [{"output_type": "stream", "name": "stdout", '
                    '"text": null}, {"output_type": "error", "traceback": []}]}]}')
    (claim,) = claims(path)
    assert not claim.holds and claim.actual == "\n"


def test_a_near_miss_marker_is_reported_not_skipped(tmp_path):
    path = write(tmp_path / "s.ipynb",
                 ("print(4)  # output: 4\nprint(5)  # Output : 5\n# Output shape is (2,)",
                  [stream("4\n5\n")]))
    found = claims(path)
    assert [c.malformed for c in found] == ["# output: 4", "# Output : 5"]
    assert not any(c.holds for c in found)
    assert "malformed claim: `# output: 4` looks like a claim" in found[0].report()


def test_a_cell_that_shows_only_an_image_says_so(tmp_path):
    image = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})
    path = write(tmp_path / "s.ipynb", ("plot()  # Output: 3", [image]))
    (claim,) = claims(path)
    assert "actual: (no text output; it shows image/png)" in claim.report()


def test_a_valid_notebook_round_trips(tmp_path):
    path = one_holds_one_not(tmp_path / "s.ipynb")
    assert json.loads(path.read_text())["nbformat"] == 4
    assert len(read_notebook(path).cells) == 3
