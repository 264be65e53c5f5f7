"""Text analysis for Russian and English: tokenizers and the morphology of each field.

Three Russian morphologies were measured on the relevance suite (``docs/search.md``):

* ``stem`` — the Snowball stemmer (fast, but "ошибок" and "ошибка" stay apart: fleeting vowels);
* ``lemma`` — pymorphy3's dictionary form ("ошибок" → "ошибка", but "запуск" ≠ "запускаться");
* ``hybrid`` — the lemma, then the stemmer, then trailing vowels cut ("запускается" → "запускаться" →
  "запуска" → "запуск"), so both inflection and the verb/noun pair of one root meet.

Latin words get the Porter2 English stemmer in every mode. Codes (ticket IDs, error codes,
versions, hex numbers) are kept whole and unstemmed in separate ``exact`` fields.

Word families: beside each Russian word's form the index holds, at the same position, its *family*
(``family``: the form with derivational and aspect suffixes cut, prefixed by ``FAMILY_MARK``), so a noun
meets its verb and an aspect pair meets ("изменение"/"изменяет" → ``~измен``, "создание"/"создаёт"/
"создать" → ``~созд``, "переименовать"/"переименовывает" → ``~переимен``). A query asks for the word's
form and, weighed less, its family. Stop words are indexed as written (for quoted phrases), never
stemmed, so "после" does not meet "послать".

Analyzers are pickled into the Whoosh schema, so they hold no pymorphy object: the analyzer
of the process is a module-level singleton.
"""

from __future__ import annotations

import functools
import re
import threading

from whoosh.analysis import Filter, LowercaseFilter, RegexTokenizer, Token, Tokenizer
from whoosh.lang import stemmer_for_language, stopwords_for_language

MODES = ("stem", "lemma", "hybrid")
DEFAULT_MODE = "hybrid"

# Words of prose: letters and digits, dotted runs kept ("5.2.1"), as Whoosh's default tokenizer.
WORD_PATTERN = r"\w+(?:\.?\w+)*"
# Codes kept whole: PRM-2026-00042, ERR_CONNECTION_TIMED_OUT, 0x80070005, 5.2.1, kb/rum.
CODE_PATTERN = r"\w+(?:[-.:/]\w+)*"
# Words for the spelling dictionary: letters only, at least three of them.
SPELL_PATTERN = r"[^\W\d_]{3,}"

_CYRILLIC = re.compile(r"[а-яё]")
_LATIN = re.compile(r"^[a-z]+$")
_TRAILING_VOWELS = re.compile(r"(?<=[^аеёиоуыэюяйь])[аеёиоуыэюяйь]+$")
STOPWORDS = frozenset(stopwords_for_language("ru")) | frozenset(stopwords_for_language("en"))

_ru_stem = stemmer_for_language("ru")
_en_stem = stemmer_for_language("en")
_morph = None
_morph_lock = threading.Lock()


def _analyzer():
    global _morph
    if _morph is None:
        with _morph_lock:
            if _morph is None:
                import pymorphy3

                _morph = pymorphy3.MorphAnalyzer()
    return _morph


@functools.lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    """pymorphy3's most probable dictionary form of a lower-case Russian word."""
    return _analyzer().parse(word)[0].normal_form.replace("ё", "е")


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _ru_stem(word)


@functools.lru_cache(maxsize=200_000)
def english(word: str) -> str:
    return _en_stem(word)


@functools.lru_cache(maxsize=200_000)
def hybrid(word: str) -> str:
    # Words the dictionary does not know are only stemmed: pymorphy3's guess for them is slow
    # (suffix prediction) and no better than the stemmer's.
    base = _ru_stem(lemma(word) if _analyzer().word_is_known(word) else word)
    cut = _TRAILING_VOWELS.sub("", base)
    return cut if len(cut) >= 3 else base


_RUSSIAN = {"stem": stem, "lemma": lemma, "hybrid": hybrid}

FAMILY_MARK = "~"  # family terms share the field with forms; the mark keeps them apart
# Derivational and aspect suffixes of a form, cut one per round, the first that fits, while the root keeps
# FAMILY_ROOT letters: -ыва-/-ива- (imperfective: переименовывать), -ова-/-ева-, -ава- after д/н/т
# (создавать, узнавать, вставать), -ени-/-ани- (deverbal nouns and participles: изменение), -ац-/-ир-
# (синхронизация/синхронизировать), -к- (отправка), -н- (доступный/доступ), л after a labial (отправлять).
FAMILY_SUFFIXES = re.compile(r"(?:овыв|ивыв|ыв|ив|ов|ев|(?<=[днт])ав|ен|ан|ян|ац|ир|к|н|(?<=[бвмпф])л)$")
FAMILY_ROOT = 4
FAMILY_ROUNDS = 3


@functools.lru_cache(maxsize=200_000)
def family(form: str) -> str:
    """The family of an indexed Russian form: its derivational and aspect suffixes cut; "" for anything else."""
    if not form.isalpha() or not _CYRILLIC.search(form) or form in STOPWORDS:
        return ""
    root = form
    for _ in range(FAMILY_ROUNDS):
        cut = FAMILY_SUFFIXES.search(root)
        if cut is None or cut.start() < FAMILY_ROOT:
            break
        root = root[:cut.start()]
    return FAMILY_MARK + root


def is_stopword(word: str) -> bool:
    """A stop word, or a form of one ("другому" of "другой", "было" of "быть"): queries leave them out."""
    if word in STOPWORDS:
        return True
    return word.isalpha() and bool(_CYRILLIC.search(word)) and _analyzer().word_is_known(word) \
        and lemma(word) in STOPWORDS


def normalise(word: str, mode: str = DEFAULT_MODE) -> str:
    """The indexed form of one lower-case word."""
    word = word.replace("ё", "е")
    if _CYRILLIC.search(word):
        if word.isalpha() and word not in STOPWORDS:
            return _RUSSIAN[mode](word)
        return word
    if _LATIN.match(word) and len(word) > 2:
        return english(word)
    return word


SECTION = "\x1e"  # separates title, summary and body in the one weighted field
# Weights of the sections: a word of the title counts as four of the body, of the summary as two.
SECTION_BOOSTS = (4.0, 2.0, 1.0)
SECTION_GAP = 100  # positions between sections, so a phrase never spans two of them


class SectionTokenizer(Tokenizer):
    """Tokens of "title␞summary␞body", each carrying its section's weight as its boost.

    Whoosh adds token boosts into a posting's weight, which BM25F reads as the term frequency: one
    field, one posting list per word, and still title above summary above body. One matcher per
    query word instead of three keeps queries fast.
    """

    def __init__(self, pattern: str = WORD_PATTERN, boosts: tuple[float, ...] = SECTION_BOOSTS):
        self.pattern = pattern
        self.boosts = tuple(boosts)
        self.expression = re.compile(pattern)

    def __eq__(self, other):
        return type(other) is type(self) and other.pattern == self.pattern and other.boosts == self.boosts

    def __getstate__(self):
        return {"pattern": self.pattern, "boosts": self.boosts}

    def __setstate__(self, state):
        self.__init__(state["pattern"], state["boosts"])

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True, start_pos=0,
                 start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos, offset = start_pos, start_char
        for number, part in enumerate(value.split(SECTION)):
            boost = self.boosts[min(number, len(self.boosts) - 1)]
            for match in self.expression.finditer(part):
                t.text = match.group(0)
                t.boost = boost
                t.stopped = False
                if keeporiginal:
                    t.original = t.text
                if positions:
                    t.pos = pos
                if chars:
                    t.startchar = offset + match.start()
                    t.endchar = offset + match.end()
                pos += 1
                yield t
            pos += SECTION_GAP
            offset += len(part) + 1


def sections(*parts: str) -> str:
    return SECTION.join(p.replace(SECTION, " ") for p in parts)


class YoFilter(Filter):
    """ё → е: writers use both."""

    def __call__(self, tokens):
        for t in tokens:
            if "ё" in t.text:
                t.text = t.text.replace("ё", "е")
            yield t


class MorphologyFilter(Filter):
    """Russian words by the chosen mode, each followed at its position by its family; Latin words by the
    English stemmer; the rest as they are."""

    def __init__(self, mode: str = DEFAULT_MODE):
        if mode not in MODES:
            raise ValueError(f"unknown morphology mode {mode!r}")
        self.mode = mode

    def __eq__(self, other):
        return type(other) is type(self) and other.mode == self.mode

    def __call__(self, tokens):
        forms = _FORMS[self.mode]
        for t in tokens:
            word = t.text
            found = forms.get(word)
            if found is None:
                found = forms[word] = _form_and_family(word, self.mode)
            t.text = found[0]
            yield t
            if found[1]:
                t.text = found[1]
                yield t


# A word's (form, family) per mode, kept for the life of the process: a rebuild meets the same few tens of
# thousands of words millions of times, and one dict lookup per token replaces a normalise (its regular
# expressions and lru_cache) and a family. Bounded like the caches of the functions it calls.
_FORMS: dict[str, dict[str, tuple[str, str]]] = {mode: {} for mode in MODES}
_FORMS_LIMIT = 200_000


def _form_and_family(word: str, mode: str) -> tuple[str, str]:
    forms = _FORMS[mode]
    if len(forms) >= _FORMS_LIMIT:
        forms.clear()
    form = normalise(word, mode)
    return form, family(form)


def text_analyzer(mode: str = DEFAULT_MODE):
    """Prose of "title␞summary␞body": words, lower case, morphology applied, each weighted by its section.

    Stop words stay in the index, so a quoted phrase such as "не запускается" is found as written;
    queries drop them outside quotes."""
    return SectionTokenizer(WORD_PATTERN) | LowercaseFilter() | YoFilter() | MorphologyFilter(mode)


def code_analyzer():
    """Codes of "title␞summary␞body" as written (lower case), weighted like prose: IDs, error codes, versions,
    and names written in capitals (ECONNRESET, SIGKILL)."""
    return SectionTokenizer(CODE_PATTERN, (3.0, 2.0, 1.0)) | CodeFilter() | LowercaseFilter() | YoFilter()


class CodeFilter(Filter):
    """Keeps only tokens searched as written: holding a digit or an underscore, or a name in capitals. It reads
    each token before the lower-casing, which would erase the capitals."""

    def __call__(self, tokens):
        for t in tokens:
            if is_code(t.text) or is_identifier(t.text):
                yield t


def exact_analyzer():
    """Codes and words exactly as written (lower case only), for IDs, error codes and versions."""
    return RegexTokenizer(CODE_PATTERN) | LowercaseFilter() | YoFilter()


def words_analyzer():
    """Words as written, lower case: completion of the word being typed."""
    return RegexTokenizer(WORD_PATTERN) | LowercaseFilter() | YoFilter()


def spell_analyzer():
    """Words for the "did you mean" dictionary: letters only, lower case, no morphology."""
    return RegexTokenizer(SPELL_PATTERN) | LowercaseFilter() | YoFilter()


_CODE_RE = re.compile(CODE_PATTERN)
_HAS_DIGIT_OR_UNDERSCORE = re.compile(r"[\d_]")


def is_code(token: str) -> bool:
    """A token searched as written: it holds a digit or an underscore (PRM-2026-00042, 0x80070005, 5.2.1)."""
    return bool(_HAS_DIGIT_OR_UNDERSCORE.search(token))


# Error names and constants are written in Latin capitals (ECONNRESET, EACCES, SIGKILL, EINTR): typed so, they are
# codes and weigh like one. Four letters at least, so that "SQL" or "API" typed in capitals stay plain words.
_IDENTIFIER = re.compile(r"[A-Z]{4,}")


def is_identifier(token: str) -> bool:
    """A name written in Latin capitals, as typed (before lower-casing): ECONNRESET, SIGKILL, HTTP."""
    return bool(_IDENTIFIER.fullmatch(token))


def code_tokens(text: str) -> list[str]:
    return [m.group(0).lower().replace("ё", "е") for m in _CODE_RE.finditer(text)]


def analyse(text: str, mode: str = DEFAULT_MODE) -> list[str]:
    """Indexed forms of a text's prose words (stop words included, as in the index; families left out)."""
    return [t.text for t in text_analyzer(mode)(text) if not t.text.startswith(FAMILY_MARK)]
