"""In Chromium: the pages of /kb/ carry the portal's header for the reader — who is signed in, the menu of
their role, sign-out — and «Не помогло? Создать заявку» on an article opens the new-ticket form with the
article cited; the same edition served by a plain web server (hosted elsewhere) shows no portal header."""

from __future__ import annotations

import functools
import http.server
import os
import threading

import pytest

from portal.knowledge import service, site
from tests.e2e.helpers import sign_in

SHOTS = os.environ.get("KB_SHOTS")  # a directory to look at the pages in, 1366 and 390 px wide


@pytest.fixture
def published(db, settings, make, content_repo):
    writer = make.user("writer", username="sokolova", full_name="Мария Соколова")
    with db.session_scope() as session:
        article = service.create_article(
            session=session, settings=settings, actor=writer, section=None,
            body="## Симптомы\n\nДанные RUM не приходят после обновления браузера.\n",
            front_matter={"title": "Агент RUM не отправляет данные", "kind": "problem", "visibility": "customers",
                          "summary": "Что делать, если данные RUM пропали"})
    with db.session_scope() as session:
        service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)
    assert {r.status for r in site.build(settings=settings, db=db)} == {"built"}
    return article


def _csp_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    return errors


def test_customer_uses_the_portal_header_and_files_a_ticket_from_an_article(page, make, published):
    org = make.org("romashka", "ООО Ромашка")
    make.user("customer", org, username="ivanova", full_name="Анна Иванова", email="ivanova@romashka.example")
    csp = _csp_errors(page)
    sign_in(page, "ivanova")
    page.goto(published.url)
    who = page.get_by_test_id("portal-whoami")
    who.wait_for()
    assert who.inner_text() == "Анна Иванова · заказчик · ООО Ромашка"
    menu = page.get_by_test_id("portal-menu")
    labels = [a.inner_text() for a in menu.locator("a").all()]
    assert {"Главная", "Заявки", "Новая заявка", "База знаний", "Пакеты исправлений"} <= set(labels)
    assert not {"Очередь", "Статьи", "Пользователи", "Чего нет в базе знаний"} & set(labels)  # not a customer's
    assert menu.get_by_role("link", name="База знаний").get_attribute("aria-current") == "page"
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.locator("[data-portal-header]").is_visible()
        assert page.get_by_role("button", name="Выйти").is_visible()
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/kb-article-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})

    menu.get_by_role("link", name="Заявки").click()
    page.wait_for_url("**/tickets")
    page.go_back()
    page.get_by_role("link", name="Создать заявку").click()
    page.wait_for_url(f"**/tickets/new?article={published.slug}")
    cited = page.get_by_test_id("cited-article")
    assert published.title in cited.inner_text()
    assert cited.get_by_role("link").get_attribute("href") == published.url
    assert published.title in page.locator("textarea[name=description]").input_value()

    page.goto(published.url)
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/login")
    page.goto(published.url)
    page.wait_for_url(lambda url: "/login?next=" in url)
    assert csp == []


def test_a_staff_reader_who_files_no_tickets_sees_no_ticket_link(page, make, published):
    make.user("developer", username="kozlov", full_name="Олег Козлов")
    sign_in(page, "kozlov")
    page.goto(published.url)
    page.get_by_test_id("portal-whoami").wait_for()
    labels = [a.inner_text() for a in page.get_by_test_id("portal-menu").locator("a").all()]
    assert "Заявки" in labels and "Новая заявка" not in labels
    assert page.locator("[data-portal-ticket]").is_hidden()


def test_an_edition_hosted_elsewhere_has_no_portal_header(page, settings, published):
    root = site.edition_dir(settings, "customers").resolve()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        path = published.url.removeprefix("/kb")
        page.goto(f"http://127.0.0.1:{server.server_address[1]}{path}")
        assert published.title in page.locator("h1").inner_text()
        page.wait_for_load_state("networkidle")
        region = page.locator("[data-portal-header]")
        assert region.is_hidden() and region.inner_html() == ""
        assert page.locator("[data-portal-ticket]").is_hidden()
        page.locator(".md-header").wait_for()  # Material's own header is all there is
    finally:
        server.shutdown()
        server.server_close()
