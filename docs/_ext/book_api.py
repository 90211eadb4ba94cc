"""The book's API reference page: an entry for every name in ``tapelab.__all__``.

Written by docs/_ext/book_pages.py into the source folder at the start of each build;
autodoc reads each entry's docstring, and the ``>>>`` examples shown are the doctests
``make test`` runs.
"""

import importlib
import inspect
import re
import sys


def api_page():
    """One entry per name in ``tapelab.__all__``, grouped by the module that defines it."""
    import tapelab

    modules = {}
    for name in tapelab.__all__:
        modules.setdefault(tapelab._EXPORTS[name], []).append(name)
    order = list(dict.fromkeys(tapelab._EXPORTS.values()))  # as __init__.py lists them
    lines = [
        "# API reference",
        "",
        "Every public name of `tapelab` (`tapelab.__all__`), from its docstring. The `>>>`",
        "examples are real: `make test` runs each as a doctest. Import the package and use",
        "the names from it: `import tapelab; tapelab.value_and_gradient(...)`.",
        "",
    ]
    lines += api_sections(tapelab, modules, order)
    extra = returned_types(tapelab)
    if extra:
        lines += [
            "## Types the helpers return",
            "",
            "Not imported from `tapelab` itself: what the helpers above return.",
            "",
        ]
        for cls in extra:
            # the signature shows a dataclass's fields
            lines += ["```{eval-rst}", f".. autoclass:: {cls.__module__}.{cls.__qualname__}",
                      "```", ""]
    return "\n".join(lines)


def returned_types(tapelab):
    """tapelab's own classes that a public name returns or names in its docstring.

    Found from the return annotations and ``:class:`` references, then from those
    classes' docstrings in turn; the names in ``tapelab.__all__`` are left out.
    """
    found, queue = [], [getattr(tapelab, name) for name in tapelab.__all__]
    while queue:
        obj = queue.pop(0)
        if not (inspect.isroutine(obj) or inspect.isclass(obj)):
            continue
        namespace = getattr(obj, "__globals__", None) or vars(sys.modules[obj.__module__])
        names = re.findall(r":class:`~?\.?([\w.]+)`", obj.__doc__ or "")
        if inspect.isroutine(obj):
            names += re.findall(r"[A-Za-z_]\w*", str(obj.__annotations__.get("return", "")))
        for name in names:
            value = namespace.get(name.rsplit(".", 1)[-1])
            if (inspect.isclass(value) and value.__module__.startswith("tapelab.")
                    and value.__name__ not in tapelab.__all__ and value not in found):
                found.append(value)
                queue.append(value)
    return found


def api_sections(tapelab, modules, order):
    """The public names, a section per module."""
    lines = []
    for module in sorted(modules, key=order.index):
        doc = (importlib.import_module(module).__doc__ or "").strip().splitlines()
        lines += [f"## `{module}`", ""]
        if doc:
            lines += [doc[0], ""]
        for name in sorted(modules[module], key=lambda n: list(tapelab._EXPORTS).index(n)):
            value = getattr(tapelab, name)
            if inspect.isclass(value):
                directive = "autoexception" if issubclass(value, Warning) else "autoclass"
            elif inspect.isroutine(value):
                directive = "autofunction"
            else:
                directive = "autodata"  # a type alias such as LayerSelection
            # autodoc writes reStructuredText: MyST hands it to the rST parser
            lines += ["```{eval-rst}", f".. {directive}:: tapelab.{name}"]
            if directive == "autodata":  # its "#:" comment, where the module defines it
                lines += [""] + [f"   {line}" for line in attribute_doc(module, name)]
            lines += ["```", ""]
    return lines


def attribute_doc(module, name):
    """The ``#:`` comment above ``name = ...`` in ``module``, as lines."""
    from sphinx.pycode import ModuleAnalyzer

    return ModuleAnalyzer.for_module(module).find_attr_docs().get(("", name), [])
