"""From what a person typed to a Whoosh query: parsing, exact terms, phrases, synonyms, fuzzy fallback,
"did you mean" and highlighted snippets.

The parser is our own and forgiving: nothing a person types reaches Whoosh's query language, so
unbalanced quotes, lone operators, wildcards or control characters can neither fail nor blow up a
query. Every word (concept) adds to the score; a candidate holds all words of one or two, all but one
of three to five, all but two of more (index.ranking.minimum_should_match); any word when that finds
nothing.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from markupsafe import Markup, escape
from whoosh import query as wq

from portal.search import analysis

MAX_QUERY_CHARS = 500
MAX_UNITS = 12
MAX_FUZZY_CHARS = 30  # longer words are not corrected (the edit-distance automaton grows with the word)

# A code found as written outranks prose that only resembles it. (Title above summary above body is
# in the index itself: see analysis.SectionTokenizer.)
CODE_BOOST = 3.0
SYNONYM_WEIGHT = 0.8
# A word's family (analysis.family) counts less than its own form, so the article using the reader's word
# still ranks above one using only a relative of it.
FAMILY_WEIGHT = 1.0
OWN_WEIGHT = 0.5
# A word of the title, scored in its own short field (index.reader's BM25F parameters), on top of the text.
TITLE_WEIGHT = 1.0

ANY_VERSION = "*"  # indexed for articles that name no product version: they apply to every version
OPERATORS = frozenset({"AND", "OR", "NOT", "И", "ИЛИ", "НЕ"})
_QUOTES = str.maketrans({"«": '"', "»": '"', "„": '"', "“": '"', "”": '"'})
_PHRASE = re.compile(r'"([^"]*)"')
_CODE = re.compile(analysis.CODE_PATTERN)
_WORD = re.compile(analysis.WORD_PATTERN)


@dataclass(frozen=True)
class Unit:
    kind: str  # word | code | phrase
    text: str  # lower case, as typed


@dataclass
class Parsed:
    units: list[Unit] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.units

    def words(self) -> list[str]:
        return [u.text for u in self.units if u.kind == "word"]

    def text(self) -> str:
        """The query as it would be typed: parsed again (a correction's suggestion), it gives the same units."""
        return " ".join(f'"{u.text}"' if u.kind == "phrase" else _as_typed(u) for u in self.units)


def _as_typed(unit: Unit) -> str:
    # A name in capitals is a code only as typed: lower-cased, it would come back as a word.
    if unit.kind == "code" and not analysis.is_code(unit.text):
        return unit.text.upper()
    return unit.text


def clean(text: str) -> str:
    """Control and format characters become spaces; quotes are unified; length is capped."""
    out = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") else ch for ch in text)
    return out.translate(_QUOTES)[:MAX_QUERY_CHARS]


def _loose_units(text: str) -> list[Unit]:
    units = []
    for m in _CODE.finditer(text):
        token = m.group(0)
        if token in OPERATORS:
            continue
        lowered = token.lower().replace("ё", "е")
        if analysis.is_code(lowered) or analysis.is_identifier(token):
            units.append(Unit("code", lowered))
        else:
            units.extend(Unit("word", w.group(0)) for w in _WORD.finditer(lowered))
    return units


def parse(text: str) -> Parsed:
    """Units of a query: quoted phrases, codes as written, and words; never raises."""
    text = clean(text or "")
    units: list[Unit] = []
    pos = 0
    for m in _PHRASE.finditer(text):
        units.extend(_loose_units(text[pos:m.start()]))
        inner = " ".join(t.lower().replace("ё", "е") for t in _CODE.findall(m.group(1)))
        if inner:
            tokens = inner.split()
            if len(tokens) == 1:
                units.extend(_loose_units(inner))
            else:
                units.append(Unit("phrase", inner))
        pos = m.end()
    units.extend(_loose_units(text[pos:].replace('"', " ")))  # an unbalanced quote is ignored
    seen, unique = set(), []
    for u in units:
        if u.kind == "word" and analysis.is_stopword(u.text):
            continue
        if u not in seen:
            seen.add(u)
            unique.append(u)
    return Parsed(unique[:MAX_UNITS])


# --- synonyms -----------------------------------------------------------------------------------


@dataclass
class Synonyms:
    """Groups of equivalent terms; each entry is a tuple of normalised words (or one code)."""

    groups: list[list[tuple[str, ...]]] = field(default_factory=list)
    index: dict[tuple[str, ...], int] = field(default_factory=dict)
    families: dict[str, int] = field(default_factory=dict)  # a one-word entry's family: "удаление" meets "удалить"
    longest: int = 1

    @classmethod
    def parse(cls, text: str, mode: str) -> Synonyms:
        """One group per line, entries separated by commas; ``#`` starts a comment."""
        syn = cls()
        for line in (text or "").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            group = []
            for entry in line.split(","):
                key = entry_key(entry, mode)
                if key and key not in group:
                    group.append(key)
            if len(group) < 2:
                continue
            number = len(syn.groups)
            syn.groups.append(group)
            for key in group:
                syn.index.setdefault(key, number)
                syn.longest = max(syn.longest, len(key))
                kin = analysis.family(key[0]) if len(key) == 1 else ""
                if kin:
                    syn.families.setdefault(kin, number)
        return syn

    def group_of(self, key: tuple[str, ...]) -> int | None:
        """The group holding ``key``, or for one word the group holding a word of its family."""
        if key in self.index:
            return self.index[key]
        return self.families.get(analysis.family(key[0])) if len(key) == 1 else None


# Common support verbs and nouns of Russian (and a few English equivalents), for every knowledge base.
BUILTIN_SYNONYMS = Path(__file__).with_name("synonyms.ru.txt")


def synonyms(project_text: str, mode: str) -> Synonyms:
    """The content repository's kb/synonyms.txt (the product's terms, first: they win a shared word) and the
    built-in dictionary of common words."""
    return Synonyms.parse(f"{project_text or ''}\n{BUILTIN_SYNONYMS.read_text(encoding='utf-8')}", mode)


def entry_key(text: str, mode: str) -> tuple[str, ...]:
    units = _loose_units(clean(text))
    return tuple(u.text if u.kind == "code" else analysis.normalise(u.text, mode) for u in units
                 if not (u.kind == "word" and u.text in analysis.STOPWORDS))


def _unit_key(unit: Unit, mode: str) -> str:
    return unit.text if unit.kind == "code" else analysis.normalise(unit.text, mode)


# --- building Whoosh queries --------------------------------------------------------------------




def _word_query(norm: str, boost: float = 1.0, fuzzy: bool = False) -> wq.Query:
    """A word in the text and, on top, in the title; in each its own form and, weighed less, its family."""
    if fuzzy and 4 <= len(norm) <= MAX_FUZZY_CHARS:
        return wq.FuzzyTerm("text", norm, boost=boost, maxdist=1 if len(norm) <= 6 else 2, prefixlength=1)
    kin = analysis.family(norm)
    fields = [("text", boost)] + ([("title_terms", boost * TITLE_WEIGHT)] if TITLE_WEIGHT else [])
    options: list[wq.Query] = []
    for fieldname, weight in fields:
        own = wq.Term(fieldname, norm, boost=weight * (OWN_WEIGHT if kin else 1.0))
        options.append(own)
        if kin:
            options.append(wq.Term(fieldname, kin, boost=weight * FAMILY_WEIGHT))
    return wq.Or(options) if len(options) > 1 else options[0]


def _code_query(code: str, boost: float = 1.0) -> wq.Query:
    exact = wq.Term("codes", code, boost=CODE_BOOST * boost)
    if analysis.is_code(code):
        return exact
    # A name typed in capitals (SIGKILL) is a word too: an article writing it otherwise still holds it, below one
    # writing it as the code it is.
    return wq.Or([exact, _word_query(analysis.normalise(code), boost)])


def _phrase_query(text: str, mode: str, boost: float = 1.0) -> wq.Query:
    norms = analysis.analyse(text, mode)
    if len(norms) > 1:
        return wq.Phrase("text", norms, boost=boost)
    if norms and norms[0] not in analysis.STOPWORDS:
        return _word_query(norms[0], boost)
    return wq.NullQuery


def _entry_query(key: tuple[str, ...], boost: float) -> wq.Query:
    if len(key) == 1:
        return _code_query(key[0], boost) if analysis.is_code(key[0]) else _word_query(key[0], boost)
    # A variant of several words scores as the reader's own words would (each in the text and in the title, with
    # its family) where the article holds it as a phrase: the phrase decides, its words score (boost 0: nothing
    # of its own).
    words = [_code_query(k, boost) if analysis.is_code(k) else _word_query(k, boost) for k in key]
    return wq.And([wq.Phrase("text", list(key), boost=0.0), *words])


def _unit_query(unit: Unit, mode: str, fuzzy: bool) -> wq.Query:
    if unit.kind == "code":
        return _code_query(unit.text)
    if unit.kind == "phrase":
        return _phrase_query(unit.text, mode)
    return _word_query(analysis.normalise(unit.text, mode), fuzzy=fuzzy)


def nodes(parsed: Parsed, mode: str, synonyms: Synonyms | None = None, *, fuzzy: bool = False) -> list[wq.Query]:
    """One query per concept: a unit, or a run of units matching a synonym group (with its alternatives)."""
    units = parsed.units
    out: list[wq.Query] = []
    i = 0
    while i < len(units):
        matched = None
        if synonyms and synonyms.groups and units[i].kind != "phrase":
            for length in range(min(synonyms.longest, len(units) - i), 0, -1):
                run = units[i:i + length]
                if any(u.kind == "phrase" for u in run):
                    continue
                key = tuple(_unit_key(u, mode) for u in run)
                number = synonyms.group_of(key)
                if number is not None:
                    matched = (length, key, synonyms.groups[number])
                    break
        if matched is None:
            out.append(_unit_query(units[i], mode, fuzzy))
            i += 1
            continue
        length, key, group = matched
        own = [_unit_query(u, mode, fuzzy) for u in units[i:i + length]]
        alternatives = [own[0] if length == 1 else wq.And(own)]
        alternatives += [_entry_query(alt, SYNONYM_WEIGHT) for alt in group if alt != key]
        out.append(wq.Or(alternatives))
        i += length
    return out


def combine(parts: list[wq.Query], parsed: Parsed, mode: str, *, require_all: bool) -> wq.Query:
    """AND (or OR) of the concepts."""
    return wq.And(parts) if require_all else wq.Or(parts)


def restriction(audiences: tuple[str, ...], filters: dict[str, str | None]) -> wq.Query:
    """Visibility and filters: the documents a search may consider at all (see ``index._allowed``)."""
    terms: list[wq.Query] = [wq.Or([wq.Term("visibility", v) for v in audiences]) if len(audiences) > 1
                             else wq.Term("visibility", audiences[0])]
    for fieldname, value in filters.items():
        if value:
            if fieldname == "version":
                terms.append(wq.Or([wq.Term("version", value), wq.Term("version", ANY_VERSION)]))
            else:
                terms.append(wq.Term(fieldname, value))
    return wq.ConstantScoreQuery(wq.And(terms) if len(terms) > 1 else terms[0], score=0.0)


# --- snippets -----------------------------------------------------------------------------------


def match_forms(parsed: Parsed, mode: str, synonyms: Synonyms | None) -> tuple[set[str], set[str]]:
    """(normalised words and their families, codes as written) to highlight."""
    words, codes = set(), set()
    for u in parsed.units:
        if u.kind == "code":
            codes.add(u.text)
        elif u.kind == "phrase":
            words.update(analysis.analyse(u.text, mode))
            codes.update(t for t in analysis.code_tokens(u.text) if analysis.is_code(t))
        else:
            words.add(analysis.normalise(u.text, mode))
    if synonyms:
        for key, number in synonyms.index.items():
            if len(key) == 1 and (key[0] in words or key[0] in codes):
                for alt in synonyms.groups[number]:
                    for part in alt:
                        (codes if analysis.is_code(part) else words).add(part)
    words |= {kin for kin in map(analysis.family, words) if kin}
    return words, codes


SNIPPET_CHARS = 240
SCAN_CHARS = 12_000  # the passage is looked for in the first characters of long articles


@functools.lru_cache(maxsize=1024)
def _heads(heads: frozenset[str]) -> re.Pattern:
    """Words starting like one of ``heads``: the only ones worth analysing for a highlight."""
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(map(re.escape, heads))) + r")\w*")


@functools.lru_cache(maxsize=1024)
def _codes(codes: frozenset[str]) -> re.Pattern:
    return re.compile(r"(?<![\w.:/-])(?:" + "|".join(sorted(map(re.escape, codes), key=len, reverse=True))
                      + r")(?!\w|[-.:/]\w)")


def _spans(text: str, words: set[str], codes: set[str], mode: str) -> list[tuple[int, int]]:
    # Forms and families are stems and lemmas, so a matching word starts like one of them (its first three
    # letters); one regular expression finds those in C and each distinct one of them is analysed once.
    folded = text.lower().replace("ё", "е")  # the same length: positions hold for the text
    spans = []
    heads = frozenset(w.lstrip(analysis.FAMILY_MARK)[:3] for w in words if w.strip(analysis.FAMILY_MARK))
    if heads:
        verdict: dict[str, bool] = {}
        for m in _heads(heads).finditer(folded):
            token = m.group(0)
            found = verdict.get(token)
            if found is None:
                norm = analysis.normalise(token, mode)
                found = token not in analysis.STOPWORDS and (norm in words or analysis.family(norm) in words)
                verdict[token] = found
            if found:
                spans.append((m.start(), m.end()))
    if codes:
        spans.extend((m.start(), m.end()) for m in _codes(frozenset(codes)).finditer(folded))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(texts: list[str], words: set[str], codes: set[str], mode: str, width: int = SNIPPET_CHARS) -> Markup:
    """A passage of the first text with matches, matched words in <mark>; all article text escaped."""
    chosen, spans = "", []
    for text in texts:
        if not text:
            continue
        text = text[:SCAN_CHARS]
        found = _spans(text, words, codes, mode)
        if found:
            chosen, spans = text, found
            break
        if not chosen:
            chosen = text
    text = chosen.replace("\n", " ")
    if not spans:
        cut = text[:width]
        return escape(cut.rsplit(" ", 1)[0] + " …" if len(text) > width and " " in cut else cut)
    # The window holding the most matches.
    best, best_count, j = 0, 0, 0
    for i, (start, _end) in enumerate(spans):
        while j < len(spans) and spans[j][1] <= start + width:
            j += 1
        if j - i > best_count:
            best, best_count = i, j - i
    start = max(0, spans[best][0] - width // 4)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < spans[best][0] else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > spans[best][1] else end
    out = [Markup("… ")] if start else []
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(escape(text[pos:s]))
        out.append(Markup("<mark>") + escape(text[s:e]) + Markup("</mark>"))
        pos = e
    out.append(escape(text[pos:end]))
    if end < len(text):
        out.append(Markup(" …"))
    return Markup("").join(out)
