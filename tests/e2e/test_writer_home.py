"""In Chromium: the writer's home page lists what awaits her — a resolved ticket without an article, with the
one action that follows — and the ticket leaves the list once the article citing it is published."""

from __future__ import annotations

import os

import pytest

from portal.search import service as search
from tests.e2e.helpers import sign_in
from tests.knowledge.helpers import ticket_resolver

SHOTS = os.environ.get("KB_SHOTS")  # a directory to look at the page in, 1366 and 390 px wide


@pytest.fixture
def resolved_ticket(db, settings, make, content_repo):
    return ticket_resolver(db, settings, make)


def test_writer_home_lists_a_resolved_ticket_until_its_article_is_published(page, make, db, resolved_ticket):
    org = make.org("romashka", "ООО Ромашка")
    customer = make.user("customer", org, username="ivanova", full_name="Анна Иванова")
    ticket_id = resolved_ticket(customer)
    make.user("writer", username="sokolova", full_name="Мария Соколова", email="sokolova@primoart.example")
    with db.session_scope() as session:
        for _ in range(3):
            search.log_query(session=session, q="экспорт в тройку", hits=0, user=customer)

    sign_in(page, "sokolova")
    home = page.get_by_test_id("writer-home")
    row = home.locator(f"li[data-ticket='{ticket_id}']")
    assert "Написать статью" in row.inner_text()
    gaps = page.get_by_test_id("writer-gaps")
    assert "экспорт в тройку" in gaps.inner_text() and "запросов: 3" in gaps.inner_text()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert row.is_visible()
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/writer-home-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})

    row.get_by_role("button", name="Написать статью").click()
    page.wait_for_url("**/edit")
    slug = page.url.rstrip("/").split("/")[-2]
    page.goto("/")
    row = page.get_by_test_id("writer-waiting").locator(f"li[data-ticket='{ticket_id}']")
    assert row.get_by_role("link", name="Продолжить черновик").get_attribute("href") == f"/articles/{slug}/edit"
    assert page.get_by_test_id("writer-drafts").get_by_role("link", name="Продолжить").count() == 1

    page.goto(f"/articles/{slug}")
    page.get_by_role("button", name="Опубликовать").click()
    page.get_by_test_id("article-status").filter(has_text="опубликована").wait_for()
    page.goto("/")
    page.get_by_test_id("writer-home").wait_for()
    assert page.locator(f"li[data-ticket='{ticket_id}']").count() == 0
    assert "Ничего не ждёт статьи." in page.get_by_test_id("writer-waiting").inner_text()

    page.get_by_test_id("writer-gaps").get_by_role("link", name="Написать статью").click()
    page.wait_for_url("**/articles/new?title=*")
    assert page.get_by_label("Заголовок").input_value() == "экспорт в тройку"
