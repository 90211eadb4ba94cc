"""The book's links that Sphinx alone cannot resolve.

- A notebook links the book's API reference or Speed page by the published book's
  address (``https://tapelab.readthedocs.io/en/latest/api.html#tapelab.vjp``), which
  works in Jupyter; in the book that link is a Sphinx cross-reference instead.

- A notebook links a repository file that is not a page of the book, as a relative
  path that works in Jupyter: ``[README](../README.md)``,
  ``[the example](../examples/multi_worker_fine_tune.py)``. In the book the notebook
  sits in docs/notebooks/, so that path names nothing; here it becomes a link to the
  file on the code host (pyproject.toml's ``Source`` URL). A path that names no file
  of the repository stays unresolved, and the build fails on it.
- A docstring names a class of its own module without the module
  (``:class:`Finding```); on the API page it is documented under its full name, so
  the one object of that name is the target. Several objects of that name: no guess.
"""

import re
from pathlib import Path, PurePosixPath

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform

ROOT = Path(__file__).resolve().parents[2]


def source_url():
    """pyproject.toml's ``[project.urls] Source``: where the repository's files are.

    Read with a pattern, not tomllib (Python 3.11+): the book builds on 3.10 too.
    """
    text = (ROOT / "pyproject.toml").read_text()
    urls = text[text.index("[project.urls]"):]
    return re.search(r'^Source\s*=\s*"([^"]+)"', urls, re.MULTILINE).group(1).rstrip("/")


def repository_file(docname, target):
    """The repository path a notebook's relative link names, or None.

    ``docname`` is the page (``notebooks/01_gradient_tape_basics``); the notebooks sit
    in the repository's notebooks/ folder, so a link is read relative to that folder.

    >>> repository_file("notebooks/05_fine_tuning_layer_subsets", "../README.md")
    'README.md'
    >>> repository_file("notebooks/05_fine_tuning_layer_subsets", "../no_such_file.md")
    """
    if not docname.startswith("notebooks/") or "://" in target:
        return None
    path = PurePosixPath(target.split("#")[0])
    parts = []
    for part in (PurePosixPath("notebooks") / path).parts:
        if part == "..":
            if not parts:
                return None  # outside the repository
            parts.pop()
        elif part != ".":
            parts.append(part)
    rel = "/".join(parts)
    return rel if rel and (ROOT / rel).is_file() else None


def documentation_url():
    """pyproject.toml's ``[project.urls] Documentation``, the published book."""
    text = (ROOT / "pyproject.toml").read_text()
    urls = text[text.index("[project.urls]"):]
    found = re.search(r'^Documentation\s*=\s*"([^"]+)"', urls, re.MULTILINE)
    return found.group(1).rstrip("/")


def book_target(uri, base):
    """What a link to the published book names: ``("py", "tapelab.vjp")`` for an API
    entry, ``("doc", "/speed")`` for a page, or None for any other address.

    >>> book_target("https://b.io/en/latest/api.html#tapelab.vjp", "https://b.io")
    ('py', 'tapelab.vjp')
    >>> book_target("https://b.io/en/latest/speed.html", "https://b.io")
    ('doc', '/speed')
    >>> book_target("https://elsewhere.org/speed.html", "https://b.io")
    """
    prefix = f"{base}/en/latest/"
    if not uri.startswith(prefix):
        return None
    page, _, anchor = uri[len(prefix):].partition("#")
    if page == "api.html" and anchor.startswith("tapelab."):
        return "py", anchor
    if page.endswith(".html") and not anchor:
        return "doc", "/" + page[: -len(".html")]
    return None


class BookLinks(SphinxTransform):
    """A notebook's link to the published book (it works in Jupyter) is, in the book, a
    Sphinx cross-reference: to the API entry or the page it names. The build checks
    it like any other (nitpicky, warnings are errors), and it never leaves the site.
    """

    default_priority = 500

    def apply(self, **kwargs):
        base = documentation_url()
        for node in list(self.document.findall(nodes.reference)):
            target = book_target(node.get("refuri", ""), base)
            if target is None:
                continue
            kind, name = target
            xref = addnodes.pending_xref(
                "", *node.children, refdomain="py" if kind == "py" else "std",
                reftype="obj" if kind == "py" else "doc", reftarget=name,
                refexplicit=True, refwarn=True, refdoc=self.env.docname)
            node.replace_self(xref)


class RepositoryFileLinks(SphinxPostTransform):
    """A notebook's link to a repository file: to that file on the code host.

    Runs before MyST's own resolver (priority 9), which would report the path as
    missing: a path that names no repository file is left to it, and fails the build.
    """

    default_priority = 8

    def run(self, **kwargs):
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst":
                continue
            target = node.get("reftarget", "")
            rel = repository_file(node.get("refdoc", self.env.docname), target)
            if rel is None:
                continue
            anchor = target.partition("#")[2]
            uri = f"{source_url()}/blob/main/{rel}" + (f"#{anchor}" if anchor else "")
            node.replace_self(nodes.reference("", "", *node.children, refuri=uri,
                                              internal=False))


def _resolve_short_name(app, env, node, contnode):
    """missing-reference: a docstring's bare class name, when one object has that name."""
    if node.get("refdomain") != "py" or "." in node["reftarget"].lstrip("~."):
        return None
    name = node["reftarget"].lstrip("~.")
    domain = env.get_domain("py")
    matches = [full for full in domain.objects if full.rsplit(".", 1)[-1] == name]
    if len(matches) != 1:
        return None
    from sphinx.util.nodes import make_refnode

    obj = domain.objects[matches[0]]
    return make_refnode(app.builder, node["refdoc"], obj.docname, obj.node_id, contnode,
                        matches[0])


def setup(app):
    app.add_transform(BookLinks)
    app.add_post_transform(RepositoryFileLinks)
    app.connect("missing-reference", _resolve_short_name)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
