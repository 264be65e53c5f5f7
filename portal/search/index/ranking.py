"""Ranking: which matches are scored and how, facet counts, the spelling correction, hits from stored fields."""

from __future__ import annotations

import heapq
import math
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Protocol

from whoosh import query as wq

from portal.search import analysis
from portal.search import query as sq
from portal.search.index.protocol import Hit, SearchPage
from portal.search.index.reader import VersionReader, score_sum
from portal.search.index.schema import FACET_FIELDS

SCORE_LIMIT = 300  # above this many matches only the likeliest tiers are scored (see candidates)
# At most this many candidates are scored, whatever the size of the index (see likeliest): scoring reads each
# candidate's term frequencies, so an unbounded tier made a search's cost grow with the corpus (thousands of
# candidates, seconds on PostgreSQL at 50,000 articles). Chosen by measurement, docs/search.md "Speed and scale".
MAX_CANDIDATES = 1000
FEW_HITS = 3  # below this a "did you mean" is looked for


class Lexicon(Protocol):
    """What the steps shared by the backends read of one index version."""

    def docs(self, q: wq.Query) -> AbstractSet[int]:
        """The documents matching a query built by query.py (or ``to_title``)."""

    def frequency(self, fieldname: str, term: str) -> int:
        """How often ``term`` occurs in ``fieldname`` (0: an unknown word)."""

    def by_length(self) -> dict[int, int]:
        """Every document's rank by the length of its ``text`` field, the shortest 0 (kept per index version)."""

    def near(self, fieldname: str, word: str, maxdist: int, prefix: int) -> Iterable[tuple[str, int]]:
        """(term, frequency) of the field's terms within ``maxdist`` edits of ``word`` sharing its first
        ``prefix`` letters."""


class SearcherLexicon:
    """A Whoosh searcher and its version reader as a ``Lexicon``."""

    def __init__(self, searcher, reader: VersionReader):
        self.searcher = searcher
        self.reader = reader

    def docs(self, q: wq.Query) -> set[int]:
        return self.reader.docs(self.searcher, q)

    def frequency(self, fieldname: str, term: str) -> int:
        return self.searcher.reader().frequency(fieldname, term)

    def near(self, fieldname: str, word: str, maxdist: int, prefix: int) -> Iterator[tuple[str, int]]:
        ixreader = self.searcher.reader()
        for term in ixreader.terms_within(fieldname, word, maxdist, prefix=prefix):
            yield term, ixreader.frequency(fieldname, term)

    def by_length(self) -> dict[int, int]:
        found = _LENGTH_RANKS.get(self.reader)
        if found is None:
            lengths = self.reader.field_lengths(self.searcher, "text")
            # Whoosh reads a zero length byte as None (a document with no text): it orders as the shortest.
            found = length_ranks((doc, length or 0) for doc, length in lengths.items())
            _LENGTH_RANKS[self.reader] = found
        return found


# Per index version (a VersionReader), dropped with it.
_LENGTH_RANKS: weakref.WeakKeyDictionary[VersionReader, dict[int, int]] = weakref.WeakKeyDictionary()


def length_ranks(lengths: Iterable[tuple[int, int]]) -> dict[int, int]:
    """{document: its rank from the shortest} of (document, length) pairs; ties in document order."""
    ordered = sorted(lengths, key=lambda pair: (pair[1], pair[0]))
    return {doc: rank for rank, (doc, _length) in enumerate(ordered)}


def candidates(lexicon: Lexicon, q: wq.Query, matched: AbstractSet[int], want: int,
               bound: int | None = None) -> AbstractSet[int]:
    """The matches worth scoring. Up to SCORE_LIMIT, all of them; above it, tiers by the title —
    every concept of the query in the title, then any — grown until they fill the page. A title
    word weighs four body words, so the best-scored articles are almost always in the first tiers;
    totals and facets still count every match. A tier larger than ``bound`` gives its ``bound``
    likeliest (``likeliest``; MAX_CANDIDATES unless given), so the work of scoring does not grow with the index."""
    if len(matched) <= SCORE_LIMIT:
        return matched
    bound = MAX_CANDIDATES if bound is None else bound
    titled = to_title(q)
    concepts = titled.subqueries if isinstance(titled, wq.And) else [titled]
    every = lexicon.docs(titled) & matched
    if len(every) >= want:
        pool: AbstractSet[int] = every
    else:
        anyone: set[int] = set()
        for concept in concepts:
            anyone |= lexicon.docs(concept)
        some = every | (anyone & matched)
        pool = some if len(some) >= want else matched
    if len(pool) <= max(bound, want):
        return pool
    parts = q.subqueries if isinstance(q, wq.And) else [q]
    return likeliest(lexicon, parts, pool, max(bound, want))


def likeliest(lexicon: Lexicon, concepts: Sequence[wq.Query], pool: AbstractSet[int], bound: int) -> set[int]:
    """The ``bound`` documents of ``pool`` likeliest to score best, without reading their term frequencies:
    first by the weight of the query's concepts held in the title, then of those held anywhere (a concept
    weighs its idf, log(N/(df+1))+1, as BM25 weighs it, so holding the rare word counts for more than holding
    a common one), then the shortest text (BM25 gives the same frequency more weight in a shorter field).

    Documents are grouped by which concepts they hold (set algebra, not a loop over the documents in Python),
    the groups taken best first; only the group at the edge of the bound is ordered by length."""
    ranks = lexicon.by_length()
    total = max(1, len(ranks))
    # (documents holding it, its weight, whether in the title); a group's value is (weight in the title, weight
    # anywhere), compared in that order: a concept in the title outweighs any number of them held only in the body.
    features: list[tuple[AbstractSet[int], float, bool]] = []
    for concept in concepts:
        held = lexicon.docs(concept)
        weight = math.log(total / (len(held) + 1)) + 1
        # A phrase scores as the sum of its words, so each of its words in the title counts for its share.
        words = [wq.Term("title_terms", w) for w in concept.words] if isinstance(concept, wq.Phrase) else []
        for part in words or [in_title(concept)]:
            features.append((lexicon.docs(part) & pool, weight / max(1, len(words)), True))
        features.append((held & pool, weight, False))
    groups: list[tuple[tuple[float, float], AbstractSet[int]]] = [((0.0, 0.0), pool)]
    for held, weight, titled in features:
        if not held:
            continue
        refined: list[tuple[tuple[float, float], AbstractSet[int]]] = []
        for value, group in groups:
            inside = group & held
            if not inside:
                refined.append((value, group))
                continue
            refined.append(((value[0] + weight, value[1]) if titled else (value[0], value[1] + weight), inside))
            if len(inside) < len(group):
                refined.append((value, group - inside))
        groups = refined
    groups.sort(key=lambda pair: (-pair[0][0], -pair[0][1]))
    chosen: set[int] = set()
    for _value, group in groups:
        room = bound - len(chosen)
        if room <= 0:
            break
        if len(group) <= room:
            chosen |= group
        else:
            chosen.update(heapq.nsmallest(room, group, key=lambda doc: ranks.get(doc, total)))
    return chosen

# Coordination: a document holding k of the query's n concepts has its BM25F score multiplied by
# (k/n)^COORDINATION. Every concept already adds its own BM25F score, so more matched words rank higher
# without it; on the man-page suite exponents 1 and 2 lost a top-3 hit or two (docs/search.md), so it is off.
COORDINATION = 0.0


def minimum_should_match(n: int, *, exact: bool = True) -> int:
    """Concepts a document must hold to be a candidate: one of two words, but both when ``exact`` (a code or
    a phrase is one of them: "HTTP 502" is not any HTTP); one fewer of three to five, two fewer of more
    (readers add words the article does not use: "как", "другому", "нужного", "диск"). Every concept adds
    to the score, so the documents holding more of them come first."""
    if n <= 2:
        return n if exact else 1
    return n - 1 if n <= 5 else n - 2


def coordination(counts: dict[int, int], n: int) -> dict[int, float]:
    """Each document's factor; none (1 for all) while COORDINATION is off — a factor of 1 for each of tens of
    thousands of matches cost a search 13 ms at 50,000 articles."""
    if n <= 1 or not COORDINATION:
        return {}
    return {doc: (k / n) ** COORDINATION for doc, k in counts.items()}


def score(searcher, q: wq.Query, docs: AbstractSet[int], limit: int,
          factor: dict[int, float] | None = None) -> list[tuple[float, int]]:
    """(score, docnum) of the best ``limit`` of ``docs``, each matcher walked to them (``reader.score_sum``):
    for an index without a ``VersionReader`` (the tickets')."""
    return score_sum(searcher, q, docs, limit, factor)


def facets(searcher, reader: VersionReader, docs: set[int]) -> dict[str, list[dict[str, Any]]]:
    postings = reader.facet_postings(searcher)
    out: dict[str, list[dict[str, Any]]] = {}
    for fieldname in FACET_FIELDS:
        counts: list[dict[str, Any]] = []
        if docs:
            for value, ids in postings[fieldname].items():
                if value == sq.ANY_VERSION or not value:
                    continue
                n = len(docs & ids)
                if n:
                    counts.append({"value": value, "count": n})
        counts.sort(key=lambda c: (-c["count"], c["value"]))
        out[fieldname] = counts
    return out


def correction(lexicon: Lexicon, parsed: sq.Parsed, spell_fields: list[str], allowed: AbstractSet[int],
               synonyms: sq.Synonyms, mode: str, known_total: int = 0) -> str | None:
    """The query with misspelt words replaced from the reader's own dictionary, when it then finds more.

    ``spell_fields`` are the dictionaries of the reader's audiences: each learns only from articles of
    that visibility, and the corrected query must find articles the reader may see, so no word of a
    hidden article is ever suggested.
    """
    changed = False
    units = []
    for unit in parsed.units:
        word = unit.text
        if unit.kind != "word" or not 4 <= len(word) <= sq.MAX_FUZZY_CHARS or not word.isalpha():
            units.append(unit)
            continue
        norm = analysis.normalise(word, mode)
        if any(lexicon.frequency(f, word) for f in spell_fields) or lexicon.frequency("text", norm):
            units.append(unit)  # a known word (or a form of one) is not corrected
            continue
        best = None
        maxdist = 1 if len(word) <= 5 else 2
        for fieldname in spell_fields:
            # Most typos spare the first letter; only when that finds nothing is it allowed to differ.
            for prefix in (1, 0):
                found = False
                for candidate, frequency in lexicon.near(fieldname, word, maxdist, prefix):
                    found = True
                    key = (distance(word, candidate), -frequency, candidate)
                    if best is None or key < best:
                        best = key
                if found:
                    break
        if best is None:
            units.append(unit)
        else:
            units.append(sq.Unit("word", best[2]))
            changed = True
    if not changed:
        return None
    fixed = sq.Parsed(units)
    q = sq.combine(sq.nodes(fixed, mode, synonyms), fixed, mode, require_all=True)
    if len(lexicon.docs(q) & allowed) <= known_total:
        return None
    return fixed.text()


def answer(parsed: sq.Parsed, attempt: Callable[[sq.Parsed, bool], SearchPage], fuzzy: Callable[[], SearchPage],
           correct: Callable[[int], str | None],
           probe: Callable[[sq.Parsed], tuple[int, str]] | None = None) -> SearchPage:
    """The page of a query: every word first (``attempt(parsed, require_all)``); finding nothing, the spelling
    correction (``correct(known_total)``), then any word, then similar words (``fuzzy()``); when candidates
    miss a word and that word is a typo, the corrected query holding every word wins; with few hits, a
    "did you mean" is offered beside them.

    ``probe(parsed)``, where a backend gives it, is (total, matched) of ``attempt(parsed, True)`` without scoring or
    facets: a query with a typo then skips the page its correction replaces (half of such a search). The answer is
    the same with or without it."""
    tried: str | None = None  # the correction already tried through the probe
    if probe is not None:
        suggestion = correct(0)  # at once when every word is known
        if suggestion is not None:
            total, matched = probe(parsed)
            if total and matched == "any":
                fixed = attempt(sq.parse(suggestion), True)
                if fixed.matched == "all":
                    fixed.suggestion, fixed.corrected = suggestion, True
                    return fixed
                tried = suggestion
    page = attempt(parsed, True)
    suggestion = None
    if page.total == 0:
        suggestion = correct(0)
        if suggestion is not None:
            page = attempt(sq.parse(suggestion), True)
            page.suggestion, page.corrected = suggestion, True
            return page
        if len(parsed.units) > 1:
            page = attempt(parsed, False)
            page.matched = "any"
        if page.total == 0:
            page = fuzzy()
            page.matched = "fuzzy" if page.total else "none"
    elif page.matched == "any":
        suggestion = tried or correct(0)
        if suggestion is not None and tried is None:
            fixed = attempt(sq.parse(suggestion), True)
            if fixed.matched == "all":
                fixed.suggestion, fixed.corrected = suggestion, True
                return fixed
    elif page.total < FEW_HITS:
        suggestion = correct(page.total)
    page.suggestion = suggestion
    return page


def completion_parts(cleaned: str, mode: str, synonyms: sq.Synonyms) -> list[wq.Query]:
    """The concepts of what is being typed (``cleaned``, not empty): the finished words as a search has them,
    the last word also as the start of a title word (or of a code) unless a space says it is finished."""
    parsed = sq.parse(cleaned)
    last = parsed.units[-1]
    complete = sq.Parsed(parsed.units[:-1])
    parts = sq.nodes(complete, mode, synonyms) if not complete.empty else []
    prefix_options = [sq.nodes(sq.Parsed([last]), mode, synonyms)[0]]
    if last.kind != "phrase" and len(last.text) >= 2 and not cleaned.endswith(" "):
        prefix_options.append(wq.Prefix("title_words", last.text, boost=2.0))
        if last.kind == "code":
            prefix_options.append(wq.Prefix("codes", last.text))
    parts.append(wq.Or(prefix_options))
    return parts


def completions(parts: list[wq.Query], found: Callable[[wq.Query], list[Hit]]) -> list[Hit]:
    """The best articles ``found`` for all of the concepts, or for any of them when all find nothing."""
    hits: list[Hit] = []
    for require_all in (True, False):
        hits = found(wq.And(parts) if require_all else wq.Or(parts))
        if hits or len(parts) < 2:
            break
    return hits


def to_title(q: wq.Query) -> wq.Query:
    """The same query asked of the titles only (phrases loosened to all their words)."""
    if isinstance(q, wq.Term) and q.fieldname == "text":
        return wq.Term("title_terms", q.text)
    if isinstance(q, wq.Phrase) and q.fieldname == "text":
        return wq.And([wq.Term("title_terms", w) for w in q.words])
    if isinstance(q, (wq.And, wq.Or, wq.DisjunctionMax)):
        return type(q)([to_title(sub) for sub in q.subqueries])
    if isinstance(q, wq.AndMaybe):
        return to_title(q.a)
    return q


def in_title(q: wq.Query) -> wq.Query:
    """The documents holding ``q`` in the title: ``to_title``, and a code as the title's term (the codes field
    holds a title's codes and a body's alike, and a code named in the title is what puts an article first)."""
    if isinstance(q, wq.Term) and q.fieldname == "codes":
        return wq.Term("title_terms", q.text)
    if isinstance(q, (wq.And, wq.Or, wq.DisjunctionMax)):
        return type(q)([in_title(sub) for sub in q.subqueries])
    return to_title(q)


def hit(meta: dict[str, Any], *, score: float, snippet: str) -> Hit:
    return Hit(slug=meta["slug"], title=meta["title"], snippet=snippet, score=score, url=meta["url"],
               module=meta.get("module", ""), kind=meta.get("kind", ""), path=meta["path"],
               summary=meta.get("summary", ""), product_versions=list(meta.get("product_versions", [])),
               tags=list(meta.get("tags", [])), fixed_in=list(meta.get("fixed_in", [])),
               updated=int(meta.get("updated", 0)))


def distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
