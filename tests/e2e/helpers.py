"""Steps the browser tests share."""

from __future__ import annotations

from tests.factories import PASSWORD


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login page and wait for the dashboard."""
    page.goto("/login")
    page.get_by_label("Имя пользователя").fill(username)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/")
