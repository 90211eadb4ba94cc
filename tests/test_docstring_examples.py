"""The API page's ``>>>`` examples run as a reader copies them: in a fresh namespace.

``make test``'s doctests (``--doctest-modules``) run each example with its module's
globals, where every name of the module is defined; a reader who pastes the example
into a new Python session has none of them. Here each example of a name in
``tapelab.__all__`` (and of the types the API page documents beside them) runs with
``globs={}``, so it must import what it uses.
"""

import doctest
import importlib
import inspect
import sys
from pathlib import Path

import pytest

import tapelab

DOCS_EXT = Path(__file__).resolve().parents[1] / "docs" / "_ext"


def book_api():
    """docs/_ext/book_api.py, which writes the API page."""
    if str(DOCS_EXT) not in sys.path:
        sys.path.insert(0, str(DOCS_EXT))
    return importlib.import_module("book_api")


def optionflags(config):
    """The doctest option flags ``make test``'s doctests use (pytest's doctest_optionflags)."""
    flags = 0
    for name in config.getini("doctest_optionflags"):
        assert name in doctest.OPTIONFLAGS_BY_NAME, f"{name}: a pytest-only flag; teach this test"
        flags |= doctest.OPTIONFLAGS_BY_NAME[name]
    return flags


def shown_docstring_tests(name, obj):
    """The doctests of what the API page shows for ``obj``: its own docstring, not its
    members' (autoclass lists no members), each with an empty namespace."""
    finder = doctest.DocTestFinder(recurse=False)
    if inspect.isclass(obj) or inspect.isroutine(obj):
        return finder.find(obj, name, module=False, globs={})
    # a type alias (LayerSelection): the page shows the "#:" comment above it
    pytest.importorskip("sphinx")  # the `docs` extra
    text = "\n".join(book_api().attribute_doc(tapelab._EXPORTS[name], name))
    return [doctest.DocTestParser().get_doctest(text, {}, name, None, 0)]


def run_fresh(name, obj, flags):
    """Run the examples; return (number attempted, the failure reports)."""
    reports = []
    runner = doctest.DocTestRunner(optionflags=flags, verbose=False)
    for test in shown_docstring_tests(name, obj):
        runner.run(test, out=reports.append, clear_globs=True)
    return runner.tries, "".join(reports)


@pytest.mark.parametrize("name", tapelab.__all__)
def test_the_example_of_each_public_name_runs_in_a_fresh_namespace(name, pytestconfig):
    _, report = run_fresh(name, getattr(tapelab, name), optionflags(pytestconfig))
    assert not report, f"tapelab.{name}'s example, run as pasted:\n{report}"


def test_the_examples_of_the_returned_types_run_in_a_fresh_namespace(pytestconfig):
    flags = optionflags(pytestconfig)
    types = book_api().returned_types(tapelab)
    assert types, "the API page documents the types the helpers return"
    failed = {}
    for cls in types:
        _, report = run_fresh(cls.__qualname__, cls, flags)
        if report:
            failed[f"{cls.__module__}.{cls.__qualname__}"] = report
    assert not failed, "\n".join(f"{name}:\n{report}" for name, report in failed.items())


def _square(x):
    """The square of ``x``; its example uses a bare name, as a reader cannot.

    >>> _square(3)
    9
    """
    return x * x


def test_a_bare_name_example_fails_in_a_fresh_namespace(pytestconfig):
    flags = optionflags(pytestconfig)
    attempted, report = run_fresh("_square", _square, flags)
    assert attempted == 1
    assert "NameError: name '_square' is not defined" in report
    # with the module's globals, as --doctest-modules runs it, the same example passes
    (test,) = doctest.DocTestFinder(recurse=False).find(_square, "_square", globs=globals())
    runner = doctest.DocTestRunner(optionflags=flags)
    assert runner.run(test, out=lambda _: None).failed == 0
