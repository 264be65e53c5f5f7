"""In real Chromium: the new-ticket form's «give an e-mail or a phone» error belongs to the contacts fieldset,
which has no field named ``contact`` — the focus still goes to where the fix is typed (the group's first empty
field), marked invalid and described by the message."""

from __future__ import annotations

from tests.e2e.helpers import sign_in
from tests.tickets.helpers import MODULE, VERSION, catalogue

FOCUSED = """() => ({name: document.activeElement.name,
                   invalid: document.activeElement.getAttribute('aria-invalid'),
                   described: document.activeElement.getAttribute('aria-describedby')})"""


def test_the_contacts_error_takes_the_focus_to_the_empty_contact_field(browser, live_server, make, db):
    catalogue(db)
    make.org("romashka", "ООО Ромашка")
    make.user("support", username="support")
    page = browser.new_context(base_url=live_server.url, locale="ru-RU").new_page()
    sign_in(page, "support")  # second line registers a call for a customer: the contacts are typed by hand
    page.goto("/tickets/new")
    form = page.get_by_test_id("new-ticket")
    form.locator('select[name="organization"]').select_option("romashka")
    form.locator('select[name="channel"]').select_option("phone")
    form.locator('input[name="kind"][value="problem"]').check()
    form.get_by_label("Краткое описание").fill("Нет данных RUM")
    form.locator('select[name="module"]').select_option(MODULE)
    form.locator('select[name="product_version"]').select_option(VERSION)
    form.locator('textarea[name="description"]').fill("Данные не приходят")
    form.locator('textarea[name="steps_to_reproduce"]').fill("Открыть страницу")
    form.locator('input[name="priority"][value="medium"]').check()
    form.locator('input[name="contact_name"]').fill("Анна Иванова")
    form.locator('input[name="contact_email"]').fill("")
    form.locator('input[name="contact_phone"]').fill("")
    form.get_by_role("button", name="Зарегистрировать заявку").click()

    errors = page.locator("main .field-error")
    assert errors.count() == 1, page.locator("main").inner_text()
    error = errors.first
    assert error.get_attribute("data-field") == "contact"
    assert "телефон" in error.inner_text()
    focused = page.evaluate(FOCUSED)
    assert focused["name"] == "contact_email", focused
    assert focused["invalid"] == "true" and error.get_attribute("id") in (focused["described"] or "").split()
    assert page.locator('input[name="contact_name"]').input_value() == "Анна Иванова"  # nothing typed is lost
    page.context.close()
