"""In real Chromium, on the demo data, as each demo user, in Russian and in English: no page shows a translation key,
a snake_case code or a Python literal (None, True/False, a list in brackets) — in the text a person reads
(``document.body.innerText``), leaving out what people typed (ticket texts, comments, articles: .prose, pre, code)
and the values a person must compare as they are (a SHA-256)."""

from __future__ import annotations

import re

import pytest

from portal import i18n
from tests.e2e.test_accessibility import ROLES, reader_pages
from tests.e2e.test_layout import _sign_in, demo  # noqa: F401 — the demo fixture

# The text a person reads, without what people typed or values shown as they are.
VISIBLE_TEXT_JS = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('.prose, pre, code, .sha256, input, textarea, select, script, [data-testid=file-sha256]')
      .forEach(e => e.remove());
  document.body.appendChild(copy); copy.hidden = false;
  const text = copy.innerText; copy.remove();
  return text;
}"""

KEY_PREFIXES = sorted({key.split(".")[0] for key in i18n.catalogue("ru")})
# A catalogue key shown as it is: «event.fix_published», «audit.action.auth.login».
KEY_RE = re.compile(r"(?<![\w@./-])(?:" + "|".join(map(re.escape, KEY_PREFIXES))
                    + r")\.[a-z0-9_]+(?:\.[a-z0-9_]+)*(?![\w@/-])")
SNAKE_RE = re.compile(r"(?<![\w@./-])[a-z][a-z0-9]*_[a-z0-9_]+(?![\w@/-])")
LITERAL_RE = re.compile(r"\b(?:None|True|False)\b|\[\s*['\"\d]|['\"]\s*\]")


def offending(text: str) -> list[str]:
    found = [m.group(0) for regex in (KEY_RE, SNAKE_RE, LITERAL_RE) for m in regex.finditer(text)]
    return sorted(set(found))


def test_the_patterns_find_what_they_should():
    assert offending("portal init event.fix_published") == ["event.fix_published"]
    assert offending("Статус: in_analysis") == ["in_analysis"]
    assert set(offending("from: None public: True ['romashka']")) == {"None", "True", "['", "']"}
    assert offending("успешно: отправлено 3; ivanova@romashka.example; primoart-5.2.1-hf1.tar.gz") == []


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("username", ROLES)
def test_no_page_shows_a_key_a_code_or_a_python_literal(demo, browser, live_server, username, lang):  # noqa: F811
    context = browser.new_context(base_url=live_server.url, locale="ru-RU", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    _sign_in(page, username)
    context.add_cookies([{"name": "lang", "value": lang, "url": live_server.url}])
    pages = reader_pages(page) + ["/tickets/PRM-1999-99999"]  # an error page too
    problems = {}
    for url in pages:
        page.goto(url)
        text = page.evaluate(VISIBLE_TEXT_JS)
        assert text.strip(), url
        if found := offending(text):
            problems[url] = found
    context.close()
    assert problems == {}, f"{username} ({lang}): {problems}"
