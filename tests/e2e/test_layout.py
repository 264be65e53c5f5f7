"""In real Chromium, on the demo data, as each demo user: every page of the reader's menu and the main detail pages
(a ticket, a package, the queue, deliveries, the admin pages) fit a 1366 px laptop and a 390 px phone without
scrolling sideways — nothing sticks out of the page or is cut off by it, only a declared scroll box
(`.table-scroll`, a table in rendered prose) may scroll —, the menu is one row at 1366 px, and the second-line queue shows «Взять в работу»
and readable summaries."""

from __future__ import annotations

import pytest

from portal import bootstrap

ADMIN_PASSWORD = "admin-layout-password"
WIDTHS = (1366, 390)

# Elements of the page (outside a declared scroll box) whose right edge passes the window's: a table pushed out
# of <main>, a value clipped by its box.
OVERFLOW_JS = """() => {
  // A table in a person's rendered text scrolls inside its own box: the box must fit, its cells may not.
  const PROSE_TABLES = '.prose table, .kb-body table';
  const vw = window.innerWidth, out = [];
  for (const el of document.querySelectorAll('body > header *, main *')) {
    if (el.closest('.table-scroll, details:not([open]) > :not(summary)')) continue;
    if (el.parentElement && el.parentElement.closest(PROSE_TABLES)) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && r.right > vw + 1) out.push(`${el.tagName}.${el.className} → ${Math.round(r.right)}`);
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, out: out.slice(0, 5)};
}"""


@pytest.fixture
def demo(settings, content_repo):
    """The demo data of `portal init --demo` in this test's database and data home."""
    bootstrap.initialise(settings, demo=True, admin_password=ADMIN_PASSWORD)
    return settings


def _sign_in(page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Имя пользователя").fill(username)
    page.get_by_label("Пароль").fill(ADMIN_PASSWORD if username == "admin" else bootstrap.DEMO_PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/")


def _first_link(page, list_url: str, prefix: str) -> list[str]:
    page.goto(list_url)
    hrefs = page.eval_on_selector_all(f"main a[href^='{prefix}']", "els => els.map(e => e.getAttribute('href'))")
    hrefs = [h for h in hrefs if h.rstrip("/") != prefix.rstrip("/") and not h.endswith("/new")]
    return hrefs[:1]


@pytest.mark.parametrize("username", ["ivanova", "support", "developer", "qa", "writer", "admin"])
def test_every_page_fits_1366_and_390(demo, browser, live_server, username):
    context = browser.new_context(base_url=live_server.url, locale="ru-RU", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    _sign_in(page, username)

    # One menu row at 1366 px: every entry (link or drop-down) stands at the same height.
    tops = page.eval_on_selector_all(".mainnav > a, .mainnav > details",
                                     "els => [...new Set(els.map(e => Math.round(e.getBoundingClientRect().top)))]")
    assert len(tops) == 1, f"{username}'s menu wraps onto {len(tops)} rows at 1366 px"

    menu = page.eval_on_selector_all(".mainnav a", "els => els.map(e => e.getAttribute('href'))")
    # The knowledge-base site (/kb/) is built by MkDocs with its own theme and checked by its own tests.
    pages = list(dict.fromkeys([url for url in menu if not url.startswith("/kb/")] + ["/account/tokens"]
                               + _first_link(page, "/tickets", "/tickets/PRM-")
                               + _first_link(page, "/packages", "/packages/")))
    assert any(p.startswith("/tickets/PRM-") for p in pages) and any(p.startswith("/packages/primoart") for p in pages)

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for url in pages:
            response = page.goto(url)
            assert response is not None and response.status == 200, (url, response and response.status)
            result = page.evaluate(OVERFLOW_JS)
            assert result["scrollWidth"] <= result["innerWidth"], (username, width, url, result)
            assert not result["out"], (username, width, url, result["out"])
    context.close()


def test_second_line_queue_fits_with_take_visible(demo, browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="ru-RU", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _sign_in(page, "support")
    page.goto("/tickets/queue")
    buttons = page.get_by_role("button", name="Взять в работу")
    assert buttons.count() >= 3
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1366, box
        assert buttons.nth(i).inner_text() == "Взять в работу"
    # Summaries read as sentences, not one word per line: each cell is wide enough for several words.
    widths = page.eval_on_selector_all("td.summary", "els => els.map(e => e.getBoundingClientRect().width)")
    assert widths and min(widths) >= 220, widths

    # On a phone the rows become cards, each with its action reachable.
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    first = buttons.first
    first.scroll_into_view_if_needed()
    box = first.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390
    assert page.locator("td.summary").first.get_attribute("data-label") == "Краткое описание"
    context.close()


def test_a_wide_table_in_an_article_scrolls_in_its_own_box_at_390(demo, browser, live_server):
    """The writer's view of an article with a wide table (the demo's «Приоритеты и SLA») fits a phone: the table
    scrolls sideways inside its box, the page does not."""
    context = browser.new_context(base_url=live_server.url, locale="ru-RU", viewport={"width": 390, "height": 900})
    page = context.new_page()
    _sign_in(page, "writer")
    response = page.goto("/articles/priorities-and-sla")
    assert response is not None and response.status == 200
    result = page.evaluate(OVERFLOW_JS)
    assert result["scrollWidth"] <= result["innerWidth"], result
    assert not result["out"], result["out"]
    table = page.locator("[data-testid=article-body] table").first
    box = table.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    # the table is wider than the phone (the case at hand) and can be scrolled to its last column
    assert table.evaluate("t => t.scrollWidth > t.clientWidth")
    table.evaluate("t => { t.scrollLeft = t.scrollWidth; }")
    assert table.evaluate("t => t.scrollLeft > 0")
    context.close()
