"""In real Chromium: second line merges a duplicate — the form refuses another organisation's number beside the
field (focused, like every form), the confirmation page says what moves, and the original then says what was
merged into it while the duplicate links to it."""

from __future__ import annotations

from tests.e2e.helpers import sign_in
from tests.tickets.helpers import body, catalogue

FOCUSED = "() => [document.activeElement.name, document.activeElement.getAttribute('aria-invalid')]"


def test_second_line_merges_a_duplicate_through_the_confirmation(browser, live_server, api, make, db):
    catalogue(db)
    romashka = make.org("romashka", "ООО Ромашка")
    ivanova = make.user("customer", romashka, username="ivanova", email="ivanova@romashka.example")
    petrov = make.user("customer", make.org("vector", "АО Вектор"), username="petrov", email="petrov@vector.example")
    make.user("support", username="support")
    original = api.post(ivanova, "/api/v1/tickets", json=body(summary="Агент RUM не отправляет данные")).json()["id"]
    duplicate = api.post(ivanova, "/api/v1/tickets", json=body(summary="Снова нет данных RUM")).json()["id"]
    api.post(ivanova, f"/api/v1/tickets/{duplicate}/comments", json={"body": "Лог агента во вложении."})
    foreign = api.post(petrov, "/api/v1/tickets", json=body(
        summary="Агент RUM не отправляет данные",
        contact={"name": "Пётр", "email": "petrov@vector.example", "phone": ""})).json()["id"]

    page = browser.new_context(base_url=live_server.url, locale="ru-RU").new_page()
    page.set_default_timeout(15000)
    sign_in(page, "support")
    page.goto(f"/tickets/{duplicate}")
    page.get_by_test_id("merge-open").click()
    page.wait_for_url(f"**/tickets/{duplicate}/merge")
    form = page.get_by_test_id("merge-form")
    form.get_by_label("Номер заявки, которая останется").fill(foreign)
    form.get_by_role("button", name="Проверить и продолжить").click()
    error = page.locator('main .field-error[data-field="into"]')
    assert "не найдена" in error.inner_text() and "Вектор" not in page.content()
    assert page.evaluate(FOCUSED) == ["into", "true"]

    form = page.get_by_test_id("merge-form")
    form.get_by_label("Номер заявки, которая останется").fill(original)
    form.get_by_role("button", name="Проверить и продолжить").click()
    confirm = page.get_by_test_id("confirm")
    assert f"Объединить {duplicate} с {original}?" in page.locator("h1").inner_text()
    assert "Комментариев перейдёт" in confirm.inner_text()
    confirm.get_by_role("button", name="Объединить").click()
    page.wait_for_url(f"**/tickets/{original}")
    assert f"Заявка {duplicate} объединена с {original}" in page.get_by_test_id("flash").inner_text()
    assert duplicate in page.get_by_test_id("merged-from").inner_text()
    assert "Лог агента во вложении." in page.get_by_test_id("history").inner_text()
    page.get_by_test_id("merged-from").get_by_role("link", name=duplicate).click()
    page.wait_for_url(f"**/tickets/{duplicate}")
    assert page.get_by_test_id("ticket-status").inner_text().lower() == "закрыта"
    assert original in page.get_by_test_id("merged-into").inner_text()
    assert page.get_by_test_id("merge-open").count() == 0  # a merged ticket is not merged again
