"""tapelab.notebooks: outputs stored so that they hold on every machine."""

import nbformat

from tapelab.notebooks import below, clean_outputs

RED, RESET = "\x1b[31m", "\x1b[0m"


def error_cell(traceback):
    cell = nbformat.v4.new_code_cell("tape.watch(k)")
    cell.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="Passed in object",
                                           traceback=traceback)]
    return cell


def test_stored_tracebacks_keep_the_cell_frames_and_drop_library_paths():
    nb = nbformat.v4.new_notebook()
    nb.cells = [error_cell([
        "-" * 75,
        f"{RED}ValueError{RESET}                                Traceback (most recent call last)",
        f"Cell {RED}In[7], line 3{RESET}\n----> 3     tape.watch(k)\n",
        (f"{RED}File {RESET}{RED}/home/someone/.venv/lib/python3.11/site-packages/tensorflow/"
         f"backprop.py:873{RESET}, in GradientTape.watch(self, tensor)\n"),
        "  File ~/.pyenv/versions/3.11.7/lib/python3.11/urllib/request.py:1348, in do_open\n",
        f"{RED}ValueError{RESET}: Passed in object",
    ])]
    clean_outputs(nb)
    kept = nb.cells[0].outputs[0].traceback
    assert len(kept) == 4
    assert "In[7], line 3" in kept[2] and kept[-1].endswith("Passed in object")
    assert not any("site-packages" in part or "~/" in part for part in kept)


def test_below_prints_the_bound_or_the_value_that_missed_it():
    assert below(1.7e-10, 1e-6) == "below 1e-6"
    assert below(0.0, 1e-12) == "below 1e-12"
    assert below(4.9e-5, 1e-4) == "below 1e-4"
    assert below(4.9e-5, 1e-5) == "4.9e-05 (not below 1e-5)"
    assert below(float("nan"), 1e-6) == "nan (not below 1e-6)"
    assert below(2.5e-7, 5e-7) == "below 5e-7"
