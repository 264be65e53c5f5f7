"""In real Chromium, on the demo data, as each demo user: axe-core (shipped inside axe-playwright-python, so it
runs offline) finds no serious or critical accessibility violation on any portal page the reader can open — the
pages of their menu, a ticket, a package, their account pages, the sign-in page and an error page — at 1366 px
and at 390 px; and a form's error moves the focus to the first field in error and is announced."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.test_layout import _first_link, _sign_in, demo  # noqa: F401 — the demo fixture

ROLES = ["ivanova", "support", "developer", "qa", "writer", "admin"]
WIDTHS = (1366, 390)
SERIOUS = ("serious", "critical")


def reader_pages(page) -> list[str]:
    """Every portal page the signed-in reader can open from the menu, plus a ticket, a package and the account's
    own pages (the knowledge-base site under /kb/ is MkDocs' own and has its own tests)."""
    menu = page.eval_on_selector_all(".mainnav a", "els => els.map(e => e.getAttribute('href'))")
    extra = ["/account/tokens", "/account/notifications"]
    details = _first_link(page, "/tickets", "/tickets/PRM-") + _first_link(page, "/packages", "/packages/")
    return list(dict.fromkeys([url for url in menu if not url.startswith("/kb/")] + extra + details))


def _violations(axe: Axe, page) -> list[str]:
    found = axe.run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] if isinstance(n["target"][0], str)
                                                                      else str(n["target"]) for n in v["nodes"][:3])
            for v in found if v.get("impact") in SERIOUS]


@pytest.mark.parametrize("username", ROLES)
def test_no_serious_violation_on_any_page_of_each_role(demo, browser, live_server, username):  # noqa: F811
    context = browser.new_context(base_url=live_server.url, locale="ru-RU", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    axe = Axe()
    _sign_in(page, username)
    pages = reader_pages(page)
    assert any(p.startswith("/tickets/PRM-") for p in pages)
    problems: dict[str, list[str]] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for url in pages:
            response = page.goto(url)
            assert response is not None and response.status == 200, (url, response and response.status)
            if found := _violations(axe, page):
                problems[f"{url} @ {width}px"] = found
    context.close()
    assert problems == {}, f"{username}: " + "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_sign_in_and_error_pages_have_no_serious_violation(demo, browser, live_server):  # noqa: F811
    context = browser.new_context(base_url=live_server.url, locale="ru-RU", viewport={"width": 390, "height": 900})
    page = context.new_page()
    axe = Axe()
    page.goto("/login")
    assert _violations(axe, page) == []
    page.get_by_label("Имя пользователя").fill("ivanova")
    page.get_by_label("Пароль").fill("wrong-password")
    page.get_by_role("button", name="Войти").click()
    assert _violations(axe, page) == []
    _sign_in(page, "ivanova")
    response = page.goto("/tickets/PRM-1999-99999")
    assert response is not None and response.status == 404
    assert _violations(axe, page) == []
    context.close()


def test_a_form_error_is_tied_to_its_field_focused_and_announced(demo, browser, live_server):  # noqa: F811
    context = browser.new_context(base_url=live_server.url, locale="ru-RU", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _sign_in(page, "admin")
    page.goto("/admin/audit?since=2026-02-31")
    error = page.locator("main .field-error").first
    assert error.get_attribute("role") == "alert" and error.inner_text().strip()
    focused = page.evaluate("""() => ({name: document.activeElement.name,
                                      invalid: document.activeElement.getAttribute('aria-invalid'),
                                      described: document.activeElement.getAttribute('aria-describedby')})""")
    assert focused["name"] == "since" and focused["invalid"] == "true"
    assert focused["described"] == error.get_attribute("id")
    assert _violations(Axe(), page) == []
    context.close()
