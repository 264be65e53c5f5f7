"""In Chromium: second line's panel of similar solved tickets and «Использовать решение»; a customer typing a new
ticket is shown their own open ticket that looks the same, and goes to add a comment there."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.helpers import sign_in
from tests.similar.test_pages import NEW, SOLUTION, SOLVED, _people, _resolve, _settled, _take
from tests.tickets.helpers import catalogue, register


def _context(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def test_panel_prefills_the_resolution_and_the_form_warns_of_a_duplicate(browser, live_server, make, db, settings):
    catalogue(db)
    people = _people(make)
    solved = register(db, settings, people["anna"], **SOLVED)
    _resolve(db, settings, solved, people["sergey"])
    new = register(db, settings, people["petr"], **NEW)
    _take(db, settings, new, people["sergey"])
    own_open = register(db, settings, people["petr"], summary="Синтетическая проверка падает с ERR_CERT_DATE_INVALID",
                        description="Сценарий проверки сайта по HTTPS завершается ошибкой сертификата.")
    _settled(settings)

    context, page = _context(browser, live_server)
    try:
        sign_in(page, "sergey")
        page.goto(f"/tickets/{new}")
        panel = page.get_by_test_id("similar-tickets")
        expect(panel).to_be_visible()
        expect(panel.get_by_role("heading")).to_have_text("Похожие решённые заявки")
        first = panel.get_by_test_id("similar-ticket").first
        expect(first).to_have_attribute("data-ticket", solved)
        expect(first.get_by_test_id("similar-solution")).to_contain_text("connect-src")
        first.get_by_role("link", name="Использовать решение").click()
        page.wait_for_url(f"**/tickets/{new}/act/resolve?solution_from={solved}")
        expect(page.get_by_test_id("solution-from")).to_contain_text(solved)
        expect(page.locator("textarea[name=solution]")).to_have_value(SOLUTION)
    finally:
        context.close()

    context, page = _context(browser, live_server)
    try:
        sign_in(page, "petr")
        page.goto("/tickets/new")
        warning = page.get_by_test_id("duplicates")
        expect(warning).to_be_hidden()
        page.locator("input[name=summary]").fill("Проверка по HTTPS падает: ERR_CERT_DATE_INVALID")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("Похоже, такая заявка уже есть:")
        expect(warning.get_by_test_id("duplicate-id")).to_have_text([own_open])
        warning.get_by_role("link", name="Добавить комментарий туда").click()
        page.wait_for_url(f"**/tickets/{own_open}#reply")
        expect(page.get_by_test_id("reply-form")).to_be_visible()
    finally:
        context.close()
