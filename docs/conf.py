"""Sphinx configuration of the tapelab book: `sphinx-build docs build/site` builds it all.

`make docs` runs exactly that, with warnings as errors (`-W --keep-going`), nitpicky.
The book's own extensions live in docs/_ext/, one idea each:
  - book_pages: writes the generated pages (API reference, errata, speed) and copies the
    notebooks in, at the start of every build (``builder-inited``); book_api makes the
    API reference's text;
  - book_tracks: a notebook page's previous and next follow its reading track;
  - book_links: a notebook's link to the published book is a cross-reference here; its
    link to a repository file (README.md, examples/) goes to that file on the code
    host; a docstring's bare class name resolves;
  - book_search: the search finds decimal numbers ("12.0").
Offline throughout: no intersphinx, MathJax served from the site itself.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # this checkout's tapelab, for autodoc

project = "tapelab"
author = "tapelab developers"
copyright = "tapelab developers"

extensions = [
    "myst_nb",  # MyST Markdown pages and the notebooks, with their stored outputs
    "sphinx.ext.autodoc",  # the API reference, from the docstrings
    "sphinx.ext.napoleon",  # Google-style Args / Returns sections
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from _static: the book works offline
    "sphinx_copybutton",  # a copy button on code cells (not on their outputs)
    "book_pages",
    "book_tracks",
    "book_links",
    "book_search",
]

# the notebooks are shown as stored: their outputs are the ones nbval checks in CI
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# speed_commentary.md is part of the generated Speed page, not a page of its own
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_ext", "_templates",
                    "speed_commentary.md"]
templates_path = ["_templates"]
suppress_warnings = []

# the button copies a code cell's input only: not a stored output, not a ">>>" prompt
copybutton_selector = "div:not(.output) > div.highlight pre"
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "sphinx_book_theme"
html_title = "tapelab"
html_favicon = "_static/favicon.svg"  # relative to this folder
html_static_path = ["_static"]
html_css_files = ["code.css"]  # long code lines scroll (docs/_static/code.css)
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
