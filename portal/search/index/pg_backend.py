"""The PostgreSQL implementation of the search backend (``PORTAL_SEARCH_BACKEND=postgresql``).

The index lives in the database every node shares (``portal.search.models``): one row per published
article and generation, its analysed terms as tsvectors with GIN indexes, its weighted term frequencies,
and per generation the document counts of every term (idf) and the spelling dictionary of each
visibility. It is still a cache of git: ``rebuild`` writes a new generation while the live one answers,
then swaps the ``live`` mark in one transaction; ``catch_up`` re-indexes the articles a diff names inside
the live generation, in one transaction, and bumps its ``stamp``. Writers of all nodes take turns through
PostgreSQL advisory locks (``locks.advisory``).

Searching follows the Whoosh backend step by step (``searching.Searching``): the same parsed query and
synonyms (``query.nodes``), the same candidates (minimum-should-match of the concepts), the same BM25F
with the section weights in the term frequencies (``reader.BM25_B``/``BM25_K1``), the same tiers by the
title above ``ranking.SCORE_LIMIT`` matches, the same spelling correction, completions, snippets and
hits; the steps that do not depend on where the index lives are ``ranking``'s own, reading this
backend's ``PgReader`` as their ``ranking.Lexicon``. The documents holding a term come from the GIN
indexes (the terms of a query not kept yet in one statement, then kept per index version in each process),
a phrase's from the pairs of neighbouring terms (``pairs_vec``) rather than from each row's positions;
visibility and the filters are sets of documents applied inside the search, so a hidden article never
contributes to hits, counts, facets, suggestions or corrections.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from whoosh import query as wq
from whoosh.util.numeric import byte_to_length, length_to_byte

from portal import locks
from portal.config import Settings
from portal.db import make_engine
from portal.errors import Unavailable
from portal.search import analysis
from portal.search import query as sq
from portal.search.index import ranking
from portal.search.index.background import (
    HEAD_CHECK_SECONDS,
    REBUILD_LOCK,
    REBUILD_LOCK_TIMEOUT,
    WRITE_LOCK,
    WRITE_LOCK_TIMEOUT,
    CatchingUp,
)
from portal.search.index.pg_documents import (
    PAIRED_FIELD,
    SCORED_FIELDS,
    SPELL_FIELDS,
    VECTOR_OF,
    Analyzers,
    TermCounts,
    lexeme,
    pair,
    pairable,
)
from portal.search.index.protocol import Hit, Progress, SearchPage, SearchRequest
from portal.search.index.reader import ranking_weighting
from portal.search.index.schema import FACET_FIELDS, SCHEMA_VERSION
from portal.search.models import SearchDocument
from portal.search.source import SYNONYMS_PATH, Source

log = logging.getLogger("portal.search")

BATCH = 200  # documents per INSERT during a rebuild
SET_CACHE_SIZE = 4096
COMPOUND_CACHE_SIZE = 256
FACET_MASK_FROM = 2000  # matches from which facets are counted with bit masks
PAGE_CACHE_SIZE = 1024
# (term, document) frequencies a version keeps once fetched, as the Whoosh backend keeps decoded postings: a long
# query's 1,000 candidates × 40 terms are 40,000, about 25 ms to fetch again at 50,000 articles.
TF_CACHE_ENTRIES = 600_000
MAX_BACKENDS = 8
SNIPPET_SCAN = sq.SCAN_CHARS

_DOCS = "search_documents"
_GIN_INDEXES = [str(i.name) for i in SearchDocument.metadata.tables[_DOCS].indexes
                if i.dialect_options["postgresql"]["using"] == "gin"]
_GIN_COLUMNS = {str(i.name): next(iter(i.columns)).name for i in SearchDocument.metadata.tables[_DOCS].indexes
                if i.name in _GIN_INDEXES}


def _generation_index(name: str, generation: int) -> str:
    """The GIN index of one generation's rows alone (created by its rebuild, dropped with it)."""
    return f"{name}_g{generation:d}"

# The connection of the search this thread is answering (PgReader.session): one checkout and one transaction
# per search, not one per statement.
_LOCAL = threading.local()


@dataclass
class Generation:
    id: int
    state: str
    commit: str
    stamp: int
    schema_version: int
    mode: str
    articles: int
    files: int
    lengths: dict[str, int]
    built_at: float
    build_seconds: float
    updated_at: float
    pairs: bool  # every row's pairs_vec written (built since migration 0020): phrases are answered from it

    def meta(self) -> dict[str, Any]:
        return {"backend": "postgresql", "path": f"postgresql:{_DOCS}/gen-{self.id}",
                "where": f"PostgreSQL, table {_DOCS}, generation {self.id}",
                "generation": self.id, "commit": self.commit, "schema": self.schema_version,
                "mode": self.mode, "articles": self.articles, "files": self.files, "built_at": self.built_at,
                "build_seconds": self.build_seconds, "updated_at": self.updated_at}


_GENERATION_COLUMNS = ("id, state, commit, stamp, schema_version, mode, articles, files, lengths, "
                       "built_at, build_seconds, updated_at, pairs")


def _live(conn: Connection) -> Generation | None:
    row = conn.execute(text(f"SELECT {_GENERATION_COLUMNS} FROM search_generations WHERE state = 'live' "
                            "ORDER BY id DESC LIMIT 1")).first()
    return Generation(*row) if row is not None else None


@contextlib.contextmanager
def _session(engine: Engine) -> Iterator[None]:
    """Statements of this thread share one connection until the block ends (a search is a few dozen, and each
    checkout of a connection costs a round trip to check it and another to end its transaction)."""
    if getattr(_LOCAL, "conn", None) is not None:
        yield
        return
    with engine.connect() as conn:
        _LOCAL.conn = conn
        try:
            yield
        finally:
            _LOCAL.conn = None


# The GIN indexes, never a scan of every row: checking a tsvector row by row reads it whole. Set once per
# connection of the search's own engine (it was a SET LOCAL, one more round trip, in every search).
_CONNECT_ARGS = {"options": "-c enable_seqscan=off"}


class PgReader:
    """One version (generation and stamp) of the index as this process reads it: the documents' filter values
    in memory, and caches of term document sets, document frequencies and answered pages."""

    def __init__(self, engine: Engine, generation: Generation):
        self.engine = engine
        self.generation = generation
        self.commit = generation.commit
        self.key = (generation.id, generation.stamp)
        self.facets: dict[str, dict[str, set[int]]] = {f: {} for f in FACET_FIELDS}
        self.visibility: dict[str, set[int]] = {}
        self.updated: dict[int, int] = {}
        self._sets: OrderedDict[Any, frozenset[int]] = OrderedDict()
        self._pages: OrderedDict[Any, SearchPage] = OrderedDict()
        self._compounds: OrderedDict[wq.Query, frozenset[int]] = OrderedDict()
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self.outdated = False  # of an older schema: it answers only until the rebuild running beside it is done
        self._near: dict[tuple[str, str, int, int], list[tuple[str, int]]] = {}
        # (field, term) → (the documents asked about, {the ones holding it: frequency}); LRU by term
        self._tf: OrderedDict[tuple[str, str], tuple[set[int], dict[int, float]]] = OrderedDict()
        self._tf_size = 0
        # Every document's length in each scored field, for BM25F (a few bytes of the small ``lengths`` value per
        # row, read once per version): scoring then fetches only the query's term frequencies.
        self.lengths: dict[str, dict[int, int]] = {f: {} for f in SCORED_FIELDS}
        with engine.connect() as conn:
            # The length of each document's text too (a few bytes of the small ``lengths`` value, not the ``tf``
            # map): ranking.likeliest orders a large tier by it without reading any term frequency.
            lengths = ", ".join(f"coalesce((lengths ->> '{f}')::int, 0)" for f in SCORED_FIELDS)
            rows = conn.execute(text(f"SELECT id, visibility, module, kind, versions, tags, updated, {lengths} "
                                     f"FROM {_DOCS} WHERE generation = :g"), {"g": generation.id})
            for doc, visibility, module, kind, versions, tags, updated, *sizes in rows:
                for fieldname, size in zip(SCORED_FIELDS, sizes, strict=True):
                    self.lengths[fieldname][doc] = size
                self.visibility.setdefault(visibility, set()).add(doc)
                self.facets["module"].setdefault(module, set()).add(doc)
                self.facets["kind"].setdefault(kind, set()).add(doc)
                for v in versions:
                    self.facets["version"].setdefault(v, set()).add(doc)
                for t in tags:
                    self.facets["tag"].setdefault(t, set()).add(doc)
                self.updated[doc] = updated
        self.all = frozenset(self.updated)
        self._ordered = sorted(self.all)
        self._positions = {doc: i for i, doc in enumerate(self._ordered)}
        self._facet_masks: dict[str, dict[str, int]] | None = None
        self._set_masks: OrderedDict[Any, int] = OrderedDict()
        # ranking.likeliest orders a large tier by the text's length, rounded as Whoosh keeps it so that both
        # backends choose the same documents.
        self._length_ranks = ranking.length_ranks((doc, byte_to_length(length_to_byte(size)))
                                                  for doc, size in self.lengths["text"].items())
        self._norms: dict[tuple[str, float, float], dict[int, float]] = {}
        self.n = max(1, generation.articles)
        self.avg = {f: max(1.0, (generation.lengths or {}).get(f, 0) / self.n) for f in SCORED_FIELDS}

    def session(self) -> contextlib.AbstractContextManager[None]:
        return _session(self.engine)

    def norms(self, fieldname: str, b: float, k1: float) -> dict[int, float]:
        """Each document's BM25 length normalisation in a field, k1 * ((1 - b) + b * length / average), computed
        once per version (the same floats as computing it per candidate and term: half of scoring a long query)."""
        key = (fieldname, b, k1)
        found = self._norms.get(key)
        if found is None:
            avg = self.avg[fieldname]
            found = self._norms[key] = {doc: k1 * ((1 - b) + b * size / avg)
                                        for doc, size in self.lengths[fieldname].items()}
        return found

    def by_length(self) -> dict[int, int]:
        return self._length_ranks

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        found = getattr(_LOCAL, "conn", None)
        if found is not None:
            yield found
            return
        with self.session():
            yield _LOCAL.conn

    # --- caches -------------------------------------------------------------------------------
    def _cached(self, key, compute: Callable[[], frozenset[int]]) -> frozenset[int]:
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
                return found
        found = compute()
        with self._lock:
            self._sets[key] = found
            while len(self._sets) > SET_CACHE_SIZE:
                self._sets.popitem(last=False)
        return found

    def page(self, key) -> SearchPage | None:
        with self._lock:
            return self._pages.get(key)

    def keep_page(self, key, page: SearchPage) -> None:
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > PAGE_CACHE_SIZE:
                self._pages.popitem(last=False)

    # --- documents of a query -----------------------------------------------------------------
    def _matching(self, condition: str, params: dict[str, Any]) -> frozenset[int]:
        with self._connection() as conn:
            # One array, not a row per document: a common word's documents are most of the index. The generation
            # is written into the statement, not bound: only then can the planner take the generation's own GIN index
            # in every plan, a prepared statement's generic one too (the global index visits every kept generation).
            found = conn.execute(text(f"SELECT array_agg(id) FROM {_DOCS} "
                                      f"WHERE generation = {self.generation.id:d} AND {condition}"), params).scalar()
            return frozenset(found or ())

    def _vector(self, fieldname: str, tsquery: str) -> frozenset[int]:
        return self._looked_up((VECTOR_OF[fieldname], tsquery))

    def _looked_up(self, key: tuple[str, str]) -> frozenset[int]:
        column, tsquery = key
        return self._cached(key, lambda: self._matching(f"{column} @@ CAST(:q AS tsquery)", {"q": tsquery}))

    @staticmethod
    def _pairs_query(fieldname: str, words: list[str], paired: bool) -> str | None:
        """The tsquery of a phrase's pairs in ``pairs_vec``, or None where the phrase is checked by positions."""
        if len(words) < 2 or fieldname != PAIRED_FIELD or not paired or not all(pairable(w) for w in words):
            return None
        return " & ".join(lexeme(pair(a, b)) for a, b in zip(words, words[1:], strict=False))

    def _phrase(self, fieldname: str, words: list[str]) -> frozenset[int]:
        """The documents holding the words next to each other. Checking positions reads the tsvector of every row
        holding all the words (a phrase of two common words at 50,000 articles: thousands of rows from the TOAST
        table); the pairs' GIN index answers two words alone and narrows a longer phrase to the rows holding each of
        its pairs before their positions are checked. A generation built before the pairs checks positions only."""
        phrase = " <-> ".join(lexeme(w) for w in words)
        pairs = self._pairs_query(fieldname, words, self.generation.pairs)
        if pairs is None:
            return self._vector(fieldname, phrase)
        held = self._looked_up(("pairs_vec", pairs))
        if len(words) == 2 or not held:
            return held
        column = VECTOR_OF[fieldname]
        return self._cached((column, phrase), lambda: self._matching(
            f"id = ANY(:ids) AND {column} @@ CAST(:q AS tsquery)", {"ids": sorted(held), "q": phrase}))

    def _lookups(self, q: wq.Query, found: dict[tuple[str, str], None]) -> None:
        """The (column, tsquery) of every GIN look-up ``docs(q)`` makes, into ``found``."""
        if isinstance(q, wq.FuzzyTerm):
            return
        if isinstance(q, wq.Term) and q.fieldname in VECTOR_OF:
            found[(VECTOR_OF[q.fieldname], lexeme(q.text))] = None
        elif isinstance(q, wq.Prefix) and q.fieldname in VECTOR_OF:
            found[(VECTOR_OF[q.fieldname], lexeme(q.text) + ":*")] = None
        elif isinstance(q, wq.Phrase) and q.fieldname in VECTOR_OF:
            words = [w for w in q.words if w]
            if words:
                pairs = self._pairs_query(q.fieldname, words, self.generation.pairs)
                found[("pairs_vec", pairs) if pairs is not None
                      else (VECTOR_OF[q.fieldname], " <-> ".join(lexeme(w) for w in words))] = None
        elif isinstance(q, (wq.And, wq.Or, wq.DisjunctionMax)):
            if q not in self._compounds:
                for sub in q.subqueries:
                    self._lookups(sub, found)
        elif isinstance(q, wq.ConstantScoreQuery):
            self._lookups(q.child, found)

    def prefetch(self, queries: list[wq.Query]) -> None:
        """The documents of every term of these queries not kept yet, in one statement: a first look at a long query
        with synonyms made one statement per term (41 for a four-word query), each planned and answered apart."""
        wanted: dict[tuple[str, str], None] = {}
        for q in queries:
            self._lookups(q, wanted)
        with self._lock:
            missing = [key for key in wanted if key not in self._sets]
        if len(missing) < 2:
            return
        columns = list(dict.fromkeys(column for column, _q in missing))
        params: dict[str, Any] = {}
        selects = []
        for number, column in enumerate(columns):
            params[f"q{number}"] = [tsquery for c, tsquery in missing if c == column]
            # A correlated subquery per asked term: each is the same GIN look-up as _vector's, one array back each.
            selects.append(f"SELECT {number} AS c, asked.i, (SELECT array_agg(id) FROM {_DOCS} "
                           f"WHERE generation = {self.generation.id:d} AND {column} @@ asked.q) "
                           f"FROM unnest(CAST(:q{number} AS tsquery[])) WITH ORDINALITY AS asked(q, i)")
        with self._connection() as conn:
            rows = conn.execute(text(" UNION ALL ".join(selects)), params).all()
        found = {(columns[c], params[f"q{c}"][i - 1]): frozenset(ids or ()) for c, i, ids in rows}
        with self._lock:
            for key, docs in found.items():
                self._sets[key] = docs
            while len(self._sets) > SET_CACHE_SIZE:
                self._sets.popitem(last=False)

    def docs(self, q: wq.Query) -> frozenset[int]:
        """The documents of this version matching a query built by query.py (or ranking.to_title)."""
        if isinstance(q, wq.FuzzyTerm):  # a Term in Whoosh's classes; the Scorer expands it before it gets here
            return frozenset()
        if isinstance(q, wq.Term):
            if q.fieldname in VECTOR_OF:
                return self._vector(q.fieldname, lexeme(q.text))
            if q.fieldname == "visibility":
                return frozenset(self.visibility.get(q.text, ()))
            if q.fieldname in self.facets:
                return frozenset(self.facets[q.fieldname].get(q.text, ()))
            if q.fieldname == "slug":
                return self._cached(("slug", q.text), lambda: self._matching("slug = :slug", {"slug": q.text}))
            return frozenset()
        if isinstance(q, wq.Phrase):
            words = [w for w in q.words if w]
            if not words:
                return frozenset()
            return self._phrase(q.fieldname, words)
        if isinstance(q, wq.Prefix):
            return self._vector(q.fieldname, lexeme(q.text) + ":*")
        if isinstance(q, (wq.And, wq.Or, wq.DisjunctionMax)):
            return self._compound(q)
        if isinstance(q, wq.ConstantScoreQuery):
            return self.docs(q.child)
        if isinstance(q, wq.Every):
            return self.all
        return frozenset()  # NullQuery and anything query.py does not build

    def _compound(self, q: wq.Query) -> frozenset[int]:
        """An And or Or of other queries, kept too (in a smaller cache: the sets of a concept's word forms are tens of
        thousands of documents at 50,000 articles, and joining them anew was a third of a warm search's time)."""
        with self._lock:
            found = self._compounds.get(q)
            if found is not None:
                self._compounds.move_to_end(q)
                return found
        sets = [self.docs(sub) for sub in q.subqueries]
        if isinstance(q, wq.And):
            found = frozenset.intersection(*sets) if sets else frozenset()
        else:
            found = frozenset().union(*sets)
        with self._lock:
            self._compounds[q] = found
            while len(self._compounds) > COMPOUND_CACHE_SIZE:
                self._compounds.popitem(last=False)
        return found

    # --- term statistics -----------------------------------------------------------------------
    def frequency(self, fieldname: str, term: str) -> int:
        found = self._counts.get((fieldname, term))
        if found is None:
            self.prefetch_counts([(fieldname, term)])
            found = self._counts.get((fieldname, term), 0)
        return found

    def prefetch_counts(self, keys: list[tuple[str, str]]) -> None:
        """Documents (or occurrences) of each (field, term), in one statement for all those not known yet."""
        missing = [k for k in dict.fromkeys(keys) if k not in self._counts]
        if not missing:
            return
        with self._connection() as conn:
            rows = conn.execute(text("SELECT field, term, count FROM search_terms WHERE generation = :g "
                                     "AND (field, term) IN (SELECT * FROM unnest(CAST(:f AS text[]), CAST(:t AS text[])))"),
                                {"g": self.generation.id, "f": [f for f, _t in missing], "t": [t for _f, t in missing]})
            found = {(f, t): n for f, t, n in rows}
        with self._lock:
            if len(self._counts) > SET_CACHE_SIZE * 4:
                self._counts.clear()
            for key in missing:
                self._counts[key] = found.get(key, 0)

    def near(self, fieldname: str, word: str, maxdist: int, prefix: int) -> list[tuple[str, int]]:
        """(term, count) of a field's terms within ``maxdist`` edits of ``word`` sharing its first ``prefix``
        letters (Whoosh's terms_within); kept per index version like the term sets. A typo in the first letter asks
        with no prefix, which reads every term of the field of its length: half a second at 50,000 articles on the
        busy machine, for each search repeating the same typo."""
        key = (fieldname, word, maxdist, prefix)
        found = self._near.get(key)
        if found is None:
            found = self._near_uncached(fieldname, word, maxdist, prefix)
            with self._lock:
                if len(self._near) >= SET_CACHE_SIZE:
                    self._near.clear()
                self._near[key] = found
        return found

    def _near_uncached(self, fieldname: str, word: str, maxdist: int, prefix: int) -> list[tuple[str, int]]:
        params: dict[str, Any] = {"g": self.generation.id, "f": fieldname, "lo": max(1, len(word) - maxdist),
                                  "hi": len(word) + maxdist}
        condition = ""
        if prefix:
            start = word[:prefix]
            params.update(start=start, stop=start[:-1] + chr(ord(start[-1]) + 1))
            condition = "AND term >= :start AND term < :stop"
        # The terms alone first: the primary key holds them, so PostgreSQL answers from the index without visiting
        # the table's rows (a first-letter typo at 50,000 articles: 91,636 rows of a spelling field visited, 127 ms,
        # against 33 ms from the index); the counts only of the few terms within the distance.
        pieces = _pieces(word, maxdist)
        with self._connection() as conn:
            terms = conn.execute(text(f"SELECT term FROM search_terms WHERE generation = :g AND field = :f "
                                      f"AND length(term) BETWEEN :lo AND :hi {condition}"), params).scalars().all()
            close = [term for term in terms
                     if any(piece in term for piece in pieces) and within(word, term, maxdist)]
            if not close:
                return []
            counts: dict[str, int] = dict(conn.execute(text(
                "SELECT term, count FROM search_terms WHERE generation = :g AND field = :f AND term = ANY(:terms)"),
                {**params, "terms": close}).all())
        return [(term, counts[term]) for term in close if term in counts]

    def scored(self, docs: list[int], terms: dict[str, list[str]]) -> dict[tuple[str, str], dict[int, float]]:
        """{(field, term): {document: weighted frequency}} of at least ``docs`` (a map may hold more documents) for
        each of the given terms of each scored field; what this version was asked before comes from its cache, the
        rest from the database (``_fetch``)."""
        keys = [(fieldname, term) for fieldname, found in terms.items() for term in found]
        if not docs or not keys:
            return {key: {} for key in keys}
        wanted = set(docs)
        with self._lock:
            entries = [self._tf.get(key) for key in keys]
            missing: set[int] = set()
            for key, entry in zip(keys, entries, strict=True):
                if entry is None:
                    missing |= wanted
                else:
                    missing |= wanted - entry[0]
                    self._tf.move_to_end(key)
        if not missing:
            return {key: entry[1] for key, entry in zip(keys, entries, strict=True) if entry is not None}
        fetched = self._fetch(sorted(missing), terms)
        out: dict[tuple[str, str], dict[int, float]] = {}
        with self._lock:
            for key in keys:
                entry = self._tf.get(key)
                if entry is None:
                    entry = self._tf[key] = (set(), {})
                before = len(entry[0])
                entry[0].update(missing)  # read and written under the lock only
                # A new map, never the one handed out: another search may be iterating it.
                found = {**entry[1], **fetched[key]} if entry[1] else fetched[key]
                self._tf[key] = (entry[0], found)
                self._tf_size += len(entry[0]) - before
                out[key] = found
            while self._tf_size > TF_CACHE_ENTRIES and len(self._tf) > 1:
                self._tf_size -= len(self._tf.popitem(last=False)[1][0])
        return out

    def _fetch(self, docs: list[int], terms: dict[str, list[str]]) -> dict[tuple[str, str], dict[int, float]]:
        """{(field, term): {document: weighted frequency}} of ``docs`` holding each of the given terms of each scored
        field. Only those values leave the database, and as one text value: a line per document, its id and the
        frequency of each term it holds, numbered in the order asked (``17,0:4.5,3:1``). A row per document cost
        more in the driver than the statement did in the server (70 of 80 ms for 1,000 candidates at 50,000
        articles); a JSON map per term, built with a filtered aggregate per term, cost the server twice the look-ups
        themselves (42 → 23 ms for 1,000 candidates and 40 terms at 50,000 articles)."""
        keys = [(fieldname, term) for fieldname, found in terms.items() for term in found]
        if not docs or not keys:
            return {key: {} for key in keys}
        params: dict[str, Any] = {"ids": docs}
        maps: list[str] = []
        picks: list[str] = []
        for number, fieldname in enumerate(terms):
            params[f"f{number}"] = fieldname
            maps.append(f"tf -> :f{number} AS m{number}")
            for term in terms[fieldname]:
                i = len(picks)
                params[f"t{i}"] = term
                picks.append(f"'{i}:' || (m{number} ->> :t{i})")
        # Each field's map is taken out of the stored value once per row (the inner query, kept apart by
        # OFFSET 0); reading every term straight from the column would fetch and decompress it once per term.
        # The values are JSON numbers written as text (no comma, colon or semicolon inside them); a term the
        # document lacks gives NULL, which concat_ws leaves out.
        inner = f"SELECT id, {', '.join(maps)} FROM {_DOCS} WHERE id = ANY(:ids) OFFSET 0"
        with self._connection() as conn:
            found = conn.execute(text(f"SELECT string_agg(concat_ws(',', id, {', '.join(picks)}), ';') "
                                      f"FROM ({inner}) AS maps"), params).scalar_one()
        out: list[dict[int, float]] = [{} for _key in keys]
        for line in found.split(";") if found else ():
            doc, *held = line.split(",")
            number = int(doc)
            for pair in held:
                i, value = pair.split(":")
                out[int(i)][number] = float(value)
        return dict(zip(keys, out, strict=True))

    def stored(self, docs: list[int]) -> dict[int, tuple[dict[str, Any], str]]:
        """(meta, the start of the body) of the documents of a page."""
        if not docs:
            return {}
        with self._connection() as conn:
            rows = conn.execute(text(f"SELECT id, meta, left(body, :n) FROM {_DOCS} WHERE id = ANY(:ids)"),
                                {"ids": docs, "n": SNIPPET_SCAN})
            return {r[0]: (r[1], r[2]) for r in rows}

    def _mask(self, docs: AbstractSet[int]) -> int:
        """The documents as the bits of one integer (bit i: the i-th document of the version). Written as the
        integer's binary digits, one byte each, and parsed at once: setting one byte per document costs less in
        Python than or-ing a bit into a byte (2.7 against 4.7 ms for 20,000 documents of 47,640)."""
        position = self._positions
        digits = bytearray(b"0") * len(position)
        find = position.get
        for doc in docs:
            i = find(doc)
            if i is not None:
                digits[i] = 49  # "1"
        digits.reverse()
        return int(digits, 2) if digits else 0

    def mask_of(self, key: Any, docs: AbstractSet[int]) -> int:
        """``_mask(docs)`` kept per index version under ``key`` (a query, or the set itself: frozensets keep their
        hash), in a cache as small as the compounds' (6 KB each at 50,000 articles)."""
        with self._lock:
            found = self._set_masks.get(key)
            if found is not None:
                self._set_masks.move_to_end(key)
                return found
        found = self._mask(docs)
        with self._lock:
            self._set_masks[key] = found
            while len(self._set_masks) > COMPOUND_CACHE_SIZE:
                self._set_masks.popitem(last=False)
        return found

    def unmask(self, mask: int) -> frozenset[int]:
        """The documents of a mask (``_mask``'s inverse), a byte at a time: most bytes of a sparse mask are zero."""
        ordered = self._ordered
        out: list[int] = []
        for i, byte in enumerate(mask.to_bytes((len(ordered) + 7) // 8, "little")):
            if byte:
                base = i << 3
                out.extend(ordered[base + bit] for bit in _BITS[byte])
        return frozenset(out)

    def facet_counts(self, docs: frozenset[int] | set[int]) -> dict[str, list[dict[str, Any]]]:
        """Matches per facet value. Many matches are counted as bit masks (one AND and a bit count per value instead
        of a set intersection: 37 → a few ms for 20,000 matches at 50,000 articles); few, by intersecting sets."""
        masks = None
        if len(docs) > FACET_MASK_FROM:
            masks = self._facet_masks
            if masks is None:  # once per version (two threads may both compute it: the same value)
                masks = self._facet_masks = {f: {v: self._mask(ids) for v, ids in values.items()}
                                             for f, values in self.facets.items()}
            matched = self._mask(docs)
        out: dict[str, list[dict[str, Any]]] = {}
        for fieldname in FACET_FIELDS:
            counts: list[dict[str, Any]] = []
            if docs:
                for value, ids in self.facets[fieldname].items():
                    if value == sq.ANY_VERSION or not value:
                        continue
                    if masks is not None:
                        n = (masks[fieldname][value] & matched).bit_count()
                    else:
                        n = len(ids & docs) if len(ids) < len(docs) else len(docs & ids)
                    if n:
                        counts.append({"value": value, "count": n})
            counts.sort(key=lambda c: (-c["count"], c["value"]))
            out[fieldname] = counts
        return out


_BITS = [tuple(bit for bit in range(8) if byte >> bit & 1) for byte in range(256)]


def at_least(masks: list[int], need: int, everything: int) -> int:
    """The bits set in at least ``need`` of ``masks``: the masks added up as a binary number per bit (a ripple of
    carries, a few operations on whole masks each), then that number compared with ``need`` from its highest bit."""
    planes: list[int] = []  # planes[j]: bit j of each document's count
    for mask in masks:
        carry = mask
        for j in range(len(planes)):
            if not carry:
                break
            planes[j], carry = planes[j] ^ carry, planes[j] & carry
        if carry:
            planes.append(carry)
    if need <= 0:
        return everything
    if need.bit_length() > len(planes):
        return 0
    greater, equal = 0, everything
    for j in range(len(planes) - 1, -1, -1):
        if need >> j & 1:
            equal &= planes[j]
        else:
            greater |= equal & planes[j]
            equal &= ~planes[j]
    return greater | equal


def _pieces(word: str, maxdist: int) -> list[str]:
    """``word`` cut into ``maxdist`` + 1 pieces: a term within ``maxdist`` edits of it holds at least one of them
    unchanged (each edit touches one piece at most), so a term holding none is left without computing its distance
    — most of a spelling field's terms of the right length, each a few tens of microseconds in Python."""
    n = maxdist + 1
    if len(word) < n:
        return [""]
    size, extra = divmod(len(word), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(word[start:end])
        start = end
    return out


def within(a: str, b: str, maxdist: int) -> bool:
    """Levenshtein distance of a and b at most ``maxdist``, giving up on a row that already exceeds it."""
    if abs(len(a) - len(b)) > maxdist:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > maxdist:
            return False
        previous = current
    return previous[-1] <= maxdist


class Scorer:
    """BM25F of a query.py query over candidate documents, as Whoosh's BM25F scores it: a term's weighted
    frequency against its field's average length (B per field, as ``reader.ranking_weighting`` sets it), idf as
    log(N/(df+1))+1, the query's boosts; an Or or And adds its matching parts, a DisjunctionMax takes the best;
    a phrase scores as its words when the document holds the phrase."""

    weighting = ranking_weighting()

    def __init__(self, reader: PgReader, q: wq.Query):
        self.reader = reader
        self.q = self._expanded(q)
        self.terms: dict[str, list[str]] = {}
        self._collect(self.q)
        reader.prefetch_counts([(f, t) for f, found in self.terms.items() for t in found])

    def _expanded(self, q: wq.Query) -> wq.Query:
        """Fuzzy terms become the Or of the index's terms within their distance (Whoosh does the same)."""
        if isinstance(q, wq.FuzzyTerm):
            prefix = min(q.prefixlength, len(q.text))
            found = [wq.Term(q.fieldname, term, boost=q.boost)
                     for term, _n in self.reader.near(q.fieldname, q.text, q.maxdist, prefix)]
            return wq.Or(found) if found else wq.NullQuery
        if isinstance(q, (wq.And, wq.Or, wq.DisjunctionMax)):
            return type(q)([self._expanded(sub) for sub in q.subqueries], boost=q.boost)
        return q

    def _collect(self, q: wq.Query) -> None:
        if isinstance(q, wq.Term) and q.fieldname in SCORED_FIELDS:
            found = self.terms.setdefault(q.fieldname, [])
            if q.text not in found:
                found.append(q.text)
        elif isinstance(q, wq.Phrase):
            for w in q.words:
                self._collect(wq.Term(q.fieldname, w))
        elif isinstance(q, (wq.And, wq.Or, wq.DisjunctionMax)):
            for sub in q.subqueries:
                self._collect(sub)

    def idf(self, fieldname: str, term: str) -> float:
        return math.log(self.reader.n / (self.reader.frequency(fieldname, term) + 1)) + 1

    def _bm25_of(self, fieldname: str, term: str, tf: dict[tuple[str, str], dict[int, float]],
                 among: AbstractSet[int], boost: float) -> dict[int, float]:
        """BM25F of one term for every candidate in ``among`` holding it (Whoosh's formula; its idf and the field's
        constants computed once)."""
        idf = self.idf(fieldname, term)
        b = self.weighting._field_B.get(fieldname, self.weighting.B)
        k1 = self.weighting.K1
        saturation = k1 + 1
        norms = self.reader.norms(fieldname, b, k1)
        missing = k1 * ((1 - b) + b * 0 / self.reader.avg[fieldname])
        out = {}
        held = tf.get((fieldname, term), {})  # kept for the version: it may hold more than the candidates
        if len(held) > len(among):
            for doc in among:
                f = held.get(doc)
                if f is not None:
                    out[doc] = idf * (f * saturation) / (f + norms.get(doc, missing)) * boost
            return out
        for doc, f in held.items():
            if doc in among:
                out[doc] = idf * (f * saturation) / (f + norms.get(doc, missing)) * boost
        return out

    def _scores(self, q: wq.Query, tf: dict[tuple[str, str], dict[int, float]],
                docs: AbstractSet[int]) -> dict[int, float]:
        """The score of every candidate matching ``q`` (the others left out): one pass over the candidates per node of
        the query, not one walk of the query per candidate (a tenth of a millisecond each, most of a slow search at
        10,000 articles). Or sums its matching parts in their order, DisjunctionMax takes the best, And needs all."""
        if isinstance(q, wq.Term):
            if q.fieldname in SCORED_FIELDS:
                return self._bm25_of(q.fieldname, q.text, tf, docs, q.boost)
            return {doc: q.boost for doc in _common(self.reader.docs(q), docs)}
        if isinstance(q, wq.Phrase):
            holding = set(_common(self.reader.docs(q), docs))
            words = [self._bm25_of(q.fieldname, w, tf, holding, 1.0) for w in q.words]
            return {doc: sum(found.get(doc) or 0.0 for found in words) * q.boost for doc in holding}
        if isinstance(q, wq.Prefix):
            return {doc: q.boost for doc in _common(self.reader.docs(q), docs)}
        if isinstance(q, (wq.Or, wq.DisjunctionMax)):
            # Added up (or the best taken) part by part in the parts' order: the same floats as sum() or max() of
            # each document's list, without building the lists (a third of the scoring of a long query).
            best = isinstance(q, wq.DisjunctionMax)
            combined: dict[int, float] = {}
            for sub in q.subqueries:
                for doc, value in self._scores(sub, tf, docs).items():
                    found = combined.get(doc)
                    if found is None:
                        combined[doc] = value
                    elif best:
                        if value > found:
                            combined[doc] = value
                    else:
                        combined[doc] = found + value
            if q.boost != 1.0:
                return {doc: value * q.boost for doc, value in combined.items()}
            return combined
        if isinstance(q, wq.And):
            parts = [self._scores(sub, tf, docs) for sub in q.subqueries]
            if not parts:
                return {doc: 0.0 * q.boost for doc in docs}
            common = set(parts[0]).intersection(*parts[1:])
            out = {}
            for doc in common:
                total = 0.0
                for part in parts:
                    total += part[doc]
                out[doc] = total * q.boost
            return out
        return {}

    def top(self, docs: AbstractSet[int], limit: int, factor: dict[int, float] | None = None
            ) -> list[tuple[float, int]]:
        tf = self.reader.scored(sorted(docs), self.terms)
        scored = [(value * (factor.get(doc, 1.0) if factor else 1.0), doc)
                  for doc, value in self._scores(self.q, tf, docs).items()]
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        return scored[:limit]


def _common(docs: AbstractSet[int], among: AbstractSet[int]) -> list[int]:
    """The candidates among ``docs``, walking the smaller of the two."""
    if len(docs) < len(among):
        return [doc for doc in docs if doc in among]
    return [doc for doc in among if doc in docs]


class PgIndex(CatchingUp):
    """The search backend over the shared PostgreSQL index."""

    def __init__(self, settings: Settings, mode: str = analysis.DEFAULT_MODE, *, cache_pages: bool = True,
                 engine: Engine | None = None):
        CatchingUp.__init__(self)
        self.settings = settings
        self.mode = mode
        self.cache_pages = cache_pages
        self.engine = engine or make_engine(settings.effective_database_url, connections=8,
                                            connect_args=_CONNECT_ARGS)
        self.source = Source(settings)
        self._lock = threading.RLock()
        self._reader: PgReader | None = None
        self._head_checked = 0.0
        self._synonyms: tuple[str, sq.Synonyms] | None = None
        self.rebuilding: tuple[int, int] | None = None  # (article files read, of) while this process rebuilds

    # --- life cycle ---------------------------------------------------------------------------
    def _usable(self, generation: Generation | None) -> bool:
        return generation is not None and generation.schema_version == SCHEMA_VERSION and generation.mode == self.mode

    def live(self) -> Generation | None:
        found = getattr(_LOCAL, "conn", None)  # a search's own connection
        if found is not None:
            return _live(found)
        with self.engine.connect() as conn:
            return _live(conn)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[PgReader]:
        """The current reader, the live generation read on the connection the search then uses."""
        with _session(self.engine):
            yield self._current()

    def _outdated_live(self) -> bool:
        generation = self.live()
        return generation is not None and not self._usable(generation)

    def _current(self) -> PgReader:
        with self._lock:
            generation = self.live()
            if generation is not None and not self._usable(generation):
                # Of an older schema or analysis mode (this code was upgraded): the rows are the same table's,
                # so it answers (in its own terms) while the rebuild writes the new generation beside it.
                reader = self._reader
                if reader is None or reader.key != (generation.id, generation.stamp):
                    log.info("search index in the database is of another schema: it answers while a rebuild runs")
                    reader = self._reader = PgReader(self.engine, generation)
                    reader.outdated = True
                    self._head_checked = 0.0
                now = time.monotonic()
                if now - self._head_checked >= HEAD_CHECK_SECONDS:  # started again (at this pace) if it failed
                    self._head_checked = now
                    self._rebuild_in_background(force=False)
                return reader
            if not self._usable(generation):
                log.log(logging.WARNING if generation else logging.INFO, "search index in the database is %s: "
                        "rebuilding", "of another schema" if generation else "missing")
                self.rebuild(force=False)
                generation = self.live()
            if generation is None:
                raise Unavailable("Поисковый индекс в базе данных не построился.")
            now = time.monotonic()
            if now - self._head_checked >= HEAD_CHECK_SECONDS:
                self._head_checked = now
                try:
                    head = self.source.head()
                except Exception:
                    head = generation.commit
                if head != generation.commit:  # a reader never waits for a writer: this search answers as is
                    self._in_background("catch-up", self._catch_up_behind)
            reader = self._reader
            if reader is None or reader.key != (generation.id, generation.stamp):
                reader = self._reader = PgReader(self.engine, generation)
            return reader

    def _ahead_of_git(self, commit: str) -> bool:
        """The index holds a commit this node's repository does not know: another node published it and
        this node's git has not caught up yet, so the index is ahead, not stale."""
        with self.source.content.repo() as repo:
            try:
                repo.commit(commit)
                return False
            except Exception:
                return True

    def _write_lock(self, *, wait: bool) -> contextlib.AbstractContextManager[None]:
        return locks.advisory(self.settings.effective_database_url, WRITE_LOCK,
                              timeout=WRITE_LOCK_TIMEOUT if wait else 0, what="Обновление поискового индекса")

    def _live_version(self) -> tuple[int, str] | None:
        generation = self.live()
        return (generation.id, generation.commit) if generation is not None and self._usable(generation) else None

    def _write_counts(self, conn: Connection, generation: int, counts: TermCounts) -> None:
        rows = [{"g": generation, "f": f, "t": t, "n": n} for (f, t), n in counts.counts.items() if n]
        for start in range(0, len(rows), 5000):
            conn.execute(text("INSERT INTO search_terms (generation, field, term, count) VALUES (:g, :f, :t, :n) "
                              "ON CONFLICT (generation, field, term) DO UPDATE "
                              "SET count = search_terms.count + excluded.count"), rows[start:start + 5000])
        conn.execute(text("DELETE FROM search_terms WHERE generation = :g AND count <= 0"), {"g": generation})
        lengths = conn.execute(text("SELECT lengths FROM search_generations WHERE id = :g FOR UPDATE"),
                               {"g": generation}).scalar() or {}
        lengths = {f: lengths.get(f, 0) + counts.lengths.get(f, 0) for f in set(lengths) | set(counts.lengths)}
        conn.execute(text("UPDATE search_generations SET articles = articles + :a, lengths = CAST(:l AS jsonb) "
                          "WHERE id = :g"), {"a": counts.articles, "l": json.dumps(lengths), "g": generation})

    _INSERT = text(f"INSERT INTO {_DOCS} (generation, path, slug, visibility, module, kind, versions, tags, updated, "
                   "meta, body, text_vec, codes_vec, title_vec, words_vec, pairs_vec, tf, lengths) "
                   "VALUES (:generation, :path, :slug, :visibility, :module, :kind, :versions, :tags, :updated, "
                   "CAST(:meta AS jsonb), :body, CAST(:text_vec AS tsvector), CAST(:codes_vec AS tsvector), "
                   "CAST(:title_vec AS tsvector), CAST(:words_vec AS tsvector), CAST(:pairs_vec AS tsvector), "
                   "CAST(:tf AS jsonb), CAST(:lengths AS jsonb))")

    def _insert(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if rows:
            conn.execute(self._INSERT, [dict(r, meta=json.dumps(r["meta"], ensure_ascii=False),
                                             tf=json.dumps(r["tf"], ensure_ascii=False),
                                             lengths=json.dumps(r["lengths"])) for r in rows])

    def _apply(self, generation: int, paths: list[str], commit: str) -> None:
        """Re-index the given article files at ``commit`` inside generation ``generation`` in one transaction;
        the caller holds the write lock."""
        analyzers = Analyzers(self.mode)
        counts = TermCounts()
        rows = []
        for _path, article in self.source.articles(commit, paths) if paths else []:
            if article is not None:
                analysed = analyzers.article(article, generation)
                counts.add_article(analysed)
                rows.append(analysed.row)
        with self.engine.begin() as conn:
            if paths:
                old = conn.execute(text(
                    f"SELECT meta, body, lengths, tf FROM {_DOCS} WHERE generation = :g AND path = ANY(:paths)"),
                    {"g": generation, "paths": paths})
                for meta, body, lengths, tf in old:
                    counts.add({f: set(tf.get(f, {})) for f in SCORED_FIELDS}, lengths,
                               SPELL_FIELDS[meta["visibility"]], analyzers.stored_spelling(meta, body), sign=-1)
                conn.execute(text(f"DELETE FROM {_DOCS} WHERE generation = :g AND path = ANY(:paths)"),
                             {"g": generation, "paths": paths})
                self._insert(conn, rows)
                self._write_counts(conn, generation, counts)
            conn.execute(text("UPDATE search_generations SET commit = :c, stamp = stamp + 1, updated_at = :t "
                              "WHERE id = :g"), {"c": commit, "t": time.time(), "g": generation})
        if paths:
            with self.engine.connect() as conn:
                self._clean_gin(conn.execution_options(isolation_level="AUTOCOMMIT"))
        log.info("search index caught up to %s (%d article files)", commit[:10], len(paths))

    def rebuild(self, *, progress: Progress | None = None, force: bool = True) -> dict[str, Any]:
        """Index every published article of HEAD into a new generation and swap it in."""
        with locks.advisory(self.settings.effective_database_url, REBUILD_LOCK, timeout=REBUILD_LOCK_TIMEOUT,
                            what="Перестроение поискового индекса"):
            live = self.live()
            if not force and self._usable(live):
                assert live is not None
                return live.meta()
            started = time.monotonic()
            commit = self.source.head()
            with self.engine.begin() as conn:
                generation = conn.execute(text(
                    "INSERT INTO search_generations (state, commit, stamp, schema_version, mode, articles, files, "
                    "lengths, built_at, build_seconds, updated_at, pairs) "
                    "VALUES ('building', :c, 0, :s, :m, 0, 0, '{}', 0, 0, 0, true) RETURNING id"),
                    {"c": commit, "s": SCHEMA_VERSION, "m": self.mode}).scalar_one()
            try:
                self._build(generation, commit, progress, started)
            except BaseException:
                with self.engine.begin() as conn:
                    self._drop(conn, [generation])
                self._drop_indexes()
                raise
            finally:
                self.rebuilding = None
            built = self.live()
            assert built is not None
            log.info("search index rebuilt: %d articles at %s in %.1f s", built.articles, commit[:10],
                     time.monotonic() - started)
            return built.meta()

    def _build(self, generation: int, commit: str, progress: Progress | None, started: float) -> None:
        analyzers = Analyzers(self.mode)
        counts = TermCounts()
        total = self.source.count(commit)
        done = 0
        batch: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for _path, article in self.source.articles(commit):
                if article is not None:
                    analysed = analyzers.article(article, generation)
                    counts.add_article(analysed)
                    batch.append(analysed.row)
                    if len(batch) >= BATCH:
                        self._insert(conn, batch)
                        conn.commit()
                        batch = []
                done += 1
                self.rebuilding = (done, total)
                if progress:
                    progress(done, total)
            self._insert(conn, batch)
            self._write_counts(conn, generation, counts)
            conn.execute(text("UPDATE search_generations SET files = :f, built_at = :b, build_seconds = :s "
                              "WHERE id = :g"), {"f": total, "b": time.time(),
                                                 "s": round(time.monotonic() - started, 3), "g": generation})
            conn.commit()
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            self._clean_gin(conn)
            # A GIN index per column of this generation's rows alone: the global indexes hold the previous generation
            # too (kept for other processes' searches in flight), so a first look at a common word visited twice the
            # rows — 5,317 heap blocks instead of 2,659, 21–31 → 13–15 ms, at 50,000 articles. Created after the rows
            # are written (one pass instead of an insert per row); catch-ups keep them up to date like the others.
            for name in _GIN_INDEXES:
                conn.execute(text(f"CREATE INDEX IF NOT EXISTS {_generation_index(name, generation)} ON {_DOCS} "
                                  f"USING gin ({_GIN_COLUMNS[name]}) WHERE generation = {generation:d}"))
            conn.execute(text(f"ANALYZE {_DOCS}"))  # the planner's statistics of the new rows
            # The visibility map of the new term counts: the spelling correction reads a field's terms from the
            # primary key alone only where the table's pages are marked all-visible (PgReader.near).
            conn.execute(text("VACUUM (ANALYZE) search_terms"))
        with self._write_lock(wait=True):
            head = self.source.head()
            if head != commit:
                changed = self.source.changed_paths(commit, head)
                if changed is not None:
                    self._apply(generation, changed, head)
            with self.engine.begin() as conn:
                previous = _live(conn)
                conn.execute(text("UPDATE search_generations SET state = 'retired' WHERE state = 'live'"))
                conn.execute(text("UPDATE search_generations SET state = 'live' WHERE id = :g"), {"g": generation})
                keep = {generation} | ({previous.id} if previous else set())
                stale = [g for (g,) in conn.execute(text("SELECT id FROM search_generations")) if g not in keep]
                self._drop(conn, stale)
        if stale:
            self._drop_indexes()
            # The dropped generation's rows stay in the GIN indexes until a vacuum: every first look at a word would
            # visit their (dead, and before migration 0019 wide) rows too — 15,098 blocks instead of ~1,000 for a
            # common word at 50,000 articles. Not waiting for autovacuum; searches keep answering meanwhile.
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.execute(text(f"VACUUM (ANALYZE) {_DOCS}"))
                conn.execute(text("VACUUM search_terms"))

    @staticmethod
    def _clean_gin(conn: Connection) -> None:
        """Move the GIN indexes' pending entries into the indexes proper. Rows written since the last clean-up sit in
        a pending list every search reads through, and the planner, seeing it, turns to checking each row's
        tsvector instead: 16 ms instead of 1 ms for a word at 2,000 articles. (Autovacuum cleans it too, later.)
        The generations' own indexes are cleaned too."""
        conn.execute(text("SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i "
                          "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                          f"WHERE i.indrelid = CAST('{_DOCS}' AS regclass) AND a.amname = 'gin'"))

    @staticmethod
    def _drop(conn: Connection, generations: list[int]) -> None:
        if generations:
            params = {"gs": generations}
            conn.execute(text(f"DELETE FROM {_DOCS} WHERE generation = ANY(:gs)"), params)
            conn.execute(text("DELETE FROM search_terms WHERE generation = ANY(:gs)"), params)
            conn.execute(text("DELETE FROM search_generations WHERE id = ANY(:gs)"), params)

    def _drop_indexes(self) -> None:
        """The GIN indexes of every generation that is gone — just dropped, or dropped by a process killed before it
        got here (its indexes, or a half-dropped invalid one, would otherwise stay for good) — without blocking
        searches: a plain DROP INDEX locks the whole table, every reader's look-up waiting for it."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            # The names first: an index listed is of a generation whose row was committed before it was created.
            names = [n for (n,) in conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = :t"),
                                                {"t": _DOCS})]
            known = {g for (g,) in conn.execute(text("SELECT id FROM search_generations"))}
            for name in names:
                found = re.fullmatch(r"(.+)_g(\d+)", name)
                if found and found.group(1) in _GIN_INDEXES and int(found.group(2)) not in known:
                    conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))

    def info(self) -> dict[str, Any]:
        generation = self.live()
        if generation is None:
            return {}
        meta = generation.meta()
        with self.engine.connect() as conn:
            meta["bytes"] = conn.execute(text(f"SELECT pg_total_relation_size('{_DOCS}') + "
                                              "pg_total_relation_size('search_terms')")).scalar()
        return meta

    def close(self) -> None:
        with self._lock:
            self._reader = None
        self.engine.dispose()

    def synonyms(self, commit: str) -> sq.Synonyms:
        cached = self._synonyms
        if cached is not None and cached[0] == commit:
            return cached[1]
        parsed = sq.synonyms(self.source.read(commit, SYNONYMS_PATH) or "", self.mode)
        self._synonyms = (commit, parsed)
        return parsed

    # --- searching (searching.Searching, step by step) ------------------------------------------
    def _allowed(self, reader: PgReader, audiences: tuple[str, ...], filters: dict[str, str | None]) -> frozenset[int]:
        return reader.docs(sq.restriction(audiences, filters))

    def search(self, request: SearchRequest) -> SearchPage:
        with self._reading() as reader:
            key = (request.text, request.audiences, tuple(request.filters().items()), request.sort, request.limit,
                   request.offset, reader.commit)
            page = reader.page(key) if self.cache_pages else None
            if page is None:
                try:
                    page = self._search(reader, request)
                except Exception:
                    if not reader.outdated:
                        raise
                    log.warning("search index generation %s of an older schema failed a search", reader.key[0],
                                exc_info=True)
                    return SearchPage(total=0, hits=[], facets={}, matched="none",
                                      rebuilding=self.rebuilding or (0, 0))
                if self.cache_pages:
                    reader.keep_page(key, page)
            return page

    def _search(self, reader: PgReader, request: SearchRequest) -> SearchPage:
        parsed = sq.parse(request.text)
        browsing = parsed.empty and any(request.filters().values())
        if parsed.empty and not browsing:
            return SearchPage(total=0, hits=[], facets={}, matched="none")
        allowed = self._allowed(reader, request.audiences, request.filters())
        synonyms = self.synonyms(reader.commit)
        if browsing:
            return self._run(reader, wq.Every(), allowed, request, parsed, synonyms, sort="date")
        fields = _spell_fields(request.audiences)

        def correct(known: int) -> str | None:
            # Whether each word is known, asked in one statement (on a first look, a round trip per word and field).
            reader.prefetch_counts([key for unit in parsed.units if unit.kind == "word"
                                    for key in [*((f, unit.text) for f in fields),
                                                ("text", analysis.normalise(unit.text, self.mode))]])
            return ranking.correction(reader, parsed, fields, allowed, synonyms, self.mode, known_total=known)

        return ranking.answer(
            parsed,
            lambda p, require_all: self._attempt(reader, p, allowed, request, synonyms, require_all=require_all),
            lambda: self._run(reader, wq.Or(sq.nodes(parsed, self.mode, synonyms, fuzzy=True)), allowed, request,
                              parsed, synonyms),
            correct,
            lambda p: self._probe(reader, p, allowed, synonyms))

    def _parts(self, reader: PgReader, parsed: sq.Parsed, synonyms: sq.Synonyms) -> list[wq.Query]:
        return [Scorer(reader, part).q for part in sq.nodes(parsed, self.mode, synonyms)]

    @staticmethod
    def _matches(reader: PgReader, parsed: sq.Parsed, parts: list[wq.Query], allowed: frozenset[int], *,
                 require_all: bool) -> tuple[frozenset[int], Counter[int], str]:
        """(the matches, how many concepts each holds, "all" or "any") of a query of several concepts, before
        anything is scored."""
        n = len(parts)
        reader.prefetch(parts)
        # The concepts' own sets (kept per index version), the documents the reader may see taken once from the
        # result: a document's count of concepts does not depend on the others, so it is the same answer, without
        # an intersection with the allowed documents per concept (six of ~20,000 against ~50,000 for a six-concept
        # query at 50,000 articles, a sixth of its search).
        sets = [reader.docs(part) for part in parts]
        exact = any(u.kind != "word" for u in parsed.units)
        need = ranking.minimum_should_match(n, exact=exact) if require_all else 1
        counts: Counter[int] = Counter()
        # One concept of any or all of them: a union or an intersection of sets, not a count per document (tens of
        # thousands of them for two common words at 50,000 articles, 10 ms). The counts are needed only between
        # the two, or for the coordination factor.
        if ranking.COORDINATION:
            for found in sets:
                counts.update(found)
            matched = frozenset(doc for doc, k in counts.items() if k >= need) & allowed
        elif 1 < need < n:
            # "n − 1 of n" and the like as bit masks of the concepts' sets (kept with them): a count per document
            # was a Counter over six sets of ~20,000 documents for a six-concept query at 50,000 articles.
            everything = (1 << len(reader.all)) - 1
            masks = [reader.mask_of(part, found) for part, found in zip(parts, sets, strict=True)]
            matched = reader.unmask(at_least(masks, need, everything) & reader.mask_of(allowed, allowed))
        else:
            matched = (frozenset().union(*sets) if need <= 1 else frozenset.intersection(*sets)) & allowed
        every = matched if need >= n else frozenset.intersection(*sets) & allowed
        return matched, counts, "all" if every else "any"

    def _probe(self, reader: PgReader, parsed: sq.Parsed, allowed: frozenset[int],
               synonyms: sq.Synonyms) -> tuple[int, str]:
        """(total, matched) of ``_attempt(parsed, require_all=True)`` without scoring (ranking.answer's probe)."""
        parts = self._parts(reader, parsed, synonyms)
        if len(parts) < 2:
            q = Scorer(reader, sq.combine(parts, parsed, self.mode, require_all=True)).q
            return len(reader.docs(q) & allowed), "all"
        matched, _counts, kind = self._matches(reader, parsed, parts, allowed, require_all=True)
        return len(matched), kind

    def _attempt(self, reader: PgReader, parsed: sq.Parsed, allowed: frozenset[int], request: SearchRequest,
                 synonyms: sq.Synonyms, *, require_all: bool) -> SearchPage:
        parts = self._parts(reader, parsed, synonyms)
        if len(parts) < 2:
            q = sq.combine(parts, parsed, self.mode, require_all=True)
            page = self._run(reader, q, allowed, request, parsed, synonyms)
            page.matched = "all"
            return page
        matched, counts, kind = self._matches(reader, parsed, parts, allowed, require_all=require_all)
        page = self._run(reader, wq.Or(parts), allowed, request, parsed, synonyms, matched=matched,
                         factor=ranking.coordination(counts, len(parts)), tiers=wq.And(parts))
        page.matched = kind
        return page

    def _run(self, reader: PgReader, q: wq.Query, allowed: frozenset[int], request: SearchRequest, parsed: sq.Parsed,
             synonyms: sq.Synonyms, sort: str | None = None, *, matched: frozenset[int] | None = None,
             factor: dict[int, float] | None = None, tiers: wq.Query | None = None) -> SearchPage:
        scorer = Scorer(reader, q)
        if matched is None:
            reader.prefetch([scorer.q])
            matched = reader.docs(scorer.q) & allowed
        page = SearchPage(total=len(matched), hits=[], facets=reader.facet_counts(matched))
        want = request.offset + request.limit
        if not matched or request.offset >= len(matched):
            return page
        if (sort or request.sort) == "date":
            top = [(0.0, d) for d in sorted(matched, key=lambda d: (-reader.updated.get(d, 0), d))[:want]]
        else:
            tiered = tiers or scorer.q
            if len(matched) > ranking.SCORE_LIMIT:  # ranking.candidates then reads the concepts in the titles
                concepts = tiered.subqueries if isinstance(tiered, wq.And) else [tiered]
                reader.prefetch([ranking.to_title(tiered), *(ranking.in_title(c) for c in concepts)])
            top = scorer.top(ranking.candidates(reader, tiered, matched, want), want, factor)
        words, codes = sq.match_forms(parsed, self.mode, synonyms)
        shown = top[request.offset:want]
        stored = reader.stored([d for _s, d in shown])
        for score, doc in shown:
            meta, body = stored[doc]
            snippet = sq.snippet([body or "", meta.get("summary", "")], words, codes, self.mode)
            page.hits.append(ranking.hit(meta, score=round(float(score or 0.0), 4), snippet=str(snippet)))
        return page

    # --- suggestions and similar articles -----------------------------------------------------
    def suggest(self, text: str, audiences: tuple[str, ...], limit: int) -> list[Hit]:
        cleaned = sq.clean(text or "")
        if sq.parse(cleaned).empty:
            return []
        with self._reading() as reader:
            allowed = self._allowed(reader, audiences, {})

            def found(q: wq.Query) -> list[Hit]:
                scorer = Scorer(reader, q)
                matched = reader.docs(scorer.q) & allowed
                if not matched:
                    return []
                top = scorer.top(ranking.candidates(reader, scorer.q, matched, limit), limit)
                stored = reader.stored([d for _s, d in top])
                return [ranking.hit(stored[d][0], score=round(float(sc), 4), snippet="") for sc, d in top]

            return ranking.completions(ranking.completion_parts(cleaned, self.mode, self.synonyms(reader.commit)),
                                       found)

    def similar(self, slug: str, audiences: tuple[str, ...], limit: int) -> list[Hit]:
        """Articles sharing the most telling words of this one (its terms by weighted frequency × idf)."""
        with self._reading() as reader:
            return self._similar(reader, slug, audiences, limit)

    def _similar(self, reader: PgReader, slug: str, audiences: tuple[str, ...], limit: int) -> list[Hit]:
        allowed = self._allowed(reader, audiences, {})
        own = sorted(reader.docs(wq.Term("slug", slug)) & allowed)
        if not own:
            return []
        docnum = own[0]
        with reader._connection() as conn:
            row = conn.execute(text(f"SELECT tf -> 'text', meta FROM {_DOCS} WHERE id = :id"), {"id": docnum}).first()
        if row is None:
            return []
        tf, meta = row
        probe = Scorer(reader, wq.NullQuery)
        weights = sorted(((w * probe.idf("text", t), t) for t, w in tf.items()
                          if len(t) > 2 and t[0].isalpha() and t not in analysis.STOPWORDS), reverse=True)[:15]
        if not weights:
            return []
        likeness = wq.Or([wq.Term("text", t, boost=w) for w, t in weights]
                         + [wq.Term("tag", t) for t in meta.get("tags", [])])
        counts: Counter[int] = Counter()
        for sub in likeness.subqueries:
            counts.update((reader.docs(sub) & allowed) - {docnum})
        if not counts:
            return []
        pool = {d for d, _k in counts.most_common(ranking.SCORE_LIMIT)}
        top = Scorer(reader, likeness).top(pool, limit)
        stored = reader.stored([d for _s, d in top])
        return [ranking.hit(stored[d][0], score=round(float(sc), 4), snippet="") for sc, d in top]


def _spell_fields(audiences: tuple[str, ...]) -> list[str]:
    """Each audience's own spelling dictionary, so no word of an article the reader may not see is suggested."""
    return [SPELL_FIELDS[a] for a in audiences]


_BACKENDS: dict[tuple[str, str], PgIndex] = {}
_BACKENDS_LOCK = threading.Lock()


def backend(settings: Settings) -> PgIndex:
    """The process's PostgreSQL index object for this database and content repository (shared, so its
    caches are reused)."""
    key = (settings.effective_database_url, str(settings.content_path))
    with _BACKENDS_LOCK:
        found = _BACKENDS.pop(key, None)
        if found is None:
            found = PgIndex(settings)
        _BACKENDS[key] = found
        while len(_BACKENDS) > MAX_BACKENDS:
            _BACKENDS.pop(next(iter(_BACKENDS))).close()
        return found
