// The book's search finds whole numbers ("1797"), not only decimal ones ("12.0").
//
// Sphinx's searchtools.js (7.3 and later) drops a query word made only of digits before
// it looks it up (in Search._parseQuery). The index keeps such words
// (docs/_ext/book_search.py), so here they go back into the query.
// - A number of 3 or more digits is searched and highlighted. It goes last among the
//   search terms: the excerpt under each result centres on the last term it finds, and
//   such a number is what the reader came for.
// - A number of 1 or 2 digits ("epoch 5") is searched but not highlighted (a "5" would
//   light up inside every other number), and goes first, so the excerpt centres on the
//   reader's words.
// Loaded with `defer` on the search page only: it runs after searchtools.js has defined
// Search and before Search.init runs the query (at DOMContentLoaded). If searchtools.js
// is not there or its _parseQuery has changed shape, search works as Sphinx's own, with
// a warning in the console: never worse than without this script.
(() => {
  const warn = (why) =>
    console.warn(`search_whole_numbers.js: ${why}; whole numbers are not searched.`);
  if (typeof Search === "undefined" || typeof splitQuery === "undefined")
    return warn("Sphinx's searchtools.js is not loaded before it");
  if (typeof Search._parseQuery !== "function")
    return warn("this Sphinx has no Search._parseQuery (Sphinx 7.3 or later has)");
  const parseQuery = Search._parseQuery;
  Search._parseQuery = (query) => {
    const parsed = parseQuery(query);
    try {
      const [, searchTerms, , highlightTerms] = parsed;
      if (!(searchTerms instanceof Set && highlightTerms instanceof Set))
        throw new Error("its result is not [query, Set, Set, Set, ...]");
      const numbers = [...new Set(splitQuery(query.trim()))].filter((w) => /^\d+$/.test(w));
      const short = numbers.filter((w) => w.length < 3);
      const long = numbers.filter((w) => w.length >= 3);
      parsed[1] = new Set([...short, ...searchTerms, ...long]);
      long.forEach((word) => highlightTerms.add(word));
      if (long.length && typeof SPHINX_HIGHLIGHT_ENABLED !== "undefined" && SPHINX_HIGHLIGHT_ENABLED)
        // as _parseQuery does: the page opened from a result highlights these terms
        localStorage.setItem("sphinx_highlight_terms", [...highlightTerms].join(" "));
    } catch (error) {
      warn(`Search._parseQuery has changed (${error.message})`);
    }
    return parsed;
  };
})();
