"""Reading a cell's comments (nbclaims.source): Python's tokenizer, IPython's syntax set aside."""

import pytest
from nbclaims.source import Unreadable, comments


@pytest.mark.parametrize(("source", "found"), [
    ("print(2)  # Output: 2", ["# Output: 2"]),
    ('s = "# Output: 1"\nprint(2)  # Output: 2', ["# Output: 2"]),
    ("%time f(5)\nprint(12.0)  # Output: 12.0", ["# Output: 12.0"]),
    ("files = !ls\nprint(len(files))  # Output: 3", ["# Output: 3"]),
    ("for i in x:\n    %time f(i)\nprint(1)  # Output: 1", ["# Output: 1"]),
    ("%%time\nprint(f(5))  # Output: 12.0", ["# Output: 12.0"]),
    ("%%capture out\nprint(1)  # not a claim", ["# not a claim"]),
])
def test_comments_of_python_and_ipython_cells(source, found):
    assert comments(source) == found


@pytest.mark.parametrize(("source", "reason"), [
    ("s = 'a # Output: 3", "SyntaxError: unexpected \"'\" at line 1"),  # on every Python
    ('print("oops  # Output: 3', ""),  # the reason's words differ between Pythons
    ("f?  # Output: doc", "unexpected '?'"),
    ("%%bash\necho it's  # Output: its", "a %%bash cell is not Python"),
    ("%%writefile f.py\nprint(1)  # Output: 1", "a %%writefile cell is not Python"),
    ("!ls  # Output: a.txt", "line 1 is a magic or shell command"),
    ("def f(:\n  pass  # Output: 1", ""),
    ("%%bash\necho hi", "a %%bash cell is not Python"),  # claims_in reports it only with a claim
])
def test_what_cannot_be_read_says_why(source, reason):
    with pytest.raises(Unreadable) as caught:
        comments(source)
    assert reason in str(caught.value), str(caught.value)
