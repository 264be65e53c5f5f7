"""What a ticket becomes in the index, and the weighted words a lookup asks for.

A ticket is three sections of ``analysis.sections`` — the summary (a word there weighs four), the module,
version and error codes (two), the description, steps to reproduce and, once solved, cause, solution and
workaround (one) — run through the article index's own analyzers: ``analysis.text_analyzer`` (word forms and
their families) and ``analysis.code_analyzer`` (error codes, versions and IDs as written). A lookup is the same
text analysed the same way; of its terms the most telling (term frequency × idf of the index) are asked for,
so a long description does not turn into a query of every word it holds.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace

from portal.search import analysis

SCHEMA_VERSION = 1
CODE_MARK = "="  # a code's term in the one PostgreSQL vector ("=err_ssl_cert", "=5.2.1"), apart from words
FAMILY_WEIGHT = 0.5  # a word's family counts half its form (as the article search weighs it less)
LOOKUP_WORDS = 16  # the most telling word terms of a lookup
LOOKUP_CODES = 4  # …and codes
SOLVED_STATUSES = frozenset({"resolved", "closed"})


def scope(status: str, is_open: bool, merged: bool = False) -> str:
    """Where a ticket is looked up: ``solved`` (resolved, closed), ``open``, or ``other`` (deferred, and a duplicate
    merged into another: closed, but solved only through the ticket it was merged into)."""
    if merged:
        return "other"
    if status in SOLVED_STATUSES:
        return "solved"
    return "open" if is_open else "other"


@dataclass(frozen=True)
class TicketText:
    """The words of a ticket (or of a ticket being typed)."""

    summary: str = ""
    description: str = ""
    steps: str = ""
    module: str = ""
    version: str = ""
    cause: str = ""
    solution: str = ""
    workaround: str = ""

    @classmethod
    def of(cls, ticket) -> TicketText:
        return cls(summary=ticket.summary or "", description=ticket.description or "",
                   steps=ticket.steps_to_reproduce or "", module=ticket.module or "",
                   version=ticket.product_version or "", cause=ticket.resolution_cause or "",
                   solution=ticket.resolution_solution or "", workaround=ticket.resolution_workaround or "")

    def sectioned(self) -> str:
        """Summary␞module, version␞the rest: the sections analysis.py weighs 4, 2 and 1."""
        body = "\n".join(p for p in (self.description, self.steps, self.cause, self.solution, self.workaround) if p)
        return analysis.sections(self.summary, f"{self.module} {self.version}".strip(), body)

    @property
    def empty(self) -> bool:
        return not (self.summary.strip() or self.description.strip() or self.steps.strip())


@dataclass(frozen=True)
class Analysed:
    """A text's terms: word terms (forms and ``~`` families) and codes, each with its weighted frequency and
    the section of its first occurrence (0: summary)."""

    words: dict[str, float]
    codes: dict[str, float]
    summary_words: frozenset[str]


_WORDS = analysis.text_analyzer(analysis.DEFAULT_MODE)
_CODES = analysis.code_analyzer()


def analyse(text: TicketText, mode: str = analysis.DEFAULT_MODE) -> Analysed:
    value = text.sectioned()
    words_analyzer = _WORDS if mode == analysis.DEFAULT_MODE else analysis.text_analyzer(mode)
    words: Counter[str] = Counter()
    summary: set[str] = set()
    top = analysis.SECTION_BOOSTS[0]
    for t in words_analyzer(value):
        if not t.text or t.text in analysis.STOPWORDS:
            continue
        weight = t.boost * (FAMILY_WEIGHT if t.text.startswith(analysis.FAMILY_MARK) else 1.0)
        words[t.text] += weight
        if t.boost == top:
            summary.add(t.text)
    codes: Counter[str] = Counter()
    for t in _CODES(value):
        codes[t.text] += t.boost
    return Analysed(words=dict(words), codes=dict(codes), summary_words=frozenset(summary))


def idf(docs: int, total: int) -> float:
    """BM25's idf (never negative: a word of every ticket still weighs a little)."""
    return math.log(1.0 + (total - docs + 0.5) / (docs + 0.5))


CANDIDATES = 2000  # about how many tickets a lookup scores (estimated from its terms' document counts)


@dataclass(frozen=True)
class Term:
    kind: str  # words | codes
    term: str
    weight: float  # (1 + log tf) × idf
    docs: int  # tickets holding it
    telling: bool = True  # among the lookup's most telling terms, known to the index or not (Wanted.whole)


@dataclass(frozen=True)
class Wanted:
    """A lookup: word terms and codes with their weights, the most telling first."""

    words: list[Term]
    codes: list[Term]
    whole: float = 0.0  # the weight of the lookup's most telling terms, those no ticket holds included

    @property
    def empty(self) -> bool:
        return not self.words and not self.codes

    @property
    def terms(self) -> list[Term]:
        return self.words + self.codes

    def likeness(self, held: float) -> float:
        """``held`` (the summed weight of the ``telling`` terms a ticket holds) as a share of the lookup's most
        telling terms — a word no ticket holds counts there too, so a ticket holding the few common words of a
        lookup whose telling words are all new is not «like» it. The same on both backends, unlike their scores
        (see index.Match)."""
        return round(min(1.0, held / self.whole), 4) if self.whole > 0 else 0.0

    def seeds(self) -> list[Term]:
        """The terms whose tickets are the candidates: the rarest first, while their tickets add up to about
        CANDIDATES (at least one). A ticket that answers this one shares its telling words, so it is among them;
        every term of the lookup then adds to the candidates' scores. Common words («данные», «ошибка») would
        make every ticket a candidate and the lookup as slow as the table is long."""
        chosen: list[Term] = []
        total = 0
        for t in sorted(self.terms, key=lambda t: (t.docs, -t.weight, t.term)):
            if chosen and total + t.docs > CANDIDATES:
                break
            chosen.append(t)
            total += t.docs
        return chosen


def wanted(analysed: Analysed, frequency, total: int, own=None) -> Wanted:
    """The terms of a lookup worth asking for: known to the index (``frequency(kind, term)`` > 0, kind "words"
    or "codes"), weighted by (1 + log tf) × idf, the best LOOKUP_WORDS words and LOOKUP_CODES codes.

    ``own(kind, term)``: whether the ticket looked up for (a ticket's own panel) holds the term in the index. It is
    not among the tickets it is compared with, so it is taken out of the counts: its words no other ticket holds
    would otherwise weigh the most and be asked for in vain, and a ticket's likeness (``Wanted.likeness``) would
    depend on whether the lookup's own text happens to be indexed."""
    def best(terms: dict[str, float], kind: str, n: int) -> tuple[list[Term], float]:
        """(the best ``n`` terms the index knows, the weight of the best ``n`` known or not)."""
        scored = []
        for term, tf in terms.items():
            docs = frequency(kind, term)
            if own is not None and docs > 0 and own(kind, term):
                docs -= 1
            scored.append(Term(kind, term, (1.0 + math.log(max(tf, 1.0))) * idf(docs, max(others, docs)), docs))
        scored.sort(key=lambda t: (-t.weight, t.term))
        telling = {t.term for t in scored[:n]}
        known = [replace(t, telling=t.term in telling) for t in scored if t.docs > 0][:n]
        return known, sum(t.weight for t in scored[:n])

    others = total - 1 if own is not None else total
    words, whole_words = best(analysed.words, "words", LOOKUP_WORDS)
    codes, whole_codes = best(analysed.codes, "codes", LOOKUP_CODES)
    return Wanted(words=words, codes=codes, whole=whole_words + whole_codes)
