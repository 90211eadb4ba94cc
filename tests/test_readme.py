"""README.md, the front door: short, its Python blocks run as pasted, its outputs are real.

The convention for outputs shown in the README's ```python blocks: a comment ``# -> TEXT``,
after a ``print(...)`` on the same line or on a line of its own below it, says that the
block prints the line ``TEXT``. Each block's expected lines must appear, in their order,
among the lines that block printed (exact after trailing spaces are stripped).
"""

import io
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
ANY_FENCE = re.compile(r"^```[ \t]*([^\s`]*)", re.MULTILINE)
SHOWN = re.compile(r"#\s*->\s?(.*)")
MARK = "=== README block {} ==="
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def python_blocks(text):
    """The README's ```python blocks, in order."""
    return [m.group(1) for m in FENCE.finditer(text)]


def shown_outputs(block):
    """The lines a block says it prints: each ``# -> TEXT`` comment, in order."""
    comments = [tok.string for tok in tokenize.generate_tokens(io.StringIO(block).readline)
                if tok.type == tokenize.COMMENT]
    return [m.group(1).rstrip() for c in comments if (m := SHOWN.match(c))]


def run_blocks(blocks, cwd, timeout=900):
    """Run ``blocks`` one after another in a fresh interpreter, as pasted into one session.

    Returns ``(returncode, outputs, stderr)``, ``outputs`` holding each block's stdout.
    Network look-ups go to a closed port, so a block that downloads anything fails.
    """
    script = "".join(f"print({MARK.format(i)!r}, flush=True)\n{block.rstrip()}\n"
                     for i, block in enumerate(blocks))
    path = Path(cwd) / "readme_blocks.py"
    path.write_text(script)
    closed = "http://127.0.0.1:9"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1",
           "HTTP_PROXY": closed, "HTTPS_PROXY": closed, "http_proxy": closed,
           "https_proxy": closed, "NO_PROXY": "", "no_proxy": ""}
    proc = subprocess.run([sys.executable, str(path)], check=False, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    outputs = [""] * len(blocks)
    current = None
    for line in proc.stdout.splitlines(keepends=True):
        marks = [i for i in range(len(blocks)) if line.rstrip("\n") == MARK.format(i)]
        if marks:
            current = marks[0]
        elif current is not None:
            outputs[current] += line
    return proc.returncode, outputs, proc.stderr


def paste_problems(block):
    """What goes wrong when ``block`` is pasted, line by line, at Python's ``>>>`` prompt.

    The prompt reads a compound statement until a blank line: a ``print`` straight
    after a ``with`` block, unindented, is a SyntaxError there (and the whole block
    is lost), though the same lines run as a script. Nothing is executed here.
    """
    import code

    problems = []

    class Prompt(code.InteractiveConsole):
        def runcode(self, compiled):
            pass  # only how the prompt reads the lines matters

        def showsyntaxerror(self, *args, **kwargs):
            problems.append(f"line {number}: {line!r} is a SyntaxError at the prompt")

    prompt = Prompt()
    for number, line in enumerate(block.splitlines(), 1):
        prompt.push(line)
    prompt.push("")
    return problems


def output_problems(blocks, outputs):
    """Each shown output that its block did not print, in order; empty when all hold."""
    problems = []
    for i, (block, out) in enumerate(zip(blocks, outputs), start=1):
        printed = [line.rstrip() for line in out.splitlines()]
        at = 0
        for want in shown_outputs(block):
            if want in printed[at:]:
                at = printed.index(want, at) + 1
            else:
                problems.append(f"block {i}: shows {want!r}, which it does not print "
                                f"(in this order); it printed:\n{out}")
    return problems


def _text():
    return README.read_text(encoding="utf-8")


# ---------------------------------------------------------------- the runner itself


def test_the_extractor_finds_every_python_block_and_its_shown_outputs():
    blocks = python_blocks(_text())
    assert len(blocks) >= 4, f"found only {len(blocks)} ```python blocks in README.md"
    assert sum(len(shown_outputs(b)) for b in blocks) >= 10
    assert all(shown_outputs(b) for b in blocks), "a block shows no output to check"
    sample = 'print(1)  # -> 1\ns = "# -> not a comment"\nprint(s)\n# -> two words  \n'
    assert shown_outputs(sample) == ["1", "two words"]
    assert python_blocks("x\n```python\na = 1\n```\n```sh\nls\n```\n```python\nb\n```\n") == [
        "a = 1\n", "b\n"]


def test_no_python_snippet_hides_under_another_fence_name():
    names = set(ANY_FENCE.findall(_text())) - {""}
    assert names <= {"python", "sh", "bibtex", "text"}, (
        f"README.md has fences {sorted(names)}: a Python snippet must be ```python, "
        "so that this test runs it")


def test_the_runner_fails_on_a_broken_snippet_and_a_wrong_output(tmp_path):
    good = ["import math\nprint(math.sqrt(16.0))  # -> 4.0", "print(math.pi > 3)\n# -> True"]
    code, outputs, _ = run_blocks(good, tmp_path)
    assert code == 0 and output_problems(good, outputs) == []
    assert outputs == ["4.0\n", "True\n"]

    broken = ["x = 1", "print(y)  # -> 1"]  # y is never defined
    code, _, stderr = run_blocks(broken, tmp_path)
    assert code != 0 and "NameError" in stderr

    wrong = ["print(6.0 * 2)  # -> 6.0"]
    code, outputs, _ = run_blocks(wrong, tmp_path)
    assert code == 0 and len(output_problems(wrong, outputs)) == 1
    swapped = ["print(1)\nprint(2)\n# -> 2\n# -> 1"]  # shown in the wrong order
    code, outputs, _ = run_blocks(swapped, tmp_path)
    assert len(output_problems(swapped, outputs)) == 1


def test_the_paste_check_sees_what_the_interactive_prompt_rejects():
    assert paste_problems("with open('f') as f:\n    y = 1\nprint(y)") != []
    assert paste_problems("with open('f') as f:\n    y = 1\n\nprint(y)") == []
    assert paste_problems("def f():\n    a = 1\n\n    return a") != []  # blank line inside


def test_every_python_block_can_be_pasted_at_the_interactive_prompt():
    for k, block in enumerate(python_blocks(_text()), 1):
        assert not paste_problems(block), f"README block {k}: {paste_problems(block)}"


# ---------------------------------------------------------------- the README


@pytest.mark.slow  # TensorFlow and a small Keras model in a subprocess
def test_every_python_block_runs_as_pasted_and_prints_what_it_shows(tmp_path):
    blocks = python_blocks(_text())
    code, outputs, stderr = run_blocks(blocks, tmp_path)
    assert code == 0, f"README.md's Python blocks fail in a fresh interpreter:\n{stderr[-3000:]}"
    problems = output_problems(blocks, outputs)
    assert not problems, "\n\n".join(problems)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["readme_blocks.py"], (
        "the README's blocks write files")


def test_the_readme_is_short():
    lines = _text().count("\n")
    assert lines <= 160, f"README.md has {lines} lines; maintainer material goes to CONTRIBUTING.md"


def test_its_first_lines_hold_the_two_commands():
    """.ci/run and the book's checks rely on them."""
    head = "\n".join(_text().splitlines()[:15])
    assert "```sh" in head
    for command in ("make run", "make test"):
        assert command in head, f"README.md's first 15 lines must show `{command}`"


def _slug(heading):
    """A heading's anchor as code hosts make it: lower case, punctuation dropped."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _outside_fences(text):
    return re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.DOTALL | re.MULTILINE)


def link_problems(text, root=ROOT):
    """Each relative link or anchor of a Markdown ``text`` that leads nowhere."""
    text = _outside_fences(text)
    anchors = {_slug(h) for h in re.findall(r"^#+ (.*)$", text, re.MULTILINE)}
    bad = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        if not path:
            if anchor not in anchors:
                bad.append(f"{target}: no such heading")
        elif path.startswith("build/"):
            bad.append(f"{target}: build/ is not in a clone or on a code host")
        elif not (root / path).exists():
            bad.append(f"{target}: no such file")
    return bad


@pytest.mark.skipif(not (ROOT / ".git").exists(),
                    reason="links are checked in a clone of the repository")
@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md"])
def test_every_relative_link_points_to_a_file_that_exists(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    assert len(LINK.findall(_outside_fences(text))) >= 10
    bad = link_problems(text)
    assert not bad, f"{name} links:\n" + "\n".join(bad)


def test_the_link_check_sees_a_dead_link_and_a_dead_anchor():
    text = ("# Top\n## The claim checker, nbclaims\n"
            "[a](#top) [b](#gone) [c](no/such/file.md) ![d](README.md) [e](build/site/x.html)\n"
            "[f](#the-claim-checker-nbclaims) [g](https://example.org/x)\n"
            "```sh\n# not a heading\n[h](gone.md)\n```\n[i](#not-a-heading)\n")
    assert link_problems(text) == [
        "#gone: no such heading", "no/such/file.md: no such file",
        "build/site/x.html: build/ is not in a clone or on a code host",
        "#not-a-heading: no such heading"]


def test_the_speed_commentary_is_a_fragment_without_figures():
    """docs/speed_commentary.md goes inside the book's Speed page, under its title; the
    figures come from benchmarks/results.json, so the prose holds none that could differ."""
    text = (ROOT / "docs" / "speed_commentary.md").read_text(encoding="utf-8")
    assert not re.search(r"^# ", text, re.MULTILINE), "no top-level heading: the Speed page has one"
    figures = re.findall(r"\d+(?:\.\d+)?\s*(?:ms|s\b|×|x\b|%|times)", text)
    assert not figures, f"measured figures belong in results.json, not in prose: {figures}"


def test_the_notebooks_are_linked_along_their_tracks():
    order = re.findall(r"\]\(notebooks/(\d\d)_[\w]+\.ipynb\)", _text())
    assert order == ["01", "02", "03", "04", "06", "07", "09", "05", "08"]
