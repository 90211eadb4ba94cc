"""The stored notebooks follow the project's rules (nbval checks their outputs)."""

import re
import socket
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbclaims import prose_problems

from tapelab.claims import claims
from tapelab.tf_logs import TF_LOG_LINE

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_the_notebooks_exist_in_reading_order():
    names = [p.name[:3] for p in NOTEBOOKS]
    assert names[:7] == ["01_", "02_", "03_", "04_", "05_", "06_", "07_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_rules(path):
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
    # a markdown note before each code cell
    for i in code:
        assert i > 0 and cells[i - 1].cell_type == "markdown", f"code cell {i + 1} has no note"
    # outputs are stored, with no TF log lines and no timing metadata
    assert all(cells[i].get("execution_count") for i in code), "run `make notebooks`"
    for i in code:
        for out in cells[i].outputs:
            text = out.get("text", "") + str(out.get("evalue", ""))
            assert not TF_LOG_LINE.search(text), f"TF log line stored in cell {i + 1}"
            assert not re.search(r"0x[0-9a-f]{6,}", text), f"memory address in cell {i + 1}"
        assert "execution" not in cells[i].metadata
    # seeds are set, every # Output: claim holds, and the prose says what the outputs show
    assert "set_random_seed" in "".join(cells[i].source for i in code)
    assert all(c.holds for c in claims(path))
    problems = prose_problems(nb, path.name)
    assert not problems, "\n".join(p.report() for p in problems)


# --- outputs that hold on every machine -------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _machine_details():
    """(what, pattern) pairs for text that names the machine that ran a notebook."""
    home, root = Path.home(), Path(__file__).resolve().parent.parent
    places = {str(root), str(home), tempfile.gettempdir(), sys.prefix, sys.base_prefix}
    details = [(f"a path of this machine ({p})", re.compile(re.escape(p)))
               for p in sorted(places) if len(p) > 1]
    details += [
        ("a file path", re.compile(r"(?:^|[\s'\"(])(?:~|/(?:home|root|tmp|usr|opt|var|Users))/")),
        ("a file path", re.compile(r"site-packages|dist-packages|[A-Z]:\\\\")),
        ("a PID", re.compile(r"\bpid\b\s*[=:]?\s*\d+|ipykernel_\d+", re.IGNORECASE)),
        ("a timestamp", re.compile(r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\b\d\d:\d\d:\d\d\.\d+")),
        ("a CPU or device name", re.compile(
            r"Intel|AMD|Xeon|EPYC|Ryzen|NVIDIA|GeForce|Tesla|Apple M\d|/device:GPU|GPU:\d")),
        ("a memory address", re.compile(r"0x[0-9a-fA-F]{6,}")),
    ]
    host = socket.gethostname()
    if len(host) > 3:
        details.append((f"this machine's name ({host})", re.compile(re.escape(host))))
    return details


def _stored_texts(cell):
    """Every text a code cell stores: streams, text results, errors and their tracebacks."""
    for out in cell.get("outputs", []):
        yield out.get("text", "")
        for kind, value in out.get("data", {}).items():
            if kind.startswith("text/"):
                yield value
        yield str(out.get("evalue", ""))
        yield "\n".join(_ANSI.sub("", part) for part in out.get("traceback", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_name_nothing_of_the_machine_that_ran_them(path):
    details = _machine_details()
    found = []
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells, start=1):
        for text in _stored_texts(cell) if cell.cell_type == "code" else ():
            for what, pattern in details:
                match = pattern.search(text)
                if match:
                    start = max(0, match.start() - 40)
                    found.append(f"cell {i}: {what}: ...{text[start:match.end() + 40]!r}")
    assert not found, f"{path.name} stores machine details:\n" + "\n".join(found)


# a number in scientific notation below 1e-5, or a zero written as 0e+00: round-off digits
# (a printed bound, "below 1e-6", is what the rule asks for)
ROUND_OFF = re.compile(r"(?<!below )(?<![\w.])(?:\d(?:\.\d+)?e-(?:0[6-9]|[1-9]\d)|0(?:\.0+)?e[+-]00)\b")
# small numbers whose digits are far above their round-off, each with the reason
STABLE = {}  # (notebook, text) -> why those digits hold on every machine; none today


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_checked_outputs_print_bounds_not_round_off_digits(path):
    """nbval compares these outputs on other CPUs, thread counts and GPUs (see CONTRIBUTING.md,
    Outputs that hold on every machine)."""
    found = []
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells, start=1):
        if cell.cell_type != "code" or "nbval-ignore-output" in cell.metadata.get("tags", []):
            continue
        for text in _stored_texts(cell):
            found += [f"cell {i}: {m.group(0)!r}" for m in ROUND_OFF.finditer(text)
                      if (path.name, m.group(0)) not in STABLE]
    assert not found, (f"{path.name} prints round-off digits; print a bound "
                       f"(tapelab.notebooks.below): " + ", ".join(found))


def test_the_round_off_pattern_catches_what_it_must():
    assert ROUND_OFF.findall("2e-08 1.7e-10 0.0e+00 0e+00 5.4e-14") == [
        "2e-08", "1.7e-10", "0.0e+00", "0e+00", "5.4e-14"]
    assert ROUND_OFF.findall("1.6e+00 1.1e-02 1.9e-05 below 1e-6 3.33e-01 tf.float64") == []
    assert ROUND_OFF.findall("max |difference|: 4e-08, below 1e-12") == ["4e-08"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_ends_with_a_next_pointer_along_its_track(path):
    last = nbformat.read(path, as_version=4).cells[-1]
    assert last.cell_type == "markdown" and "**Next" in last.source, (
        f"{path.name} must end with a markdown cell pointing to the next notebook "
        "(CONTRIBUTING.md, Notebooks: the two tracks)")


def _split_streams(nb, rng):
    """``nb`` with every stored stream output cut at random points into 1 to 6 pieces, as a
    loaded kernel may send them (nbclaims' own tests interleave other streams, too)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            if len(text) < 2:
                outputs.append(out)
                continue
            cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(0, 5))))
            outputs += [nbformat.v4.new_output("stream", name=out["name"], text=text[a:b])
                        for a, b in zip([0, *cuts], [*cuts, len(text)])]
        cell["outputs"] = outputs
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_claims_hold_however_a_kernel_splits_the_streams(path, tmp_path):
    """Under load ipykernel flushed one print as two outputs (issue 23): every claim that
    holds on the stored outputs holds, with the same text, on outputs split anywhere."""
    import random

    stored = claims(path)
    assert stored and all(c.holds for c in stored), path.name
    for seed in range(5):
        rng = random.Random(f"{path.name}:{seed}")
        nb = _split_streams(nbformat.read(path, as_version=4), rng)
        split = tmp_path / f"split{seed}.ipynb"
        nbformat.write(nb, split)
        found = claims(split)
        assert [(c.cell, c.text, c.actual) for c in found] == \
            [(c.cell, c.text, c.actual) for c in stored], f"seed {seed}"
        assert all(c.holds for c in found)
        # more pieces than stored outputs: the split did cut the streams
        pieces = sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")
        assert pieces > sum(len(c.get("outputs", [])) for c in
                            nbformat.read(path, as_version=4).cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_has_checked_exercises_with_hidden_solutions(path):
    cells = nbformat.read(path, as_version=4).cells
    tags = [c.metadata.get("tags", []) for c in cells]
    exercises = [i for i, t in enumerate(tags) if "exercise" in t]
    assert len(exercises) >= 2, f"{path.name}: at least two exercises"
    for i in exercises:
        assert "tapelab.exercises" in "".join(c.source for c in cells) and "answer = None" in \
            cells[i].source, f"{path.name} cell {i + 1}: the learner's cell starts empty"
        assert "No answer yet" in "".join(o.get("data", {}).get("text/plain", "")
                                          for o in cells[i].outputs), path.name
        note, solution = cells[i + 1], cells[i + 2]
        assert "solution" in note.metadata.get("tags", []) and note.cell_type == "markdown"
        assert {"solution", "hide-cell"} <= set(solution.metadata.get("tags", []))
        assert solution.metadata.get("jupyter") == {"source_hidden": True,
                                                    "outputs_hidden": True}  # JupyterLab folds it
        assert "Right" not in note.source and "=" not in note.source  # the note tells nothing
        assert "assert verdict.ok" in solution.source  # the solution passes its checker
