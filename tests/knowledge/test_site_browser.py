"""In Chromium: the navigation of a /kb/ page comes from the edition's one navigation fragment — the reader's
page marked and its section open, other articles a click away, also in the drawer at 390 px — and after the
writer publishes, the article page tells her edition by edition when the article is live."""

from __future__ import annotations

import os
import threading

import pytest

from portal.knowledge import service, site
from tests.e2e.helpers import sign_in

SHOTS = os.environ.get("KB_SHOTS")  # a directory to look at the pages in, 1366 and 390 px wide


def _article(db, settings, writer, title: str, *, section="problems", visibility="customers", publish=True):
    with db.session_scope() as session:
        article = service.create_article(
            session=session, settings=settings, actor=writer, section=section,
            body=f"## Симптомы\n\n{title}: данные не приходят.\n",
            front_matter={"title": title, "kind": "problem", "visibility": visibility, "summary": "Кратко",
                          "module": "RUM-агент"})
    if publish:
        with db.session_scope() as session:
            service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)
    return article


@pytest.fixture
def writer(make):
    return make.user("writer", username="sokolova", full_name="Мария Соколова")


def test_navigation_comes_from_the_editions_fragment(page, make, db, settings, content_repo, live_server, writer):
    first = _article(db, settings, writer, "Агент RUM не отправляет данные")
    second = _article(db, settings, writer, "Сессии RUM обрываются")
    hidden = _article(db, settings, writer, "Внутренний разбор коллектора", visibility="internal")
    assert {r.status for r in site.build(settings=settings, db=db)} == {"built"}
    org = make.org("romashka", "ООО Ромашка")
    make.user("customer", org, username="ivanova", full_name="Анна Иванова")
    sign_in(page, "ivanova")
    page.goto(first.url)
    nav = page.locator(".md-sidebar--primary nav.md-nav--primary")
    active = nav.locator("a.md-nav__link--active")
    active.wait_for(state="attached")
    assert active.get_attribute("href").endswith(first.url)
    assert nav.locator(f'a[href$="{second.url}"]').count() == 1
    assert nav.locator(f'a[href*="{hidden.slug}"]').count() == 0  # the customers edition has no internal article
    section_toggle = nav.locator("li.md-nav__item--active > input.md-nav__toggle").first
    assert section_toggle.is_checked()
    assert nav.get_by_text("Работа со службой поддержки").count() >= 1  # other sections, closed
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/kb-nav-1366.png", full_page=True)
    nav.locator(f'a[href$="{second.url}"]').click()
    page.wait_for_url(f"**{second.url}")
    page.locator(".md-sidebar--primary a.md-nav__link--active").wait_for(state="attached")
    assert page.locator(".md-sidebar--primary a.md-nav__link--active").get_attribute("href").endswith(second.url)

    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    page.locator(".md-sidebar--primary a.md-nav__link--active").wait_for(state="attached")
    page.locator("label.md-header__button[for='__drawer']").click()
    drawer_link = page.locator(f'.md-sidebar--primary a[href$="{first.url}"]')
    drawer_link.wait_for(state="visible")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/kb-nav-drawer-390.png")
    drawer_link.click()
    page.wait_for_url(f"**{first.url}")


def test_after_publishing_the_writer_sees_each_edition_come_live(page, db, settings, content_repo, live_server,
                                                                 writer):
    assert {r.status for r in site.build(settings=settings, db=db)} == {"built"}
    draft = _article(db, settings, writer, "Задержка отчётов при смене часового пояса", visibility="public",
                     publish=False)
    sign_in(page, "sokolova")
    page.goto(f"/articles/{draft.slug}")
    page.get_by_role("button", name="Опубликовать").click()
    page.wait_for_url(f"**/articles/{draft.slug}")
    live = page.get_by_test_id("kb-live")
    summary = live.locator("[data-kb-live-summary]")
    page.locator('[data-kb-live][data-all-live="false"]').wait_for(state="attached")
    assert "готово 0 из 3" in summary.inner_text()
    assert live.locator('[data-kb-live-edition="customers"]').inner_text() == "для заказчиков: ждёт сборки"
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/kb-live-waiting-1366.png", full_page=True)

    builder = threading.Thread(target=site.build, kwargs={"settings": settings, "db": db})
    builder.start()
    builder.join()
    page.locator('[data-kb-live][data-all-live="true"]').wait_for(state="attached", timeout=30_000)
    assert summary.inner_text() == "Эта версия статьи видна во всех изданиях базы знаний."
    for edition, name in site.EDITION_NAMES.items():
        assert live.locator(f'[data-kb-live-edition="{edition}"]').inner_text() == \
            f"{name}: опубликована, видна читателям"
    page.reload()
    assert page.get_by_test_id("kb-builds").locator('[data-testid="kb-behind"]').all_inner_texts() == \
        ["актуально"] * 3
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/kb-live-done-{width}.png", full_page=True)
