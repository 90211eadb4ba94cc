"""The book's two reading tracks: each notebook page's previous and next follow its track.

The sidebar lists the notebooks once (the basics, then each track), so Sphinx's own
previous/next would send a reader of 04 on to 06 only, and 05 back to 09. Here a
notebook's neighbours are the ones of its track instead: 04 ends the basics and
leads to both tracks (06 for autodiff, 05 for fine-tuning), 05 comes after 04, and
the last notebook of a track has no "next".
"""

# the tracks, by notebook number; the basics (01-04) start both
BASICS = ("01", "02", "03", "04")
TRACKS = {
    "autodiff": BASICS + ("06", "07", "09"),
    "fine-tuning": ("04", "05", "08"),
}


def neighbours(number):
    """``(previous, [(next, track), ...])`` of a notebook, by number, along the tracks.

    >>> neighbours("04")
    ('03', [('06', 'autodiff'), ('05', 'fine-tuning')])
    >>> neighbours("05")
    ('04', [('08', 'fine-tuning')])
    >>> neighbours("09")
    ('07', [])
    """
    previous, nexts = None, []
    for track, numbers in TRACKS.items():
        if number not in numbers:
            continue
        i = numbers.index(number)
        if i > 0 and previous is None:
            previous = numbers[i - 1]
        if i + 1 < len(numbers):
            nexts.append((numbers[i + 1], track))
    return previous, nexts


def _notebook_docs(env):
    """``{"04": "notebooks/04_persistent_tapes", ...}``: the notebook pages by number."""
    return {doc.split("/")[1][:2]: doc for doc in env.found_docs
            if doc.startswith("notebooks/") and doc.split("/")[1][:2].isdigit()}


def _link(app, pagename, docname, subtitle=None):
    title = app.env.titles[docname].astext()
    return {"link": app.builder.get_relative_uri(pagename, docname), "title": title,
            "subtitle": subtitle}


def set_neighbours(app, pagename, templatename, context, doctree):
    """html-page-context: a notebook page's previous and next(s), along its track.

    The first notebook's previous is the home page. A page that is not a notebook
    (the reference pages) gets no notebook as a neighbour: the sidebar would make the
    last notebook of one track lead into them, and no track goes there.
    """
    docs = _notebook_docs(app.env)
    number = pagename.split("/")[-1][:2] if pagename.startswith("notebooks/") else None
    if number not in docs:
        if pagename != app.config.root_doc:
            for key in ("prev", "next"):
                if context.get(key) and "notebooks/" in context[key]["link"]:
                    context[key] = None
        return
    previous, nexts = neighbours(number)
    if previous in docs:
        context["prev"] = _link(app, pagename, docs[previous])
    elif previous is None:
        context["prev"] = _link(app, pagename, app.config.root_doc)  # the home page
    else:
        context["prev"] = None
    shown = [(n, track) for n, track in nexts if n in docs]
    several = len(shown) > 1
    links = [_link(app, pagename, docs[n], f"Next on the {track} track" if several else None)
             for n, track in shown]
    context["next"] = links[0] if links else None
    context["tapelab_nexts"] = links  # components/prev-next.html shows them all


def setup(app):
    app.connect("html-page-context", set_neighbours)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
