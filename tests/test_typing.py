"""Type checkers see the public API's signatures through tapelab's lazy loading."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import tapelab

ROOT = Path(__file__).parent.parent

USES = '''\
import tapelab

value, grad = tapelab.value_and_gradient(lambda x: x * x, 3.0)
picture = tapelab.draw(lambda x: x * x, 3.0)
picture.save("x.svg")
tapelab.fine_tune(1, 2, 3)  # line 6: loss_fn and optimizer are missing
tapelab.draw(lambda x: x, 3.0).no_such_method()  # line 7: Drawing has no such method
tapelab.value_and_gradiant(lambda x: x, 3.0)  # line 8: a misspelt name
'''


def mypy(path, *args, cwd=ROOT):
    """mypy on one file; tapelab's own modules are read but only ``path`` is reported."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--ignore-missing-imports",
         "--follow-imports=silent", "--no-error-summary", *args, str(path)],
        cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def errors(done):
    return sorted(line.split(": error: ")[0].rsplit(":", 1)[-1]
                  for line in done.stdout.splitlines() if ": error: " in line)


@pytest.mark.slow  # mypy reads the package (a few seconds)
def test_mypy_flags_wrong_calls_and_passes_right_ones(tmp_path):
    (tmp_path / "uses.py").write_text(USES)
    done = mypy(tmp_path / "uses.py")
    assert errors(done) == ["6", "7", "8"], done.stdout + done.stderr
    assert 'Missing positional arguments "loss_fn", "optimizer" in call to "fine_tune"' \
        in done.stdout


def test_every_public_name_is_imported_for_type_checkers():
    source = (ROOT / "tapelab" / "__init__.py").read_text()
    block = source.split("if TYPE_CHECKING:", 1)[1].split("\n\n", 1)[0]
    seen = {}
    for line in block.splitlines():
        if line.strip().startswith("from "):
            module, name = line.split()[1], line.split()[3]
            seen[name] = module
    assert sorted(seen) == sorted(tapelab.__all__)
    for name, module in seen.items():  # the checker's object is the one tapelab.<name> gives
        assert getattr(importlib.import_module(module), name) is getattr(tapelab, name), name


def test_the_package_is_marked_typed():
    assert (ROOT / "tapelab" / "py.typed").is_file()
