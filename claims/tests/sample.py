"""Small notebooks for nbclaims' tests, written with nbformat."""

import nbformat


def stream(text, name="stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def result(text):
    return nbformat.v4.new_output("execute_result", data={"text/plain": text}, execution_count=1)


def write(path, *cells, metadata=None):
    """A notebook at ``path``: a markdown cell, then one code cell per (source, outputs)."""
    nb = nbformat.v4.new_notebook(metadata=metadata or {})
    nb.cells = [nbformat.v4.new_markdown_cell("A sample.")]
    for count, (source, outputs) in enumerate(cells, start=1):
        cell = nbformat.v4.new_code_cell(source, execution_count=count)
        cell.outputs = list(outputs)
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def one_holds_one_not(path):
    """The sample of the install tests: cell 2's claim holds, cell 3's does not."""
    return write(path, ("print(6 * 2.0)  # Output: 12.0", [stream("12.0\n")]),
                 ("print(1 / 3)  # Output: 0.3333", [stream("0.3333333333333333\n")]))
