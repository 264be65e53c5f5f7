"""In real Chromium: files chosen in a refused form are still there when the form comes back (kept server-side,
portal/tickets/staged.py) — the new-ticket form and the reply on the ticket page; a file left unticked is not
attached."""

from __future__ import annotations

import re

from tests.e2e.helpers import sign_in
from tests.tickets.helpers import catalogue

HAR = b'{"log": {"entries": []}}' * 400


def _file(name: str, data: bytes, mime: str = "text/plain") -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


def test_refused_forms_keep_the_chosen_files(browser, live_server, make, db):
    catalogue(db)
    make.user("customer", make.org("romashka", "ООО Ромашка"), username="ivanova", full_name="Анна Иванова")
    page = browser.new_context(base_url=live_server.url, locale="ru-RU").new_page()
    sign_in(page, "ivanova")
    page.goto("/tickets/new")
    form = page.get_by_test_id("new-ticket")
    form.get_by_label("проблема при работе в Продукте").check()
    form.get_by_label("Краткое описание").fill("RUM-агент не отправляет данные")
    form.locator('input[name="attachments"]').set_input_files(
        [_file("session.har", HAR, "application/json"), _file("screen.txt", b"screenshot")])
    form.get_by_role("button", name="Зарегистрировать заявку").click()
    assert page.locator('[data-field="module"]').is_visible()
    kept = form.get_by_test_id("kept-files")
    assert "Уже выбранные файлы" in kept.inner_text()
    assert kept.get_by_label(re.compile(r"session\.har")).is_checked()
    assert "КБ" in kept.get_by_text("session.har").inner_text()
    kept.get_by_label(re.compile(r"screen\.txt")).uncheck()  # the customer changes her mind about this one
    form.get_by_label("Модуль").select_option("RUM-агент")
    form.get_by_label("Версия продукта").select_option("5.2")
    form.locator('textarea[name="description"]').fill("После обновления браузера данных нет.")
    form.locator('textarea[name="steps_to_reproduce"]').fill("Открыть панель RUM.")
    form.get_by_role("button", name="Зарегистрировать заявку").click()
    page.wait_for_url(re.compile(r".*/tickets/PRM-\d{4}-\d{5}.*"))
    attachments = page.locator('a[href*="/attachments/"]')
    assert attachments.all_inner_texts() == ["session.har"]
    with page.expect_download() as download:
        attachments.first.click()
    assert open(download.value.path(), "rb").read() == HAR

    reply = page.get_by_test_id("reply-form")
    reply.locator("textarea[name=body]").fill("Вот журнал агента")
    reply.locator('input[name="files"]').set_input_files([_file("agent.log", b"ERROR 42"), _file("empty.log", b"")])
    reply.get_by_role("button", name="Отправить").click()
    reply = page.get_by_test_id("reply-form")
    assert reply.locator('[data-field="files"]').is_visible()
    assert reply.locator("textarea[name=body]").input_value() == "Вот журнал агента"
    assert reply.get_by_test_id("kept-files").get_by_label(re.compile(r"agent\.log")).is_checked()
    reply.get_by_role("button", name="Отправить").click()
    page.wait_for_url(re.compile(r".*/tickets/PRM-\d{4}-\d{5}$"))
    assert "«agent.log»" in page.get_by_test_id("flash").inner_text()
    assert page.locator('a[href*="/attachments/"]').all_inner_texts() == ["session.har", "agent.log"]
    page.context.close()
