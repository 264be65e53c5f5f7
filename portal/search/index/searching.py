"""Searching one version of the index: full-text pages, completions and similar articles.

``Searching`` is the half of the Whoosh backend that reads; the backend supplies ``searcher()`` (a
searcher and the version reader it came from, kept current with git) and the synonyms of a commit.
"""

from __future__ import annotations

import abc
import contextlib
import logging
from collections import Counter
from typing import Any

from whoosh import query as wq

from portal.search import query as sq
from portal.search.index import ranking
from portal.search.index.protocol import Hit, SearchPage, SearchRequest
from portal.search.index.reader import VersionReader
from portal.search.index.schema import AUDIENCE_SPELL_FIELD


log = logging.getLogger("portal.search")


def _spell_fields(audiences: tuple[str, ...]) -> list[str]:
    return [AUDIENCE_SPELL_FIELD[a] for a in audiences]


class Searching(abc.ABC):
    """The reading half of a backend; the backend says where a searcher and a commit's synonyms come from."""

    mode: str
    cache_pages: bool
    rebuilding: tuple[int, int] | None  # (article files read, of) while this process rebuilds the index

    @abc.abstractmethod
    def searcher(self) -> contextlib.AbstractContextManager[tuple[Any, VersionReader]]:
        """A searcher and the version reader it came from, kept current with git."""

    @abc.abstractmethod
    def synonyms(self, commit: str) -> sq.Synonyms:
        """The synonym groups of ``commit``'s kb/synonyms.txt."""

    # --- searching ------------------------------------------------------------------------------
    #
    # Visibility and the filters are a set of allowed documents, computed from the index's own
    # visibility/module/kind/version/tag postings for this reader, and applied inside the search:
    # matches outside it are never scored, counted, faceted, highlighted, suggested or offered as a
    # correction. It is not a post-filter of a result page.

    def _allowed(self, searcher, reader: VersionReader, audiences: tuple[str, ...], filters: dict[str, str | None]):
        return reader.docs(searcher, sq.restriction(audiences, filters))

    def search(self, request: SearchRequest) -> SearchPage:
        """One page of results; a repeated search of the same index version is answered from memory."""
        with self.searcher() as (searcher, reader):
            # The commit is part of the key: the synonyms file may change without any article changing.
            key = (reader.commit, request.text, request.audiences, tuple(request.filters().items()), request.sort,
                   request.limit, request.offset)
            page = reader.page(key) if self.cache_pages else None
            if page is None:
                if not reader.answers:
                    return self.being_rebuilt()
                try:
                    page = self._search(searcher, reader, request)
                except Exception:
                    if not reader.outdated:
                        raise
                    log.warning("search index %s of an older schema failed a search", reader.gen, exc_info=True)
                    return self.being_rebuilt()
                if self.cache_pages:
                    reader.keep_page(key, page)
            return page

    def being_rebuilt(self) -> SearchPage:
        """The answer while the index is rebuilt for a new schema and the old one cannot answer: nothing found yet,
        and how far the rebuild is."""
        return SearchPage(total=0, hits=[], facets={}, matched="none", rebuilding=self.rebuilding or (0, 0))

    def _search(self, searcher, reader: VersionReader, request: SearchRequest) -> SearchPage:
        parsed = sq.parse(request.text)
        browsing = parsed.empty and any(request.filters().values())
        if parsed.empty and not browsing:
            return SearchPage(total=0, hits=[], facets={}, matched="none")
        allowed = self._allowed(searcher, reader, request.audiences, request.filters())
        synonyms = self.synonyms(reader.commit)
        if browsing:
            return self._run(searcher, reader, wq.Every(), allowed, request, parsed, synonyms, sort="date")
        lexicon = ranking.SearcherLexicon(searcher, reader)
        fields = _spell_fields(request.audiences)
        return ranking.answer(
            parsed,
            lambda p, require_all: self._attempt(searcher, reader, p, allowed, request, synonyms,
                                                 require_all=require_all),
            lambda: self._run(searcher, reader, wq.Or(sq.nodes(parsed, self.mode, synonyms, fuzzy=True)), allowed,
                              request, parsed, synonyms),
            lambda known: ranking.correction(lexicon, parsed, fields, allowed, synonyms, self.mode, known_total=known))

    def _attempt(self, searcher, reader: VersionReader, parsed: sq.Parsed, allowed: set[int], request: SearchRequest,
                 synonyms: sq.Synonyms, *, require_all: bool) -> SearchPage:
        """Candidates hold at least ranking.minimum_should_match of the query's concepts (any one of them
        when not ``require_all``); every concept adds to the score and coordination ranks fuller matches
        higher. ``matched`` is "all" when some candidate holds every concept."""
        parts = sq.nodes(parsed, self.mode, synonyms)
        n = len(parts)
        if n < 2:
            q = sq.combine(parts, parsed, self.mode, require_all=True)
            page = self._run(searcher, reader, q, allowed, request, parsed, synonyms)
            page.matched = "all"
            return page
        counts: Counter[int] = Counter()
        for part in parts:
            counts.update(reader.docs(searcher, part) & allowed)
        exact = any(u.kind != "word" for u in parsed.units)
        need = ranking.minimum_should_match(n, exact=exact) if require_all else 1
        matched = {doc for doc, k in counts.items() if k >= need}
        page = self._run(searcher, reader, wq.Or(parts), allowed, request, parsed, synonyms, matched=matched,
                         factor=ranking.coordination(counts, n), tiers=wq.And(parts))
        page.matched = "all" if any(counts[doc] == n for doc in matched) else "any"
        return page

    def _run(self, searcher, reader: VersionReader, q: wq.Query, allowed: set[int], request: SearchRequest,
             parsed: sq.Parsed, synonyms: sq.Synonyms, sort: str | None = None, *, matched: set[int] | None = None,
             factor: dict[int, float] | None = None, tiers: wq.Query | None = None) -> SearchPage:
        matched = reader.docs(searcher, q) & allowed if matched is None else matched
        page = SearchPage(total=len(matched), hits=[], facets=ranking.facets(searcher, reader, matched))
        want = request.offset + request.limit
        if not matched or request.offset >= len(matched):
            return page
        if (sort or request.sort) == "date":
            top = searcher.search(q, limit=want, sortedby="updated", reverse=True, filter=matched).top_n
        else:
            pool = ranking.candidates(ranking.SearcherLexicon(searcher, reader), tiers or q, matched, want)
            top = reader.score(searcher, q, pool, want, factor)
        words, codes = sq.match_forms(parsed, self.mode, synonyms)
        for score, docnum in top[request.offset:want]:
            stored = searcher.stored_fields(docnum)
            meta = stored["meta"]
            text = sq.snippet([stored.get("body", ""), meta.get("summary", "")], words, codes, self.mode)
            page.hits.append(ranking.hit(meta, score=round(float(score or 0.0), 4), snippet=str(text)))
        return page

    # --- suggestions and similar articles -------------------------------------------------------
    def suggest(self, text: str, audiences: tuple[str, ...], limit: int) -> list[Hit]:
        """Articles whose title starts like what is being typed (the last word may be unfinished)."""
        cleaned = sq.clean(text or "")
        if sq.parse(cleaned).empty:
            return []
        with self.searcher() as (searcher, reader):
            if not reader.answers:
                return []
            allowed = self._allowed(searcher, reader, audiences, {})

            def found(q: wq.Query) -> list[Hit]:
                matched = reader.docs(searcher, q) & allowed
                if not matched:
                    return []
                results = searcher.search(q, limit=limit, filter=matched)
                return [ranking.hit(searcher.stored_fields(d)["meta"], score=round(float(sc or 0.0), 4), snippet="")
                        for sc, d in results.top_n]

            return ranking.completions(ranking.completion_parts(cleaned, self.mode, self.synonyms(reader.commit)),
                                       found)

    def similar(self, slug: str, audiences: tuple[str, ...], limit: int) -> list[Hit]:
        """Articles sharing the most telling words of this one; nothing when the reader may not see it."""
        with self.searcher() as (searcher, reader):
            if not reader.answers:
                return []
            allowed = self._allowed(searcher, reader, audiences, {})
            own = sorted(reader.docs(searcher, wq.Term("slug", slug)) & allowed)
            if not own:
                return []
            docnum = own[0]
            stored = searcher.stored_fields(docnum)
            meta = stored["meta"]
            text = f"{meta['title']}\n{meta['title']}\n{meta.get('summary', '')}\n{stored.get('body', '')}"
            terms = searcher.key_terms_from_text("text", text, numterms=15)
            if not terms:
                return []
            likeness = wq.Or([wq.Term("text", word, boost=weight) for word, weight in terms]
                             + [wq.Term("tag", t) for t in meta.get("tags", [])])
            candidates = (reader.docs(searcher, likeness) & allowed) - {docnum}
            if not candidates:
                return []
            results = searcher.search(likeness, limit=limit, filter=candidates)
            return [ranking.hit(searcher.stored_fields(d)["meta"], score=round(float(sc or 0.0), 4), snippet="")
                    for sc, d in results.top_n]
