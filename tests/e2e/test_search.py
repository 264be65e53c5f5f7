"""A customer searches the knowledge base in real Chromium: suggestions while typing, highlighted hits, filters."""

from __future__ import annotations

from tests.factories import PASSWORD
from tests.search.conftest import publish_corpus


def test_customer_searches_with_suggestions_and_filters(page, make, content_repo):
    publish_corpus(content_repo)
    make.user("customer", make.org(), username="ivanova")
    page.goto("/search")
    page.get_by_label("Имя пользователя").fill("ivanova")
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/search")
    box = page.get_by_label("Поисковый запрос")
    box.press_sequentially("Установка аге", delay=20)
    suggestions = page.get_by_test_id("suggestions")
    suggestions.get_by_role("link").first.wait_for()
    assert "Установ" in suggestions.inner_text()
    box.fill("агент не запускается")
    box.press("Enter")
    page.wait_for_url("**/search?q=*")
    first = page.get_by_test_id("hits").locator("li").first
    assert first.locator("a").first.get_attribute("href") == "/kb/rum/agent-not-starting/"
    assert first.locator("mark").count() >= 1
    page.get_by_test_id("filter-module").select_option("rum")
    page.get_by_role("button", name="Показать").click()
    page.wait_for_url("**module=rum**")
    assert "квазиконсоль" not in page.content().lower()


def test_new_ticket_form_suggests_articles_before_filing(page, make, content_repo, db):
    from tests.tickets.helpers import catalogue

    publish_corpus(content_repo)
    catalogue(db)
    make.user("customer", make.org(), username="petrov")
    page.goto("/tickets/new")
    page.get_by_label("Имя пользователя").fill("petrov")
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/tickets/new")
    page.get_by_test_id("new-ticket").get_by_label("Краткое описание").press_sequentially("агент не запуск", delay=20)
    suggestions = page.get_by_test_id("suggestions")
    suggestions.get_by_role("link").first.wait_for()
    assert suggestions.get_by_role("link").first.get_attribute("href") == "/kb/rum/agent-not-starting/"
