"""Sphinx configuration of the tapelab book (`make docs`; docs/build.py runs Sphinx).

docs/build.py lays the sources out in build/book-src/ (this folder's pages, the
notebooks as they are stored in notebooks/, and the pages it generates: the API
reference, the errata and the speed table) and builds them into build/site/.
"""

project = "tapelab"
author = "tapelab developers"
copyright = "tapelab developers"

extensions = [
    "myst_nb",  # MyST Markdown pages and the notebooks, with their stored outputs
    "sphinx.ext.autodoc",  # the API reference, from the docstrings
    "sphinx.ext.napoleon",  # Google-style Args / Returns sections
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from _static: the book works offline
]

# the notebooks are shown as stored: their outputs are the ones nbval checks in CI
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = []

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "sphinx_book_theme"
html_title = "tapelab"
html_favicon = "_static/favicon.svg"  # relative to this folder
html_static_path = ["_static"]
html_css_files = ["wrap.css"]  # long code lines wrap (docs/_static/wrap.css)
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "home_page_in_toc": True,
    "navbar_persistent": [],  # the search field sits in the sidebar, not in a top bar too
}
# the theme's colour mode until the reader picks one (without it, pydata-sphinx-theme
# logs a console error on every page)
html_context = {"default_mode": "light"}
html_last_updated_fmt = None
html_show_sourcelink = False

# A cross-reference that resolves to nothing is an error (-W): docstrings' :class: and
# :func: references, and the type hints autodoc turns into references. TensorFlow's,
# Keras's, NumPy's and the standard library's names have no pages here (the book is
# built offline, without intersphinx), so those are shown as code, unlinked.
nitpicky = True
nitpick_ignore_regex = [
    ("py:.*", r"(tensorflow|tf|keras|numpy|np|collections|typing|os|pathlib)(\..*)?"),
]


def _resolve_short_name(app, env, node, contnode):
    """Resolve a docstring's bare ``:class:`Finding``` to the one object of that name.

    A docstring names a class of its own module without the module; on the API page
    it is documented under its full name. Several objects of that name: no guess.
    """
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
    app.connect("missing-reference", _resolve_short_name)
