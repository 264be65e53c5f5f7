"""Reading one version of the index: a pool of searchers and the document sets computed from its postings."""

from __future__ import annotations

import io
import pickle
import queue
import threading
import zlib
from array import array
from collections import OrderedDict
from itertools import accumulate
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from whoosh import columns, scoring
from whoosh import query as wq
from whoosh.codec import whoosh3
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.system import _INT_SIZE
from whoosh.util.numeric import byte_to_length

from portal.search.index.protocol import SearchPage
from portal.search.index.schema import FACET_FIELDS

POOL_SIZE = 8
SET_CACHE_SIZE = 4096  # document sets of terms and phrases kept per index version
PAGE_CACHE_SIZE = 1024  # answered searches kept per index version (a new version starts empty)
# Postings (document → weight) of the terms scoring read, kept per index version up to this many postings in all
# (about 90 bytes each: at 10,000 long articles some 40 common words, every rarer word of recent searches).
WEIGHT_CACHE_POSTINGS = 400_000



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
        self._weights: OrderedDict[tuple[int, str, bytes], dict[int, float]] = OrderedDict()
        self._weights_size = 0
        self._lengths: dict[tuple[int, str], list[int | None]] = {}  # (segment offset, field) → its documents' lengths
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
            # Read with the weights scoring needs (kept): a term's postings are decoded once per version.
            ids: set[int] = set()
            if fieldname not in searcher.schema:
                return ids
            try:
                btext = searcher.schema[fieldname].to_bytes(text)
            except ValueError:
                return ids
            for sub, offset in searcher.leaf_searchers():
                ixreader = sub.reader()
                if (fieldname, btext) in ixreader:
                    ids.update(self._term_weights(ixreader, offset, fieldname, btext))
            return ids & self.live(searcher) if searcher.reader().has_deletions() else ids

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
                    values[value] = set(segment_weights(reader.postings(fieldname, value)))  # counted with live docs
                facets[fieldname] = values
            self._facets = facets
        return self._facets

    # --- scoring ------------------------------------------------------------------------------
    def score(self, searcher, q: wq.Query, docs: AbstractSet[int], limit: int,
              factor: dict[int, float] | None = None) -> list[tuple[float, int]]:
        """(score, docnum) of the best ``limit`` of ``docs``, each multiplied by its ``factor`` when given: the
        scores ``score_sum`` computes without it, to the last bit (the same parts, in the same order, the same
        arithmetic).

        A term's part is its BM25F score read from the term's postings of this version (document → weight,
        decoded a block at a time, kept) and each candidate's field length (kept): a Whoosh matcher stepped
        to each candidate walks every posting before it in Python, three calls a posting — at 10,000 long
        articles a common word's thousands of postings, 60–220 ms of a search's scoring (docs/search.md)."""
        return score_sum(searcher, q, docs, limit, factor, term_part=self._add_term)

    def _add_term(self, sub, offset: int, weighting, term: wq.Term, boost: float, mine: list[int],
                  totals: dict[int, float]) -> bool:
        """Add ``term``'s score to ``totals`` for the documents of ``mine`` holding it, as Term.matcher's
        matcher would score them; False (nothing added) where its scorer is not a weight-and-length one."""
        fieldname = term.fieldname
        if fieldname not in sub.schema:
            return True  # Whoosh's matcher: nothing
        try:
            btext = sub.schema[fieldname].to_bytes(term.text)
        except ValueError:
            return True
        ixreader = sub.reader()
        if (fieldname, btext) not in ixreader:
            return True
        scorer = weighting.scorer(sub, fieldname, btext)
        if type(scorer).score is not scoring.WeightLengthScorer.score:  # BM25F's is; another's, Whoosh's way
            return False
        weights = self._term_weights(ixreader, offset, fieldname, btext)
        lengths = self.segment_lengths(ixreader, offset, fieldname)
        own = term.boost
        if type(scorer) is scoring.BM25FScorer:
            # Its _score (scoring.bm25) written out, the length's part of the denominator kept per length (one of
            # 256 values): the same operations in the same order, so the same floats, without two Python calls a
            # posting (a sixth of the slowest searches' time at 10,000 long articles).
            idf, avgfl, B, K1 = scorer.idf, scorer.avgfl, scorer.B, scorer.K1
            parts: dict[int | None, float] = {}
            for doc in mine:
                weight = weights.get(doc)
                if weight is None:
                    continue
                length = lengths[doc - offset]
                part = parts.get(length)
                if part is None:
                    part = parts[length] = K1 * ((1 - B) + B * length / avgfl)
                value = idf * ((weight * (K1 + 1)) / (weight + part))
                if own != 1.0:
                    value = value * own
                totals[doc] = totals.get(doc, 0.0) + value * boost
            return True
        for doc in mine:
            weight = weights.get(doc)
            if weight is None:
                continue
            value = scorer._score(weight, lengths[doc - offset])
            if own != 1.0:  # Term.matcher wraps a boosted term: its score times the boost
                value = value * own
            totals[doc] = totals.get(doc, 0.0) + value * boost
        return True

    def segment_lengths(self, ixreader, offset: int, fieldname: str) -> list[int | None]:
        """One segment's documents' lengths of ``fieldname`` as its scorer reads them (kept per version)."""
        key = (offset, fieldname)
        found = self._lengths.get(key)
        if found is None:
            found = self._lengths[key] = segment_lengths(ixreader, fieldname)
        return found

    def field_lengths(self, searcher, fieldname: str) -> dict[int, int | None]:
        """{document: its length of ``fieldname``} of every live document, from each segment's whole column."""
        out: dict[int, int | None] = {}
        for sub, offset in searcher.leaf_searchers():
            lengths = self.segment_lengths(sub.reader(), offset, fieldname)
            out.update((offset + doc, lengths[doc]) for doc in sub.reader().all_doc_ids())
        return out

    def _term_weights(self, ixreader, offset: int, fieldname: str, btext: bytes) -> dict[int, float]:
        key = (offset, fieldname, btext)
        with self._lock:
            found = self._weights.get(key)
            if found is not None:
                self._weights.move_to_end(key)
                return found
        weights = segment_weights(ixreader.postings(fieldname, btext), offset)
        with self._lock:
            if key not in self._weights:
                self._weights[key] = weights
                self._weights_size += len(weights)
            while self._weights_size > WEIGHT_CACHE_POSTINGS and len(self._weights) > 1:
                self._weights_size -= len(self._weights.popitem(last=False)[1])
        return weights


def score_sum(searcher, q: wq.Query, docs: AbstractSet[int], limit: int, factor: dict[int, float] | None = None,
              term_part: Callable[..., bool] | None = None) -> list[tuple[float, int]]:
    """(score, docnum) of the best ``limit`` of ``docs``; each score multiplied by the document's ``factor``
    (coordination) when one is given.

    An Or scores the sum of its parts, so each part (a term, a phrase, a fuzzy term) walks its own postings
    to those documents only and adds its score: Whoosh's union matchers would either preload every posting
    of every part (indexes under 5,000 documents) or step a tree of unions through every match in Python.
    ``term_part(sub, offset, weighting, term, boost, mine, totals)``, when given, adds a term's part its own way
    (``VersionReader._add_term``: from kept postings) and says False where it cannot."""
    ordered = sorted(docs)
    totals: dict[int, float] = {}
    for sub, offset in searcher.leaf_searchers():
        end = offset + sub.doc_count_all()
        mine = [d for d in ordered if offset <= d < end]
        if not mine:
            continue
        context = sub.context()
        for leaf, boost in _leaves(q):
            if term_part is not None and type(leaf) is wq.Term \
                    and term_part(sub, offset, context.weighting, leaf, boost, mine, totals):
                continue
            matcher = leaf.matcher(sub, context)
            for doc in mine:
                local = doc - offset
                if not matcher.is_active():
                    break
                if matcher.id() < local:
                    matcher.skip_to(local)
                    if not matcher.is_active():
                        break
                if matcher.id() == local:
                    totals[doc] = totals.get(doc, 0.0) + matcher.score() * boost
    scored = [(total * (factor.get(doc, 1.0) if factor else 1.0), doc) for doc, total in totals.items()]
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return scored[:limit]


def _leaves(q: wq.Query, boost: float = 1.0) -> list[tuple[wq.Query, float]]:
    """The parts of a sum of scores (nested Or), each with the product of the boosts above it."""
    if type(q) is wq.Or:
        return [leaf for sub in q.subqueries for leaf in _leaves(sub, boost * q.boost)]
    return [(q, boost)]


def _unfiltered(matcher):
    # A segment with deletions wraps its postings in a FilterMatcher; the documents scored and counted here
    # are live ones already (``VersionReader.live``), so the deleted ones read below are never asked for.
    return matcher.child if isinstance(matcher, FilterMatcher) else matcher


def segment_weights(matcher, offset: int = 0) -> dict[int, float]:
    """{document + offset: weight} of one segment's posting list, decoded a block at a time from Whoosh 2.7's
    block format (``W3LeafMatcher``'s, read as its ``_goto``, ``_read_data``, ``_read_ids`` and ``_read_weights``
    read it); other matchers are walked posting by posting. A block's header is unpickled from a copy of the
    block, not through the segment's file, which the unpickler reads a few bytes a call (twenty-odd Python calls
    a block); Whoosh's ``all_ids`` makes three calls a posting. The equivalence with Whoosh's own reading is a
    test (tests/search/index/test_scoring.py)."""
    matcher = _unfiltered(matcher)
    out: dict[int, float] = {}
    if isinstance(matcher, W3LeafMatcher):
        postfile, position, byteids = matcher._postfile, matcher._baseoffset, matcher._byteids
        while True:
            length = postfile.get_int(position)
            last = length < 0  # the last block's length is stored negated
            length = -length if last else length
            block = postfile.get(position + _INT_SIZE, length)
            cursor = io.BytesIO(block)
            count, _maxid, _maxweight, compression, _minlength, _maxlength = pickle.load(cursor)
            raw, weights = _ids_and_weights(block[cursor.tell():], bool(compression), count)
            ids = raw if byteids else accumulate(raw)  # the ids are stored as differences
            if weights is None:  # every weight 1
                weights = (1.0,) * count
            elif isinstance(weights, float):  # one weight for all, read back as a 32-bit float
                weights = (array("f", (weights,))[0],) * count
            out.update(zip((d + offset for d in ids) if offset else ids, weights))
            if last:
                return out
            position += _INT_SIZE + length
    while matcher.is_active():
        out[matcher.id() + offset] = matcher.weight()
        matcher.next()
    return out


# A block's data is the pickle (protocol 2) of (ids, weights, values). A term's values are its positions, bytes
# each, which protocol 2 pickles as calls of _codecs.encode: two thirds of the unpickling (and of the inflating,
# coming last), never read here. So the stream is inflated only up to where the values' tuple starts (a MARK and
# that GLOBAL, which the numbers before it cannot spell: every byte they take is within eight of an opcode of
# theirs) and closed there as (ids, weights, ()).
_VALUES_START = b"(c_codecs\nencode\n"
_CLOSED_WITHOUT_VALUES = b")\x87."  # EMPTY_TUPLE, TUPLE3, STOP
_INFLATE_STEP = 2048


def _ids_and_weights(data: bytes, compressed: bool, count: int):
    """(ids, weights) of a block's data as pickled by Whoosh, without unpickling its values where they are
    positions; any other block (or anything unexpected) is unpickled whole."""
    if compressed:
        inflater = zlib.decompressobj()
        head = inflater.decompress(data, _INFLATE_STEP)
        cut = head.find(_VALUES_START)
        while cut < 0 and inflater.unconsumed_tail:
            seen = max(0, len(head) - len(_VALUES_START))
            head += inflater.decompress(inflater.unconsumed_tail, _INFLATE_STEP)
            cut = head.find(_VALUES_START, seen)
    else:
        head = data
        cut = head.find(_VALUES_START)
    if cut > 0:
        try:
            ids, weights, _values = pickle.loads(head[:cut] + _CLOSED_WITHOUT_VALUES)
        except Exception:
            pass
        else:
            if len(ids) == count and (weights is None or isinstance(weights, float) or len(weights) == count):
                return ids, weights
    ids, weights, _values = pickle.loads(zlib.decompress(data) if compressed else data)
    return ids, weights


# A length column's byte → the length Whoosh's readers give for it (0: no length, None as theirs return).
_BYTE_LENGTHS: list[int | None] = [None] + [byte_to_length(b) for b in range(1, 256)]


def segment_lengths(ixreader, fieldname: str, default: int = 1) -> list[int | None]:
    """Every document's length of ``fieldname`` in one segment, as ``ixreader.doc_field_length(doc, fieldname,
    default)`` gives it (a scorer's ``dfl`` asks with default 1), read as one slice of the segment's lengths
    column: the reader's own way is three calls and a struct unpacking a document — at 10,000 long articles
    some 10 ms of a term's first scoring, and 40 ms to order the index by length (``ranking.likeliest``).
    Another reader than Whoosh 3's segment reader is asked document by document. The equivalence is a test
    (tests/search/index/test_scoring.py)."""
    count = ixreader.doc_count_all()
    perdoc = getattr(ixreader, "_perdoc", None)
    if isinstance(perdoc, whoosh3.W3PerDocReader):
        column = perdoc._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
        if column is None:
            return [default] * count
        if type(column) is columns.NumericColumn.Reader and column._fixedlen == 1:
            stored = min(column._count, count)
            raw = column._dbfile.get(column._basepos, stored)
            # Past the column's end a document reads as the column's default, 0: no length.
            return [_BYTE_LENGTHS[b] for b in raw] + [None] * (count - stored)
    return [ixreader.doc_field_length(doc, fieldname, default) for doc in range(count)]
