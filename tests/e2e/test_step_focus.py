"""In real Chromium: a step screen or a ticket form sent back with errors puts the focus on the first field in
error, marked invalid and described by its message (the shared mechanism of portal/static/portal.js)."""

from __future__ import annotations

from tests.e2e.helpers import sign_in
from tests.tickets.helpers import body, catalogue

FOCUSED = """() => ({name: document.activeElement.name, tag: document.activeElement.tagName,
                   invalid: document.activeElement.getAttribute('aria-invalid'),
                   described: document.activeElement.getAttribute('aria-describedby')})"""


def _first_error_focused(page) -> dict:
    error = page.locator("main .field-error").first
    focused = page.evaluate(FOCUSED)
    assert focused["invalid"] == "true" and error.get_attribute("id") in (focused["described"] or "").split()
    assert focused["name"] == error.get_attribute("data-field")
    return focused


def test_focus_goes_to_the_first_field_in_error_on_step_screens_and_ticket_forms(browser, live_server, api,
                                                                                 make, db):
    catalogue(db)
    customer = make.user("customer", make.org("romashka"), username="ivanova")
    make.user("support", username="support")
    tid = api.post(customer, "/api/v1/tickets", json=body()).json()["id"]
    api.post("support", f"/api/v1/tickets/{tid}/status", json={"status": "in_analysis"})

    staff = browser.new_context(base_url=live_server.url, locale="ru-RU").new_page()
    sign_in(staff, "support")
    staff.goto(f"/tickets/{tid}/act/defer")
    form = staff.get_by_test_id("step-form")
    for textarea in form.locator("textarea[required]").all():
        textarea.fill("Ждём решения заказчика")
    form.get_by_role("button", name="Отложить").click()
    focused = _first_error_focused(staff)
    assert (focused["name"], focused["tag"]) == ("defer_reason", "INPUT")  # the first reason of the list

    page = browser.new_context(base_url=live_server.url, locale="ru-RU").new_page()
    sign_in(page, "ivanova")
    page.goto("/tickets/new")
    page.get_by_test_id("new-ticket").get_by_label("Краткое описание").fill("Нет данных RUM")
    page.get_by_test_id("new-ticket").get_by_role("button", name="Зарегистрировать заявку").click()
    assert _first_error_focused(page)["name"] == "module"

    page.goto(f"/tickets/{tid}")
    reply = page.get_by_test_id("reply-form")
    reply.locator('input[name="files"]').set_input_files([{"name": "empty.log", "mimeType": "text/plain",
                                                           "buffer": b""}])
    reply.get_by_role("button", name="Отправить").click()
    assert _first_error_focused(page)["name"] == "files"
    for p in (staff, page):
        p.context.close()
