// The book's search finds whole numbers ("108"), not only decimal ones ("12.0").
//
// Sphinx's searchtools.js drops a query word made only of digits before it looks it
// up (its _parseQuery). The index keeps such words (docs/_ext/book_search.py), so here
// they go back into the query: each whole number is searched and highlighted as typed.
// Loaded with `defer` on the search page only: it runs after searchtools.js has defined
// Search and before Search.init runs the query (at DOMContentLoaded).
(() => {
  if (typeof Search === "undefined" || typeof splitQuery === "undefined") return;
  const parseQuery = Search._parseQuery;
  Search._parseQuery = (query) => {
    const parsed = parseQuery(query);
    const [, searchTerms, , highlightTerms] = parsed;
    splitQuery(query.trim())
      .filter((word) => /^\d+$/.test(word))
      .forEach((word) => {
        searchTerms.add(word);
        highlightTerms.add(word);
      });
    return parsed;
  };
})();
