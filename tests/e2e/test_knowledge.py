"""In Chromium: a writer turns a resolved ticket into an article, edits it with the live preview, publishes
it, and the customer reads it under /kb/ (the customers edition), where an internal article is absent."""

from __future__ import annotations

import pytest

from portal.knowledge import site
from tests.e2e.helpers import sign_in
from tests.knowledge.helpers import ticket_resolver


@pytest.fixture
def resolved_ticket(db, settings, make, content_repo):
    return ticket_resolver(db, settings, make)


def test_writer_publishes_an_article_from_a_ticket_and_the_customer_reads_it(page, make, db, settings,
                                                                           resolved_ticket):
    org = make.org("romashka", "ООО Ромашка")
    customer = make.user("customer", org, username="ivanova", full_name="Анна Иванова")
    ticket_id = resolved_ticket(customer)
    make.user("writer", username="sokolova", full_name="Мария Соколова", email="sokolova@primoart.example")

    sign_in(page, "sokolova")
    page.goto(f"/tickets/{ticket_id}")
    section = page.get_by_test_id("ticket-articles")
    section.get_by_label("Тип").select_option("problem")
    section.get_by_role("button", name="Написать статью по заявке").click()
    page.wait_for_url("**/edit")
    body = page.locator("#kb-body")
    assert "## Симптомы" in body.input_value()
    preview = page.get_by_test_id("preview")
    preview.locator("h2", has_text="Симптомы").wait_for()
    assert preview.locator(".admonition.success").count() == 1  # the site's admonition extension

    page.get_by_label("Заголовок").fill("Агент RUM 5.2 не отправляет данные после обновления браузера")
    page.get_by_label("Теги").fill("rum, агент")
    body.fill(body.input_value() + "\n## Проверка\n\nОткройте отчёт «Сессии»: данные появились.\n")
    preview.locator("h2", has_text="Проверка").wait_for()
    page.get_by_role("button", name="Сохранить").click()
    page.wait_for_url("**?saved=*")
    assert "черновик" in page.get_by_test_id("article-status").inner_text()
    page.get_by_role("button", name="Опубликовать").click()
    page.get_by_test_id("article-status").filter(has_text="опубликована").wait_for()
    link = page.get_by_role("link", name="/kb/problems/")
    url = link.get_attribute("href")

    results = site.build(settings=settings, db=db)  # what the background job does after publishing
    assert {r.status for r in results} == {"built"}
    page.goto("/articles")
    assert page.get_by_test_id("kb-builds").locator("tr[data-edition=customers]").inner_text().count("собран") == 1
    page.get_by_role("button", name="Выйти").click()

    sign_in(page, "ivanova")
    page.goto(url)
    assert "Агент RUM 5.2 не отправляет данные после обновления браузера" in page.locator("h1").inner_text()
    assert "Откройте отчёт «Сессии»" in page.locator("article").inner_text()
    assert ticket_id in page.content()
    page.goto("/kb/")
    # The navigation arrives after the page (nav.js replaces its placeholder with the edition's fragment).
    # A locator's wait, not wait_for_function: the site's CSP (script-src 'self') refuses the eval a function's
    # polling needs, which fails whenever the placeholder is still there at the first look.
    page.locator("nav[data-portal-nav]").first.wait_for(state="detached")
    assert "Работа со службой поддержки" in page.content()
    assert "Памятка второй линии" not in page.content()
    response = page.goto("/kb/second-line/triage-checklist/")
    assert response.status == 404
