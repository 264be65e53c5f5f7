"""The one translation function. Russian first, English second.

Catalogues are YAML files ``portal/locales/<lang>/<domain>.yml`` mapping keys
to text; every domain keeps its own file. ``tests/test_i18n.py`` checks that
both languages have the same keys and that every key used in templates exists.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

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
