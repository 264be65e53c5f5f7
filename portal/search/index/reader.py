"""Reading one version of the index: a pool of searchers and the document sets computed from its postings."""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whoosh import query as wq
from whoosh import scoring
from whoosh.reading import TermNotFound

from portal.search.index.protocol import SearchPage
from portal.search.index.schema import FACET_FIELDS

POOL_SIZE = 8
SET_CACHE_SIZE = 4096  # document sets of terms and phrases kept per index version
PAGE_CACHE_SIZE = 1024  # answered searches kept per index version (a new version starts empty)



# BM25F: B (length normalisation) lowered from Whoosh's 0.75 for long articles (measured 0.75/0.5/0.3 on
# the man-page suite, docs/search.md): the section weights, not the length, put a titled page first.
# K1 2.0 (from 1.2): a word's weight saturates later, so an article naming it often (in its title and summary,
# each counting as several) keeps more of its lead (man pages: top-1 +2, MRR +0.012, top-3 the same).
BM25_B = 0.3
BM25_K1 = 2.0
TITLE_B = 0.3
# Codes without length normalisation: the length of `codes` is how many codes an article names, and a reference
# page naming a hundred error codes explains each as well as a short page naming one (B 0.3 → 0: man pages
# top-3 +1, «EINTR» finds signal(7) again).
CODES_B = 0.0


def ranking_weighting():
    return scoring.BM25F(B=BM25_B, K1=BM25_K1, title_terms_B=TITLE_B, codes_B=CODES_B)

class VersionReader:
    """One version of the index as this process reads it: a pool of searchers, and caches of document sets.

    Document sets (the documents holding a term, a phrase, a reader's allowed visibilities) are plain
    Python sets: totals, facets and the visibility filter become set algebra in C instead of
    Whoosh's matchers walking every posting in Python. They belong to one index version and are
    dropped with it.
    """

    def __init__(self, gen: Path, ix, commit: str):
        self.gen = gen
        self.ix = ix
        self.toc = ix.latest_generation()
        self.commit = commit
        self.outdated = False  # of an older schema: it answers only until the rebuild running beside it is done
        self.answers = True  # False: of an older schema lacking fields searches read (the rebuild's progress answers)
        self.pool: queue.LifoQueue = queue.LifoQueue()
        self.retired = False
        self._facets: dict[str, dict[str, set[int]]] | None = None
        self._sets: OrderedDict[Any, set[int]] = OrderedDict()
        self._pages: OrderedDict[Any, SearchPage] = OrderedDict()
        self._live: set[int] | None = None
        self._lock = threading.Lock()

    def take(self):
        try:
            return self.pool.get_nowait()
        except queue.Empty:
            return self.ix.searcher(weighting=ranking_weighting())

    def give(self, searcher) -> None:
        if self.retired or self.pool.qsize() >= POOL_SIZE:
            searcher.close()
        else:
            self.pool.put(searcher)

    def retire(self) -> None:
        self.retired = True
        while True:
            try:
                self.pool.get_nowait().close()
            except queue.Empty:
                return

    # --- document sets ----------------------------------------------------------------------
    def _cached(self, key, compute: Callable[[], set[int]]) -> set[int]:
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
                return found
        value = compute()
        with self._lock:
            self._sets[key] = value
            while len(self._sets) > SET_CACHE_SIZE:
                self._sets.popitem(last=False)
        return value

    def page(self, key) -> SearchPage | None:
        with self._lock:
            found = self._pages.get(key)
            if found is not None:
                self._pages.move_to_end(key)
            return found

    def keep_page(self, key, page: SearchPage) -> None:
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > PAGE_CACHE_SIZE:
                self._pages.popitem(last=False)

    def live(self, searcher) -> set[int]:
        """Every document not deleted."""
        if self._live is None:
            self._live = set(searcher.reader().all_doc_ids())
        return self._live

    def _term(self, searcher, fieldname: str, text: str) -> set[int]:
        def compute() -> set[int]:
            reader = searcher.reader()
            try:
                ids = set(reader.postings(fieldname, text).all_ids())
            except TermNotFound:
                return set()
            return ids & self.live(searcher) if reader.has_deletions() else ids

        return self._cached(("term", fieldname, text), compute)

    def docs(self, searcher, q: wq.Query) -> set[int]:
        """The documents matching ``q`` (a tree of And, Or, AndMaybe, Term; anything else asked of Whoosh)."""
        if isinstance(q, wq.Term):
            return self._term(searcher, q.fieldname, q.text)
        if isinstance(q, wq.And):
            sets = sorted((self.docs(searcher, sub) for sub in q.subqueries), key=len)
            if not sets:
                return set()
            out = sets[0]
            for other in sets[1:]:
                out = out & other
                if not out:
                    break
            return out
        if isinstance(q, (wq.Or, wq.DisjunctionMax)):
            out = set()
            for sub in q.subqueries:
                out = out | self.docs(searcher, sub)
            return out
        if isinstance(q, wq.AndMaybe):
            return self.docs(searcher, q.a)
        if isinstance(q, wq.ConstantScoreQuery):
            return self.docs(searcher, q.child)
        if isinstance(q, wq.Every):
            return self.live(searcher)
        if isinstance(q, type(wq.NullQuery)):
            return set()
        return self._cached(("query", q), lambda: set(searcher.docs_for_query(q)))

    def facet_postings(self, searcher) -> dict[str, dict[str, set[int]]]:
        if self._facets is None:
            reader = searcher.reader()
            facets: dict[str, dict[str, set[int]]] = {}
            for fieldname in FACET_FIELDS:
                values = {}
                for btext in reader.lexicon(fieldname):
                    value = btext.decode("utf-8")
                    values[value] = set(reader.postings(fieldname, value).all_ids())
                facets[fieldname] = values
            self._facets = facets
        return self._facets
