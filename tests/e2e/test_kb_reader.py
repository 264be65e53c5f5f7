"""In Chromium, on /kb/ served by the portal (real server, real MkDocs build, real search index): the site's search
box is the portal's search (a word form and a typo find the article, the hit opens, the search is remembered
for the writer); «Помогла ли статья?» is recorded once per reader and version, in the audit log and on the
writer's page; «Исправлено в пакете …» shows only to an entitled organisation's reader; the 404 page is in
Russian with the portal's header; the menu does not scroll sideways at 390 px; and an exported copy served by a
plain static web server finds «приоритеты» with Material's own search."""

from __future__ import annotations

import functools
import http.server
import os
import threading
import time
from urllib.parse import quote

import pytest

from portal import audit
from portal.accounts.models import User
from portal.knowledge import export, service, site
from portal.knowledge.feedback_models import ArticleSearch, ArticleVote
from portal.search.models import SearchLogEntry
from tests.e2e.helpers import sign_in
from tests.releases.conftest import create as create_package
from tests.releases.conftest import make_world

SHOTS = os.environ.get("KB_SHOTS")  # a directory to look at the pages in, 1366 and 390 px wide
TITLE = "Агент RUM теряет сессии после обновления браузера"


@pytest.fixture
def world(db, settings, make, content_repo):
    return make_world(db, settings, make)


@pytest.fixture
def article(db, settings, make, world):
    writer = make.user("writer", username="sokolova", full_name="Мария Соколова")
    with db.session_scope() as session:
        created = service.create_article(
            session=session, settings=settings, actor=writer, section=None,
            body="## Симптомы\n\nПосле обновления браузера агент RUM перестаёт передавать сессии.\n",
            front_matter={"title": TITLE, "kind": "problem", "visibility": "customers",
                          "summary": "Что делать, если сессии RUM пропали", "tickets": [world.t_romashka]})
    with db.session_scope() as session:
        service.publish_article(session=session, settings=settings, actor=writer, slug=created.slug)
    package_id = create_package(db, settings, world.support, package_id="primoart-7.1.0-hf9",
                                tickets=[world.t_romashka], publish=True)
    assert {r.status for r in site.build(settings=settings, db=db, force=True)} == {"built"}
    published = service.get_article(settings=settings, slug=created.slug)
    assert package_id in published.meta.fixed_in
    return published


def _type(page, text):
    box = page.locator(".md-search__input")
    box.click()
    box.fill("")
    box.press_sequentially(text, delay=20)


def _search(page, text):
    _type(page, text)
    page.locator(".md-search-result__item").first.wait_for()
    return page.locator(".md-search-result__link", has_text=TITLE)


def _logged_queries(db, until, attempts: int = 50) -> set[str]:
    """The search log's queries, once ``until`` holds for them (the log is written in the background)."""
    queries: set[str] = set()
    for _ in range(attempts):
        with db.session_scope(write=False) as session:
            queries = {entry.query for entry in session.query(SearchLogEntry)}
        if until(queries):
            break
        time.sleep(0.1)
    return queries


def test_the_kb_search_box_is_the_portals_search(page, db, world, article):
    sign_in(page, "ivanova")
    page.goto("/kb/")
    hit = _search(page, "сессиями")  # another form of «сессии»
    assert hit.count() == 1
    assert hit.locator("mark").count() >= 1  # matched words highlighted as Material's search does
    assert page.locator(".md-search-result__meta").inner_text().startswith("Найдено")
    typo = _search(page, "обнавления браузра")  # two typos
    assert typo.count() == 1
    assert "показаны результаты по запросу" in page.locator(".md-search-result__meta").inner_text()
    _type(page, "квазиконсольтроникс")
    page.get_by_text("Совпадений не найдено").wait_for()
    assert page.locator(".md-search-result__item").count() == 0

    hit = _search(page, "обнавления браузра")
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/kb-search-{width}.png")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.keyboard.press("ArrowDown")  # Material's keyboard: down into the results, Enter opens
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{article.url}")
    assert page.locator("h1").first.inner_text().startswith(TITLE)
    with db.session_scope(write=False) as session:  # the writer learns which search led here
        assert [(s.slug, s.query) for s in session.query(ArticleSearch)] == [(article.slug, "обнавления браузра")]
    # The search log has what the reader settled on or opened, never the prefixes typed on the way.
    logged = _logged_queries(db, until=lambda queries: "обнавления браузра" in queries)
    assert "обнавления браузра" in logged
    assert logged <= {"сессиями", "обнавления браузра", "квазиконсольтроникс"}, logged


def test_a_hit_opened_from_the_portals_search_page_is_remembered_once(page, db, world, article):
    sign_in(page, "ivanova")
    page.goto("/search?q=" + quote("сессиями браузера"))
    page.get_by_test_id("hits").locator(f"a[href='{article.url}']").first.click()
    page.wait_for_url(f"**{article.url}")
    page.get_by_test_id("kb-feedback").wait_for()  # article.js has heard from the portal
    page.reload()  # not a new arrival
    page.get_by_test_id("kb-feedback").wait_for()
    searches = []
    for _ in range(50):
        with db.session_scope(write=False) as session:
            searches = [(s.slug, s.query) for s in session.query(ArticleSearch)]
        if searches:
            break
        time.sleep(0.1)
    assert searches == [(article.slug, "сессиями браузера")]


def test_a_reader_votes_once_and_the_writer_reads_it(page, browser, live_server, db, world, article):
    sign_in(page, "ivanova")
    page.goto(article.url)
    box = page.get_by_test_id("kb-feedback")
    box.wait_for()
    assert "Помогла ли статья?" in box.inner_text()
    box.get_by_role("button", name="Нет").click()
    box.get_by_text("Напишите, чего не хватило").wait_for()
    box.get_by_label("Комментарий (необязательно)").fill("Не сказано, какую версию агента ставить")
    box.get_by_role("button", name="Отправить комментарий").click()
    box.get_by_text("Ответ и комментарий сохранены").wait_for()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert box.get_by_role("button", name="Да").is_visible()
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/kb-vote-{width}.png", full_page=True)
    page.reload()
    box.get_by_text("Вы уже ответили: нет").wait_for()
    assert box.get_by_role("button", name="Нет").get_attribute("aria-pressed") == "true"
    box.get_by_role("button", name="Нет").click()  # the same answer again: still one vote
    box.get_by_text("Ответ и комментарий сохранены").wait_for()
    forged = page.request.put(f"/api/v1/kb/articles/{article.slug}/vote", data={"helpful": True})
    assert forged.status == 403  # her session cookie without the CSRF token changes nothing
    with db.session_scope(write=False) as session:
        votes = session.query(ArticleVote).all()
        assert [(v.slug, v.helpful, v.comment) for v in votes] == [
            (article.slug, False, "Не сказано, какую версию агента ставить")]
        assert len(audit.query(session, action="article.vote", object_id=article.slug)) == 3

    context = browser.new_context(base_url=live_server.url, locale="ru-RU")
    writer = context.new_page()
    try:
        sign_in(writer, "sokolova")
        unhelpful = writer.get_by_test_id("writer-unhelpful")
        assert TITLE in unhelpful.inner_text() and "«Нет» — 1" in unhelpful.inner_text()
        unhelpful.get_by_role("link", name="Прочитать отзывы").click()
        writer.wait_for_url(f"**/articles/{article.slug}/feedback")
        assert "Не сказано, какую версию агента ставить" in writer.get_by_test_id("feedback-comment").inner_text()
        assert writer.get_by_test_id("feedback-votes").locator("tbody tr").count() == 1
        if SHOTS:
            for width in (1366, 390):
                writer.set_viewport_size({"width": width, "height": 900})
                writer.screenshot(path=f"{SHOTS}/kb-feedback-{width}.png", full_page=True)
    finally:
        context.close()


def test_fixed_in_shows_only_to_an_entitled_organisations_reader(page, browser, live_server, world, article):
    sign_in(page, "ivanova")  # her organisation's ticket is fixed by the package
    page.goto(article.url)
    fixed = page.locator("[data-portal-fixed]")
    fixed.wait_for()
    assert fixed.inner_text().startswith("Исправлено в пакете primoart-7.1.0-hf9")
    fixed.get_by_role("link").click()
    page.wait_for_url("**/packages/primoart-7.1.0-hf9")

    context = browser.new_context(base_url=live_server.url, locale="ru-RU")
    other = context.new_page()
    try:
        sign_in(other, "petrov")  # another organisation: not entitled
        other.goto(article.url)
        other.get_by_test_id("kb-feedback").wait_for()  # article.js has had the portal's answer
        assert other.locator("[data-portal-fixed]").is_hidden()
        assert "primoart-7.1.0-hf9" not in other.content()
    finally:
        context.close()


def test_the_404_page_is_russian_with_the_portal_header_and_the_menu_wraps(page, world, article):
    sign_in(page, "ivanova")
    response = page.goto("/kb/no-such-section/no-such-page/")
    assert response is not None and response.status == 404
    assert page.locator("h1").first.inner_text() == "Страница не найдена"
    page.get_by_test_id("portal-whoami").wait_for()
    page.get_by_role("link", name="На главную базы знаний").click()
    page.wait_for_url("**/kb/")
    page.goto(article.url)
    page.get_by_test_id("portal-menu").wait_for()
    page.set_viewport_size({"width": 390, "height": 844})
    menu = page.get_by_test_id("portal-menu")
    for link in menu.locator("a").all():  # every item on screen: the menu wraps, nothing scrolls sideways
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/kb-menu-390.png")


def test_an_exported_edition_searches_russian_on_its_own(page, settings, tmp_path, world, article):
    target = tmp_path / "exported"
    done = export.export_edition(settings=settings, edition="customers", target=target)
    assert done.pages > 1 and (target / "search" / "search_index.json").exists()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(target))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        box = page.locator(".md-search__input")
        box.click()
        box.press_sequentially("приоритеты", delay=30)
        page.locator(".md-search-result__item").first.wait_for()
        titles = page.locator(".md-search-result__item h1").all_inner_texts()
        assert any("Приоритеты заявок" in t for t in titles)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/kb-export-search-1366.png")
    finally:
        server.shutdown()
        server.server_close()



def test_an_anonymous_reader_of_the_public_edition_searches_it(page, app, db, settings, make, world, article):
    """PORTAL_PUBLIC_KB=true: the search box of the public edition answers a visitor who is not signed in with
    public articles — not «Войдите, чтобы искать» — and never with a customers' article."""
    writer = make.user("writer", username="petrova")
    with db.session_scope() as session:
        public = service.create_article(
            session=session, settings=settings, actor=writer, section=None,
            body="## Шаги\n\nСкачайте агент RUM и перезапустите браузер.\n",
            front_matter={"title": "Переустановка агента RUM", "kind": "howto", "visibility": "public",
                          "summary": "Как переустановить агент RUM"})
    with db.session_scope() as session:
        service.publish_article(session=session, settings=settings, actor=writer, slug=public.slug)
    assert {r.status for r in site.build(settings=settings, db=db, force=True)} == {"built"}
    app.state.settings = settings.model_copy(update={"public_kb": True})

    page.goto("/kb/")
    _type(page, "агент RUM")
    page.locator(".md-search-result__item").first.wait_for()
    titles = page.locator(".md-search-result__link h1").all_inner_texts()
    assert "Переустановка агента RUM" in titles and TITLE not in titles  # TITLE is for customers only
    assert "Войдите" not in page.locator(".md-search-result__meta").inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/kb-public-search-1366.png")
    page.locator(".md-search-result__link", has_text="Переустановка агента RUM").click()
    page.wait_for_url(f"**{service.get_article(settings=settings, slug=public.slug).url}")


def test_an_english_reader_reads_the_sites_own_words_in_english(page, db, world, article):
    """The built pages carry Russian; for a reader whose account language is English the portal's header answer
    brings the English words: search box, «Fixed in package …», the vote widget, «Didn't help?»."""
    with db.session_scope() as session:
        session.get(User, world.ivanova.id).language = "en"
    sign_in(page, "ivanova")
    page.goto(article.url)
    fixed = page.locator("[data-portal-fixed]")
    fixed.wait_for()
    assert fixed.inner_text().startswith("Fixed in package primoart-7.1.0-hf9")
    feedback = page.get_by_test_id("kb-feedback")
    feedback.wait_for()
    assert feedback.get_by_text("Was this article helpful?").is_visible()
    feedback.get_by_role("button", name="No", exact=True).click()
    page.get_by_text("Thank you! Tell us what was missing and the article will be improved.").wait_for()
    assert feedback.get_by_role("button", name="Send comment").is_visible()
    assert page.get_by_role("link", name="File a request").is_visible()
    assert page.locator("html").get_attribute("lang") == "en"

    box = page.locator(".md-search__input")
    assert box.get_attribute("placeholder") == "Search"
    _type(page, "квазиконсольтроникс")
    page.get_by_text("No matches found").wait_for()
    _type(page, "сессиями")
    page.locator(".md-search-result__item").first.wait_for()
    assert page.locator(".md-search-result__meta").inner_text().endswith("found")
    if SHOTS:
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=f"{SHOTS}/kb-english-{width}.png")
    for russian in ("Помогла ли статья", "Исправлено в пакете", "Совпадений", "Найдено", "Создать заявку"):
        assert russian not in page.locator("body").inner_text(), russian

    response = page.goto("/kb/no-such-section/no-such-page/")
    assert response is not None and response.status == 404
    page.get_by_role("heading", name="Page not found").wait_for()
    page.get_by_role("link", name="To the knowledge base's home page").wait_for()
