"""An article as a row of the PostgreSQL index: the Whoosh document's fields (``schema.document``) run through the
Whoosh schema's own analyzers (``schema.build_schema``), once.

So the terms are those of ``analysis.py`` — the same tokenizers, morphology, word families and section
weights as the Whoosh index — written as tsvector literals, and PostgreSQL's own dictionaries (or even its
``simple`` parser) never touch them: a literal is taken as written. Positions keep the section gaps, so a
phrase never spans the title and the body; PostgreSQL caps a position at 16,383 and a lexeme at 256
positions, so a phrase beyond the first ~16,000 words of a long article is found only by its words.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from portal.search.analysis import FAMILY_MARK
from portal.search.index.schema import AUDIENCE_SPELL_FIELD, build_schema, document
from portal.search.source import Article

MAX_POSITION = 16_383
MAX_POSITIONS = 255
MAX_TERM_CHARS = 300  # longer tokens (a run of digits, a pasted hash) are not worth an entry
SECTION_LETTERS = ("A", "B", "D")  # title, summary, body
# The Whoosh fields scored by BM25F (their term frequencies and lengths are stored), and the tsvector column of
# every field a query may name.
SCORED_FIELDS = ("text", "codes", "title_terms")
VECTOR_OF = {"text": "text_vec", "codes": "codes_vec", "title_terms": "title_vec", "title_words": "words_vec"}
SPELL_FIELDS = {visibility: f"spell:{visibility}" for visibility in AUDIENCE_SPELL_FIELD}
# The field whose neighbouring terms are also kept as pairs (``pairs_vec``): every phrase query.py builds is of it.
PAIRED_FIELD = "text"


def lexeme(term: str) -> str:
    """A term quoted for a tsvector or tsquery literal."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def pair(first: str, second: str) -> str:
    """The term of two neighbouring terms in ``pairs_vec`` (both ``pairable``: no space inside, so unambiguous)."""
    return f"{first} {second}"


def pairable(term: str) -> bool:
    """Whether a term takes part in pairs: word forms and codes, not the family terms sharing their positions (a
    phrase is of the reader's words, never of families; pairing them too would make four pairs of every one). A
    phrase holding a term that is not pairable is checked by positions instead."""
    return not term.startswith(FAMILY_MARK) and " " not in term


def pairs_vector(held: dict[int, set[str]]) -> str:
    """The tsvector literal of the pairs of terms at neighbouring positions, taken from the positions the text's
    tsvector records (after its caps on positions): a pair is there exactly when ``first <-> second`` matches the
    text's tsvector, so a two-word phrase is answered from the pairs' GIN index alone, with no row's positions
    read."""
    found: set[str] = set()
    for position, terms in held.items():
        following = held.get(position + 1)
        if following:
            found.update(pair(a, b) for a in terms for b in following)
    return " ".join(lexeme(p) for p in sorted(found))


@dataclass
class Analysed:
    """The row of one article and what it adds to the generation's term counts."""

    row: dict[str, Any]
    terms: dict[str, set[str]]  # scored field → its terms
    spell_field: str
    spell: Counter[str] = field(default_factory=Counter)


class Analyzers:
    """The Whoosh schema's analyzers of one morphology mode, built once."""

    def __init__(self, mode: str):
        self.mode = mode
        self.schema = build_schema(mode)

    def _tokens(self, fieldname: str, value: str) -> tuple[str, Counter[str], int, dict[int, set[str]]]:
        """(tsvector literal, weighted term frequencies, length in tokens, the pairable terms at each position the
        tsvector records — filled for ``PAIRED_FIELD`` only) of one field's value."""
        analyzer = self.schema[fieldname].analyzer
        boosts = getattr(getattr(analyzer, "items", [None])[0], "boosts", ())  # a SectionTokenizer's weights
        positions: dict[str, list[str]] = {}
        tf: Counter[str] = Counter()
        held: dict[int, set[str]] = {}
        paired = fieldname == PAIRED_FIELD
        length = 0
        for t in analyzer(value, positions=True):
            term = t.text
            length += 1
            if not term or len(term) > MAX_TERM_CHARS:  # a tsvector holds no empty lexeme
                continue
            tf[term] += t.boost
            found = positions.setdefault(term, [])
            if len(found) < MAX_POSITIONS:
                section = boosts.index(t.boost) if t.boost in boosts else 0
                position = min(t.pos + 1, MAX_POSITION)
                found.append(f"{position}{SECTION_LETTERS[min(section, 2)]}")
                if paired and pairable(term):
                    held.setdefault(position, set()).add(term)
        vector = " ".join(f"{lexeme(term)}:{','.join(pos)}" for term, pos in positions.items())
        return vector, tf, length, held

    def spelling(self, text: str, visibility: str) -> Counter[str]:
        analyzer = self.schema[AUDIENCE_SPELL_FIELD[visibility]].analyzer
        return Counter(t.text for t in analyzer(text) if len(t.text) <= MAX_TERM_CHARS)

    def article(self, article: Article, generation: int) -> Analysed:
        doc = document(article)
        vectors: dict[str, str] = {}
        tf: dict[str, dict[str, float]] = {}
        lengths: dict[str, int] = {}
        pairs = ""
        for fieldname in set(VECTOR_OF) | set(SCORED_FIELDS):
            vector, frequencies, length, held = self._tokens(fieldname, doc[fieldname])
            vectors[fieldname] = vector
            if fieldname == PAIRED_FIELD:
                pairs = pairs_vector(held)
            if fieldname in SCORED_FIELDS:
                tf[fieldname] = {term: round(w, 3) for term, w in frequencies.items()}
                lengths[fieldname] = length
        spell_source = AUDIENCE_SPELL_FIELD[article.visibility]
        row = {
            "generation": generation, "path": doc["path"], "slug": doc["slug"], "visibility": doc["visibility"],
            "module": doc["module"] or "", "kind": doc["kind"] or "",
            "versions": [v for v in doc["version"].split(",") if v], "tags": [t for t in doc["tag"].split(",") if t],
            "updated": doc["updated"], "meta": doc["meta"], "body": doc["body"],
            **{column: vectors[fieldname] for fieldname, column in VECTOR_OF.items()},
            "pairs_vec": pairs, "tf": tf, "lengths": lengths,
        }
        return Analysed(row=row, terms={f: set(tf[f]) for f in SCORED_FIELDS}, spell_field=SPELL_FIELDS[article.visibility],
                        spell=self.spelling(doc[spell_source], article.visibility))

    def stored_spelling(self, meta: dict[str, Any], body: str) -> Counter[str]:
        """The spelling words an indexed row contributed (``schema.document``'s spelling text, from storage)."""
        summary = " ".join([meta.get("summary", ""), " ".join(meta.get("tags", []))]).strip()
        return self.spelling(f"{meta['title']}\n{summary}\n{body}", meta["visibility"])


@dataclass
class TermCounts:
    """Changes to a generation's counts: documents per scored term, occurrences per spelling word, lengths."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    articles: int = 0
    lengths: Counter[str] = field(default_factory=Counter)

    def add(self, terms: dict[str, set[str]], lengths: dict[str, int], spell_field: str, spell: Counter[str],
            sign: int = 1) -> None:
        counts = self.counts
        for fieldname, found in terms.items():
            for term in found:
                counts[(fieldname, term)] += sign
        for word, n in spell.items():
            counts[(spell_field, word)] += sign * n
        self.articles += sign
        for fieldname, n in lengths.items():
            self.lengths[fieldname] += sign * n

    def add_article(self, analysed: Analysed) -> None:
        self.add(analysed.terms, analysed.row["lengths"], analysed.spell_field, analysed.spell)
