"""In real Chromium, on the demo data: the package page shows each file's whole SHA-256 in a block a customer can
compare and copy (the copy button is static JavaScript, working under the CSP), and its size in КБ/МБ/ГБ."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.releases.models import PackageFile
from tests.e2e.test_layout import _sign_in, demo  # noqa: F401 — the demo fixture


def test_package_page_shows_whole_sha256_with_copy_and_size(demo, browser, live_server, db):  # noqa: F811
    with db.session_scope() as session:
        files = {f.name: (f.sha256, f.size) for f in session.scalars(
            select(PackageFile).where(PackageFile.package_id == "primoart-5.2.1-hf1"))}
    assert files
    context = browser.new_context(base_url=live_server.url, locale="ru-RU", viewport={"width": 390, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # a CSP refusal shows here
    _sign_in(page, "ivanova")
    page.goto("/packages/primoart-5.2.1-hf1")
    items = page.get_by_test_id("package-files").locator("li.file")
    assert items.count() == len(files)
    for i in range(items.count()):
        item = items.nth(i)
        name = item.get_by_test_id("download-link").inner_text()
        sha, size = files[name]
        block = item.get_by_test_id("file-sha256")
        assert block.inner_text().replace("\n", "") == sha  # all 64 characters, wrapped, never cut off
        box = block.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390
        assert "monospace" in block.evaluate("e => getComputedStyle(e).fontFamily").lower()
        shown = item.get_by_test_id("file-size").inner_text()
        assert re.fullmatch(r"\d+(,\d)? (Б|КБ|МБ|ГБ)", shown), shown
        copy = item.locator("button.copy")
        assert copy.inner_text() == "Копировать"
        copy.click()
        assert page.evaluate("navigator.clipboard.readText()") == sha
        assert copy.inner_text() == "Скопировано"
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()
