"""The prose rule (nbclaims.prose): each kind of figure and verdict fails when no output bears
it out, passes when one does, and what is outside the rule stays outside it."""

import subprocess
import sys

import nbformat
import pytest
from nbclaims.prose import figures, prose_problems
from sample import stream


def notebook(*cells):
    """A notebook from ("md", text) and ("code", printed text, tags) cells."""
    nb = nbformat.v4.new_notebook()
    for kind, text, *tags in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cell = nbformat.v4.new_code_cell("print(...)", execution_count=1)
            cell.outputs = [stream(text)]
            if tags:
                cell.metadata["tags"] = list(tags)
            nb.cells.append(cell)
    return nb


def unsupported(markdown, printed="nothing here\n", *tags):
    return [p.figure for p in prose_problems(notebook(("md", markdown), ("code", printed, *tags)))]


@pytest.mark.parametrize("markdown, figure", [
    ("The slope is 6.5 here.", "6.5"),  # a number with a decimal point
    ("It reaches 97.8% on the test set.", "97.8%"),  # a percentage
    ("Compiled, it runs 3× faster.", "3×"),  # a ratio
    ("Compiled, it runs 2.4x faster.", "2.4x"),
    ("A rate 100 times lower.", "100 times"),
    ("One step takes 12 ms.", "12 ms"),  # a time with its unit
    ("Each tensor holds 38 MiB.", "38 MiB"),  # a memory size with its unit
    ("The loss fell to -0.25.", "-0.25"),
])
def test_each_kind_of_figure_fails_when_no_output_shows_it(markdown, figure):
    assert unsupported(markdown) == [figure]


@pytest.mark.parametrize("markdown, printed", [
    ("The slope is 12.0.", "tf.Tensor(12.0, shape=(), dtype=float32)\n"),
    ("Compiled, it runs 8.1× faster.", "speed-up: 8.1x\n"),  # the number alone is enough
    ("It reaches 97.8% on the test set.", "accuracy 97.8%\n"),
    ("Pre-training cost 2.3 points.", "diff +2.3 points\n"),  # a signed gain shows its size
])
def test_a_figure_an_output_shows_holds(markdown, printed):
    assert unsupported(markdown, printed) == []


def test_figures_match_on_token_boundaries():
    assert unsupported("The slope is 2.0.", "12.0\n") == ["2.0"]  # not inside 12.0


def test_a_figure_in_a_timing_cell_is_from_this_machine_only():
    assert unsupported("It took 5.23 ms.", "eager 5.23 ms\n", "nbval-ignore-output") == ["5.23 ms"]


@pytest.mark.parametrize("markdown", [
    "The paper reports 10,000 times fewer parameters ([Hu et al.](https://arxiv.org/abs/2106.09685)).",
    "The seed claims 6.0 (source: the seed's code comment).",
])
def test_a_sentence_that_names_its_source_needs_no_output(markdown):
    assert unsupported(markdown) == []


def test_a_figure_sourced_once_is_known_in_the_whole_notebook():
    nb = notebook(("md", "The seed says 6.0 (source: its comment)."), ("code", "12.0\n"),
                  ("md", "The seed's 6.0 appears nowhere."))
    assert prose_problems(nb) == []


@pytest.mark.parametrize("markdown", [
    "Runs on TensorFlow 2.16 and Python 3.11, as notebook 05 shows in section 3.",  # versions
    "We train 15 heads for 200 steps on 183 images (issue #23).",  # counts, references
    "The code `x = 2.5` and the math $f'(5) = 12.0$ are not prose.",
    "The weights file ([docs](https://example.org/v1.5/page)) is linked.",  # a link target
])
def test_versions_counts_references_code_and_math_are_outside_the_rule(markdown):
    assert figures(markdown) == []


def verdicts(markdown, printed):
    nb = notebook(("md", markdown), ("code", printed))
    return [(p.kind, p.figure) for p in prose_problems(nb)]


def test_the_same_beside_a_bound_must_say_how_the_same():
    bound = "largest |eager - compiled|: below 1e-6\n"
    assert verdicts("Compiled, it gives the same numbers as the eager step.", bound) == [
        ("verdict", "the same numbers")]
    assert verdicts("The gradients are identical.", bound) == [("verdict", "gradients are identical")]
    assert verdicts("It gives the same numbers, up to round-off (below 1e-6).", bound) == []
    assert verdicts("It gives exactly the same values, below 1e-6.", bound) == [
        ("verdict", "the same values")]
    # no bound beside it, or the same words about something else: nothing to say
    assert verdicts("It gives the same numbers.", "12.0\n") == []
    assert verdicts("The same fix in plain Keras.", bound) == []


def test_a_report_names_the_cell_the_figure_and_the_fix():
    nb = notebook(("md", "It took 1.5 s."), ("code", "done\n"))
    (problem,) = prose_problems(nb, "n.ipynb")
    assert problem.report() == (
        "n.ipynb: cell 1: the figure '1.5 s' appears in no output of this notebook.\n"
        "  sentence: It took 1.5 s.\n"
        "  Print it in a cell, name its source in the sentence (a link, or '(source: ...)'), "
        "or remove it.")


def test_the_command_and_the_plugin_fail_on_prose_problems(tmp_path):
    nb = notebook(("md", "A note."), ("code", "12.0\n"), ("md", "It took 1.5 s."))
    nbformat.write(nb, tmp_path / "n.ipynb")
    done = subprocess.run([sys.executable, "-m", "nbclaims", "--prose", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stdout.endswith("0 of 0 claims hold in 1 notebook(s); 1 prose problem(s)\n")
    plain = subprocess.run([sys.executable, "-m", "nbclaims", str(tmp_path)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert plain.returncode == 0  # without --prose, prose is not checked
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir",
                          str(tmp_path), "--check-prose", "n.ipynb"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 1 and "1 failed" in run.stdout
    assert "the figure '1.5 s' appears in no output" in run.stdout


def test_a_whole_number_needs_its_unit_in_the_output():
    assert unsupported("Each block is 4 KB.", "shape (4, 4)\n") == ["4 KB"]
    assert unsupported("Each block is 4 KB.", "block: 4 KB\n") == []
    assert unsupported("It ran 3× faster.", "speed-up 3x\n") == []


def test_a_dimension_is_no_ratio():
    assert figures("A 40 × 40 matrix, a 512x256 batch, 3x faster.") == [
        ("3x", "3", "A 40 × 40 matrix, a 512x256 batch, 3x faster.", False)]
