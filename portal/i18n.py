"""The one translation function. Russian first, English second.

Catalogues are YAML files ``portal/locales/<lang>/<domain>.yml`` mapping keys
to text; every domain keeps its own file. ``tests/test_i18n.py`` checks that
both languages have the same keys and that every key used in templates exists.

Python code that words something a person reads — an error, a flash message, a job's report — says it as a
``Message`` (``i18n.message("error.missing_named.ticket", ident=...)``): a key and its values, read in the language of
whoever reads it. The page or API answer in hand sets that language (``using``); until then, and wherever a
message is kept as plain text (logs, the database), it reads in Russian.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from markupsafe import escape

LOCALES = Path(__file__).parent / "locales"
LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((LOCALES / lang).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, text in data.items():
            if key in merged:
                raise ValueError(f"translation key {key!r} defined twice (second time in {path})")
            merged[key] = str(text)
    return merged


def translate(key: str, lang: str = DEFAULT_LANGUAGE, **values) -> str:
    """Text for ``key`` in ``lang``, falling back to Russian, then to the key itself."""
    text = catalogue(lang if lang in LANGUAGES else DEFAULT_LANGUAGE).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE).get(key, key)
    return text.format(**values) if values else text


_reader_language: contextvars.ContextVar[str] = contextvars.ContextVar("portal_reader_language",
                                                                     default=DEFAULT_LANGUAGE)


def current_language() -> str:
    """The language of whoever the text being rendered now is for (Russian outside a request)."""
    return _reader_language.get()


@contextlib.contextmanager
def using(lang: str) -> Iterator[None]:
    """Messages read in ``lang`` inside the block (a page being rendered, an error being answered)."""
    token = _reader_language.set(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _reader_language.reset(token)


def _resolved(value: Any, lang: str) -> Any:
    return value.in_language(lang) if isinstance(value, Message) else value


class Message(str):
    """Text for a person, kept as its key and values until it is read.

    It *is* a ``str`` — its Russian text — so code and tests that compare, log or store it see Russian as
    before; ``str()``, a template (``__html__``) and ``in_language`` read it in the reader's language. Values
    may be messages themselves (a field's name inside a field's error).
    """

    key: str
    values: dict[str, Any]

    def __new__(cls, key: str, /, **values: Any) -> "Message":
        text = super().__new__(cls, translate(key, DEFAULT_LANGUAGE,
                                              **{k: _resolved(v, DEFAULT_LANGUAGE) for k, v in values.items()}))
        text.key, text.values = key, values
        return text

    def in_language(self, lang: str) -> str:
        return translate(self.key, lang, **{k: _resolved(v, lang) for k, v in self.values.items()})

    def __str__(self) -> str:
        return self.in_language(current_language())

    def __html__(self) -> str:
        return str(escape(str(self)))

    def __reduce__(self):  # copies and pickles keep the key, not just the Russian text
        return (_rebuild, (type(self), self.key, self.values))


def _rebuild(cls, key, values):
    return cls(key, **values)


class Joined(Message):
    """Several pieces of text (messages or plain strings) read one after another, each in the reader's language."""

    parts: tuple[Any, ...]
    separator: str

    def __new__(cls, parts: Iterable[Any], separator: str = "") -> "Joined":
        parts = tuple(parts)
        text = str.__new__(cls, separator.join(_resolved(p, DEFAULT_LANGUAGE) for p in parts))
        text.key, text.values, text.parts, text.separator = "", {}, parts, separator
        return text

    def in_language(self, lang: str) -> str:
        return self.separator.join(str(_resolved(p, lang)) for p in self.parts)

    def __reduce__(self):
        return (Joined, (self.parts, self.separator))


def message(key: str, /, **values: Any) -> Message:
    """A text for a person: ``key`` in the catalogues, formatted with ``values`` in the reader's language."""
    return Message(key, **values)


def in_language(value: Any, lang: str) -> Any:
    """``value`` with every message in it read in ``lang`` (a JSON answer's body: dicts and lists walked)."""
    if isinstance(value, Message):
        return value.in_language(lang)
    if isinstance(value, dict):
        return {k: in_language(v, lang) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [in_language(v, lang) for v in value]
    return value


@functools.cache
def _pattern(key: str) -> re.Pattern[str]:
    """The Russian text of ``key`` as a pattern that gives back its values: «отправлено {sent}» → «отправлено (?P<sent>.+?)»."""
    parts = re.split(r"\{(\w+)\}", catalogue(DEFAULT_LANGUAGE)[key])
    return re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)),
                      re.S)


def reword(text: str | None, lang: str, prefixes: tuple[str, ...]) -> str:
    """Text stored in Russian (a job's report, kept in the database as the words it had) read in ``lang``: the
    message under one of ``prefixes`` whose Russian wording it is, with the same values; unchanged otherwise."""
    if not text or lang == DEFAULT_LANGUAGE or lang not in LANGUAGES:
        return text or ""
    for key in catalogue(DEFAULT_LANGUAGE):
        if key.startswith(prefixes) and (match := _pattern(key).fullmatch(text)):
            return translate(key, lang, **match.groupdict())
    return text


# How the portal's own actors were named where a name was stored as text (a ticket event's author).
_STORED_ACTOR_NAMES = {"portal init": "init", "приём почты": "intake"}
_STORED_ACTOR_PREFIXES = {"задание ": "job:", "оператор ": "cli:"}


def _stored_words_of_actor(name: str, lang: str) -> str | None:
    """A ticket event stores its author as the Russian words (ticket history): those words read in ``lang``."""
    russian = catalogue(DEFAULT_LANGUAGE)
    for key in ("people.init", "people.intake", "people.anonymous"):
        if russian.get(key) == name:
            return translate(key, lang)
    if "people.job" in russian and (match := _pattern("people.job").fullmatch(name)):
        job = next((k for k, text in russian.items() if k.startswith("job.") and text == match["job"]), None)
        return translate("people.job", lang, job=translate(job, lang) if job else match["job"])
    if "people.operator" in russian and (match := _pattern("people.operator").fullmatch(name)):
        return translate("people.operator", lang, name=match["name"])
    return None


def actor_words(name: str, lang: str = DEFAULT_LANGUAGE) -> str | None:
    """The portal's own actors in words — «Фоновое задание «Отправка писем»», «Администратор сервера (root)» —
    from their audit name (``init``, ``job:notify.outbox``, ``cli:root``, ``intake``) or the text an older
    ticket event stored; None for a person."""
    if lang != DEFAULT_LANGUAGE and (stored := _stored_words_of_actor(name, lang)) is not None:
        return stored
    name = _STORED_ACTOR_NAMES.get(name, name)
    for stored, prefix in _STORED_ACTOR_PREFIXES.items():
        if name.startswith(stored):
            name = prefix + name.removeprefix(stored)
    kind, _, rest = name.partition(":")
    if name in ("init", "intake", "anonymous") or (kind == "intake" and rest):
        return translate(f"people.{kind}", lang)
    if kind == "job" and rest:
        job_key = f"job.{rest}"
        return translate("people.job", lang, job=translate(job_key, lang) if job_key in catalogue(lang) else rest)
    if kind == "cli" and rest:
        return translate("people.operator", lang, name=rest)
    return None


def pick_language(cookie: str | None, accept_language: str | None, user_language: str | None = None) -> str:
    for candidate in (cookie, user_language):
        if candidate in LANGUAGES:
            return candidate
    if accept_language:
        for part in accept_language.split(","):
            code = part.split(";")[0].strip().lower()[:2]
            if code in LANGUAGES:
                return code
    return DEFAULT_LANGUAGE
