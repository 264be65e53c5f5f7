"""In Chromium, as a signed-in customer under /kb/: the customers edition built from hostile articles runs none
of their markup (no dialog, window.__xss never set, no CSP violation), shows titles as typed, and the site still
works under its CSP without 'unsafe-inline' (navigation, search, the colour-scheme toggle)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.content import Author
from portal.knowledge import site
from tests.e2e.helpers import sign_in
from tests.knowledge.helpers import ticket_resolver
from tests.knowledge.hostile_site import publish_hostile

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  e => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""
# A colour-scheme toggle in the repository's mkdocs.yml, so Material's palette script (a file now) runs.
PALETTE = """
theme:
  name: material
  language: ru
  font: false
  features: [navigation.indexes, navigation.prune, search.suggest, content.code.copy]
  palette:
    - scheme: default
      toggle: {icon: material/brightness-7, name: Тёмная тема}
    - scheme: slate
      toggle: {icon: material/brightness-4, name: Светлая тема}
"""


@pytest.fixture
def resolved_ticket(db, settings, make, content_repo):
    return ticket_resolver(db, settings, make)


def test_customer_reads_hostile_articles_and_nothing_runs(page, make, db, settings, content_repo, resolved_ticket):
    customer = make.user("customer", make.org("romashka", "ООО Ромашка"), username="ivanova")
    writer = make.user("writer", username="sokolova", full_name="Мария Соколова", email="sokolova@primoart.example")
    published = publish_hostile(db=db, settings=settings, content_repo=content_repo, writer=writer,
                                customer=customer, resolved_ticket=resolved_ticket)
    config = (content_repo.path / "mkdocs.yml").read_text(encoding="utf-8")
    config = re.sub(r"(?ms)^theme:\n(?:  .*\n)+", PALETTE.lstrip("\n"), config)
    with content_repo.write_lock():
        content_repo.commit_files(files={"mkdocs.yml": config}, message="Тёмная тема",
                                  author=Author("Мария Соколова", "sokolova@primoart.example"))
    results = site.build(settings=settings, db=db, editions=["customers"])
    assert [r.status for r in results] == ["built"], [r.error for r in results]

    dialogs, errors = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # Hostile <img src="x…"> left as harmless relative images answer 404; any other error counts.
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(WATCH)
    sign_in(page, "ivanova")

    first = f"/kb/{site.page_url(published.first)}"
    visited = [first, f"/kb/{published.hostile_section}/", "/kb/tags/", f"/kb/{site.page_url(published.from_ticket)}"]
    for url in visited:
        response = page.goto(url)
        assert response.status == 200, url
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert all(d in policy for d in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"))
        page.mouse.move(200, 300)  # onmouseover vectors, if any survived
        page.wait_for_timeout(300)  # autofocus/onerror/onload vectors fire on load; give them a moment
        assert page.evaluate("typeof window.__xss") == "undefined", url
        assert page.evaluate("window.__violations") == [], url
    assert dialogs == []
    assert errors == []

    # Titles show as typed: in the heading, the window title and the tags page.
    page.goto(first)
    typed = published.titles[0]
    assert page.locator("article h1").inner_text().replace("¶", "").strip() == typed
    assert page.title().startswith(typed)
    page.goto("/kb/tags/")
    assert page.get_by_role("link", name=published.titles[1], exact=True).count() >= 1

    # The site works under its CSP: navigation, search (a worker and a fetch), the colour-scheme toggle.
    page.goto(first)
    link = page.locator(".md-nav--primary a[href$='hostile-001/']").first  # the edition's navigation fragment
    link.wait_for(state="attached")
    if not link.is_visible():  # in another module's group of the section: the reader opens the group first
        group = page.locator(".md-nav--primary li.md-nav__item--nested",
                             has=page.locator("a[href$='hostile-001/']")).last
        group.locator(":scope > label.md-nav__link, :scope > .md-nav__container > label").first.click()
    link.click()
    page.wait_for_url("**/hostile/hostile-001/")
    assert page.locator("article h1").inner_text().replace("¶", "").strip() == published.titles[1]
    page.locator("input.md-search__input").click()
    # Locator waits, not wait_for_function: the site's CSP (script-src 'self') refuses the eval a function's
    # polling needs (and would record it in __violations) whenever the condition is false at the first look.
    expect(page.locator("#__search")).to_be_checked()  # the search box opened
    box, meta = page.locator("input.md-search__input"), page.locator(".md-search-result__meta")

    def search(query: str) -> str:
        # Material reads the box once its worker has indexed the site (seconds for hundreds of pages on a
        # busy machine): type again until an answer for this query is shown.
        for _ in range(30):
            box.fill("")
            box.press_sequentially(query)
            page.wait_for_timeout(1000)
            if "Начните печатать" not in meta.inner_text():
                return meta.inner_text()
        raise AssertionError(f"search did not answer {query!r}")

    assert "Найдено" in search("sha256")  # the article on checking a package's signature
    assert page.locator(".md-search-result__item").count() >= 1
    assert "не найдено" in search("zzqx4711")
    assert page.locator(".md-search-result__item").count() == 0
    page.keyboard.press("Escape")
    scheme = page.evaluate("document.body.dataset.mdColorScheme")
    page.locator("form[data-md-component=palette] label:visible").first.click()
    expect(page.locator("body")).not_to_have_attribute("data-md-color-scheme", scheme)
    page.reload()  # remembered through __md_get/__md_set of the theme layer's base.js and palette.js
    assert page.evaluate("document.body.dataset.mdColorScheme") != scheme
    assert page.evaluate("window.__violations") == []
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == [] and errors == []
