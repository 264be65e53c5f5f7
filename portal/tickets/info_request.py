"""The information request the portal writes itself when a request lacks the regulation's fields (e-mail intake):
its first line, then one «• Поле: что не так» line per field. Stored in Russian as the record of what was asked
(the API's ``question``, the e-mail reminders); read in each reader's language where a page shows it."""

from __future__ import annotations

from typing import Any

from portal import i18n

INFO_REQUEST = "tickets_words.info_request"
BULLET = "• "
_MESSAGE_PREFIXES = ("error.input.", "errors_tickets.", "error.")


def text(missing: list[Any]) -> str:
    """The stored request: Russian whoever's language is current (a command, a page)."""
    russian = i18n.DEFAULT_LANGUAGE
    return "\n".join([i18n.translate(INFO_REQUEST, russian),
                      *(BULLET + i18n.in_language(item, russian) for item in missing)])


def in_language(stored: str | None, lang: str) -> str:
    """An information request as stored, read in ``lang``: the portal's own request (and older rows worded the
    same) with its first line, each field's name and what is wrong with it from the catalogues; a question a
    person typed — or a line not recognised — as it is."""
    if not stored or lang == i18n.DEFAULT_LANGUAGE or lang not in i18n.LANGUAGES:
        return stored or ""
    first, *lines = stored.split("\n")
    if first != i18n.translate(INFO_REQUEST):
        return stored
    return "\n".join([i18n.translate(INFO_REQUEST, lang), *(_missing_line_in(line, lang) for line in lines)])


def _missing_line_in(line: str, lang: str) -> str:
    if not line.startswith(BULLET):
        return line
    item = line.removeprefix(BULLET)
    labels = sorted(((said, key) for key, said in i18n.catalogue(i18n.DEFAULT_LANGUAGE).items()
                     if key.startswith("field.") and item.startswith(said + ": ")), key=lambda pair: -len(pair[0]))
    if not labels:
        return line
    label, key = labels[0]
    said = item[len(label) + 2:]
    return f"{BULLET}{i18n.translate(key, lang)}: {i18n.reword(said, lang, _MESSAGE_PREFIXES)}"


class Asked(i18n.Message):
    """A stored request as text for a person — read in the language of whoever it is rendered for (an e-mail to
    each recipient, under ``i18n.using``); its ``str`` outside that is the stored text."""

    stored: str

    def __new__(cls, stored: str) -> "Asked":
        text = str.__new__(cls, stored)
        text.key, text.values, text.stored = "", {}, stored
        return text

    def in_language(self, lang: str) -> str:
        return in_language(self.stored, lang)

    def __reduce__(self):
        return (Asked, (self.stored,))
