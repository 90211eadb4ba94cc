"""The book's search finds numbers: "12.0" finds notebook 01, "1797" finds notebook 08.

Sphinx's English search splits "12.0" into "12" and "0" and indexes neither (it drops
words made only of digits, in the index and in the query). The notebooks' point is
often a number (the seed says 6.0, TensorFlow says 12.0), so here:

- a decimal number is one word, in the index (:meth:`SearchNumbers.split`) and in the
  reader's query (the ``splitQuery`` of ``js_splitter_code``, which Sphinx's
  searchtools.js uses in place of its own);
- a whole number is indexed (:meth:`SearchNumbers.word_filter`), and
  ``_static/search_whole_numbers.js``, on the search page, puts it back into the query
  after searchtools.js has dropped it.

Everything else is Sphinx's English search, stemming included.
"""

import re

from sphinx.search.en import SearchEnglish

# a decimal number ("12.0", "-0.5" is "0.5"), or a word as Sphinx's default splits it
_WORD = re.compile(r"\d+(?:\.\d+)+|\w+")


class SearchNumbers(SearchEnglish):
    """English search that keeps decimal numbers whole.

    >>> SearchNumbers({}).split("the seed says 6.0; TensorFlow says 12.0, not 1e-6")
    ['the', 'seed', 'says', '6.0', 'TensorFlow', 'says', '12.0', 'not', '1e', '6']
    """

    js_splitter_code = r"""
function splitQuery(query) {
  return query.match(/\p{Number}+(?:\.\p{Number}+)+|[\p{Letter}\p{Number}_\p{Emoji_Presentation}]+/gu) || [];
}
"""

    def split(self, input):
        return _WORD.findall(input)

    def word_filter(self, word):
        # Sphinx leaves out words made only of digits; a number is worth finding
        return word not in self.stopwords

    def stem(self, word):
        # a number is its own stem (the snowball stemmer would leave it alone; say so)
        return word if word[0].isdigit() else super().stem(word)


def _search_page_script(app, pagename, templatename, context, doctree):
    if pagename == "search":
        app.add_js_file("search_whole_numbers.js", loading_method="defer")


def setup(app):
    app.add_search_language(SearchNumbers)
    app.connect("html-page-context", _search_page_script)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
