"""In real Chromium: a customer files a ticket through the form, second line takes it from the queue,
a developer sets the planned date, and the customer sees the new status and the ETA."""

from __future__ import annotations

import re

from tests.e2e.helpers import sign_in
from tests.tickets.helpers import catalogue


def test_customer_files_support_takes_customer_sees_status_and_eta(browser, live_server, make, db):
    catalogue(db)
    make.user("customer", make.org("romashka", "ООО Ромашка"), username="ivanova", full_name="Анна Иванова")
    make.user("support", username="support")
    make.user("developer", username="developer")

    customer = browser.new_context(base_url=live_server.url, locale="ru-RU").new_page()
    sign_in(customer, "ivanova")
    customer.get_by_role("link", name="Новая заявка").first.click()
    form = customer.get_by_test_id("new-ticket")
    form.get_by_label("проблема при работе в Продукте").check()
    form.get_by_label("Краткое описание").fill("RUM-агент не отправляет данные")
    form.get_by_role("button", name="Зарегистрировать заявку").click()
    # Refused with each missing field named beside it, and what was typed kept.
    assert customer.locator('[data-field="module"]').inner_text().startswith("укажите модуль")
    assert customer.locator('[data-field="steps_to_reproduce"]').is_visible()
    assert form.get_by_label("Краткое описание").input_value() == "RUM-агент не отправляет данные"
    assert "нет возможности обходного решения" in form.get_by_test_id("priorities").inner_text()
    form.get_by_label("Модуль").select_option("RUM-агент")
    form.get_by_label("Версия продукта").select_option("5.2")
    form.locator('textarea[name="description"]').fill("После обновления браузера данных нет.")
    form.locator('textarea[name="steps_to_reproduce"]').fill("Открыть панель RUM.")
    form.locator('input[name="priority"][value="high"]').check()
    form.get_by_role("button", name="Зарегистрировать заявку").click()
    customer.wait_for_url(re.compile(r".*/tickets/PRM-\d{4}-\d{5}.*"))
    ticket_id = customer.get_by_test_id("ticket-id").inner_text()
    assert customer.get_by_test_id("ticket-status").inner_text() == "новая"

    staff = browser.new_context(base_url=live_server.url, locale="ru-RU").new_page()
    sign_in(staff, "support")
    staff.get_by_role("link", name="Очередь", exact=True).click()
    row = staff.locator(f'tr[data-ticket="{ticket_id}"]')
    assert "осталось" in row.inner_text()
    row.get_by_role("button", name="Взять в работу").click()
    staff.wait_for_url(f"**/tickets/{ticket_id}")
    assert staff.get_by_test_id("ticket-status").inner_text() == "в анализе"
    staff.get_by_test_id("ticket-actions").get_by_role("link", name="Передать на третью линию").click()
    staff.get_by_role("button", name="Передать на третью линию").click()
    staff.wait_for_url(f"**/tickets/{ticket_id}")
    assert staff.get_by_test_id("ticket-status").inner_text() == "передана на третью линию"

    dev = browser.new_context(base_url=live_server.url, locale="ru-RU").new_page()
    sign_in(dev, "developer")
    dev.goto(f"/tickets/{ticket_id}")
    dev.get_by_test_id("eta-form").get_by_label("Плановая дата решения").fill("2031-03-15")
    dev.get_by_test_id("eta-form").get_by_role("button", name="Сохранить").click()
    assert "15.03.2031" in dev.get_by_test_id("ticket-eta").inner_text()

    customer.reload()
    assert customer.get_by_test_id("ticket-status").inner_text() == "передана на третью линию"
    assert "15.03.2031" in customer.get_by_test_id("ticket-eta").inner_text()
    assert "Плановая дата решения" in customer.get_by_test_id("history").inner_text()
    for p in (customer, staff, dev):
        p.context.close()
