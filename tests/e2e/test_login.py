"""A customer logs in through the login page in real Chromium and sees their organisation's dashboard."""

from __future__ import annotations

from tests.factories import PASSWORD


def test_customer_logs_in_and_sees_their_organisation(page, make):
    org = make.org("romashka", "ООО Ромашка")
    make.org("vector", "АО Вектор")
    make.user("customer", org, username="ivanova", full_name="Анна Иванова")
    page.goto("/")
    assert "/login" in page.url
    page.get_by_label("Имя пользователя").fill("ivanova")
    page.get_by_label("Пароль").fill("wrong-password")
    page.get_by_role("button", name="Войти").click()
    assert "Неверное имя пользователя или пароль" in page.get_by_test_id("login-error").inner_text()
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/")
    assert page.locator("h1").inner_text() == "ООО Ромашка"
    assert "Анна Иванова" in page.get_by_test_id("whoami").inner_text()
    assert "АО Вектор" not in page.content()
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/login")
