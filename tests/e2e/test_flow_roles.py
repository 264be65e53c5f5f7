"""In real Chromium, the regulation's flow through the ticket page's step screens, each role starting from its home
page: second line takes a new ticket and asks for information; the customer answers with the file in the same
form (after a refused file the reply is still there); second line escalates; the developer finds it on his home,
sets the planned date and hands it back; second line sends it for verification; QA resolves it (after a refusal
the typed cause is kept); the customer closes it. Every step ends with a message, and every new page fits
1366 px and 390 px without scrolling sideways."""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import sign_in
from tests.e2e.test_layout import OVERFLOW_JS
from tests.tickets.helpers import body, catalogue


@pytest.fixture
def settings(settings):
    """Attachments of at most 2 KB, so a refused file is small."""
    return settings.model_copy(update={"max_attachment_bytes": 2048})


def _fits(page) -> None:
    """The page as it is now fits 1366 px and 390 px: nothing sticks out sideways."""
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        found = page.evaluate(OVERFLOW_JS)
        assert found["scrollWidth"] <= found["innerWidth"] and not found["out"], (page.url, width, found)
    page.set_viewport_size({"width": 1366, "height": 900})


def _flash(page) -> str:
    return page.get_by_test_id("flash").inner_text()


def _person(browser, live_server, username):
    page = browser.new_context(base_url=live_server.url, locale="ru-RU",
                               viewport={"width": 1366, "height": 900}).new_page()
    page.set_default_timeout(15000)
    sign_in(page, username)
    return page


def _step(page, name: str) -> None:
    """Open a step's screen from the ticket page's buttons."""
    page.get_by_test_id("ticket-actions").get_by_role("link", name=name, exact=True).click()
    page.wait_for_url(re.compile(r".*/act/\w+$"))


def test_the_regulation_flow_role_by_role_through_the_step_screens(browser, live_server, api, make, db, tmp_path):
    catalogue(db)
    make.user("customer", make.org("romashka", "ООО Ромашка"), username="ivanova", full_name="Анна Иванова")
    make.user("support", username="support", full_name="Сергей Смирнов")
    make.user("developer", username="developer", full_name="Дмитрий Кузнецов")
    make.user("qa", username="qa", full_name="Ольга Тестова")
    tid = api.post("ivanova", "/api/v1/tickets", json=body(summary="Агент не отправляет данные")).json()["id"]

    # Second line: the new ticket waits for a reaction on the home page; take it, ask for information.
    support = _person(browser, live_server, "support")
    support.get_by_test_id("dashboard-queue").get_by_role("link", name=tid).click()
    support.get_by_test_id("ticket-actions").get_by_role("button", name="Взять в работу").click()
    assert f"Вы взяли заявку {tid} в работу" in _flash(support)
    _fits(support)
    _step(support, "Запросить информацию")
    assert "«При недостаточном количестве информации о проблеме запрашивается" in support.get_by_test_id(
        "step-help").inner_text()
    _fits(support)
    support.get_by_label("Какую информацию нужно прислать заказчику").fill("   ")  # passes the browser's check only
    support.get_by_role("button", name="Отправить запрос заказчику").click()
    assert "напишите, какую информацию" in support.locator('.field-error[data-field="comment"]').inner_text()
    support.get_by_label("Какую информацию нужно прислать заказчику").fill("Пришлите HAR-файл")
    support.get_by_role("button", name="Отправить запрос заказчику").click()
    assert "ждёт информации от заказчика" in _flash(support)

    # The customer: asked on the home page; answers with the file in the same form as the reply.
    customer = _person(browser, live_server, "ivanova")
    home = customer.get_by_test_id("dashboard-tickets")
    assert "Поддержка ждёт от вас информацию" in home.inner_text() and "Пришлите HAR-файл" in home.inner_text()
    _fits(customer)
    home.get_by_role("link", name="ответить").click()
    reply = customer.get_by_test_id("reply-form")
    assert "Взять в работу" not in customer.get_by_test_id("ticket-actions").inner_text()  # no staff steps
    reply.get_by_label("Комментарий").fill("Вот HAR-файл")
    big = tmp_path / "session.har"
    big.write_bytes(b"x" * 4096)
    reply.locator('input[name="files"]').set_input_files(str(big))
    reply.get_by_role("button", name="Отправить").click()
    assert customer.locator('.field-error[data-field="files"]').is_visible()
    assert customer.get_by_test_id("reply-form").get_by_label("Комментарий").input_value() == "Вот HAR-файл"
    big.write_bytes(b'{"log": {"entries": []}}')
    customer.get_by_test_id("reply-form").locator('input[name="files"]').set_input_files(str(big))
    customer.get_by_test_id("reply-form").get_by_role("button", name="Отправить").click()
    assert "Ответ и файлы «session.har» добавлены" in _flash(customer)
    assert customer.get_by_test_id("ticket-status").inner_text() == "в анализе"

    # Second line: the answer waits on the home page; escalate to the third line.
    support.goto("/")
    support.get_by_test_id("dashboard-answer").get_by_role("link", name=tid).click()
    _step(support, "Передать на третью линию")
    _fits(support)
    support.get_by_label("Что передать третьей линии").fill("HAR приложен, ошибка воспроизводится")
    support.get_by_role("button", name="Передать на третью линию").click()
    assert "передана на третью линию" in _flash(support)

    # The developer: escalated to him on his home page, without a planned date; sets it and hands it back.
    developer = _person(browser, live_server, "developer")
    escalated = developer.get_by_test_id("dashboard-escalated")
    assert tid in escalated.inner_text() and "нет плановой даты" in escalated.inner_text()
    _fits(developer)
    escalated.get_by_role("link", name=tid).click()
    developer.get_by_test_id("eta-form").get_by_label("Плановая дата решения").fill("2031-03-15")
    developer.get_by_test_id("eta-form").get_by_role("button", name="Сохранить").click()
    assert "15.03.2031" in _flash(developer)
    _step(developer, "Вернуть на вторую линию")
    developer.get_by_label("Что выяснено").fill("Исправлено в сборке 5.2.1-hf1")
    developer.get_by_role("button", name="Вернуть на вторую линию").click()
    assert f"Заявка {tid} возвращена на вторую линию" in _flash(developer)

    # Second line sends it for verification; QA finds it on her home page and resolves it.
    support.goto(f"/tickets/{tid}")
    _step(support, "На проверку")
    support.get_by_role("button", name="Передать на проверку").click()
    assert "передана на проверку" in _flash(support)
    qa = _person(browser, live_server, "qa")
    waiting = qa.get_by_test_id("dashboard-verification")
    assert tid in waiting.inner_text()
    waiting.get_by_role("link", name="Решено").click()
    qa.wait_for_url(re.compile(r".*/act/resolve$"))  # measured on the step's screen, not mid-navigation
    _fits(qa)
    qa.get_by_label("Причина проблемы").fill("Новый формат cookie в Chrome 131")
    qa.get_by_role("button", name="Сообщить о решении").click()
    assert qa.locator('.field-error[data-field="solution"]').is_visible()
    assert qa.get_by_label("Причина проблемы").input_value() == "Новый формат cookie в Chrome 131"
    qa.locator("textarea[name=solution]").fill("Установить пакет 5.2.1-hf1")
    qa.get_by_role("button", name="Сообщить о решении").click()
    assert f"Заявка {tid} отмечена решённой" in _flash(qa)

    # The customer: the solution waits for her on the home page; she closes the ticket on its own screen.
    customer.goto("/")
    home = customer.get_by_test_id("dashboard-tickets")
    assert "Решение готово" in home.inner_text()
    home.get_by_role("link", name="Закрыть").click()
    assert "Закройте заявку, если решение вам подходит" in customer.get_by_test_id("step-help").inner_text()
    assert "регламент" not in customer.get_by_test_id("step-help").inner_text().lower()  # no staff hints
    _fits(customer)
    customer.get_by_role("button", name="Закрыть заявку").click()
    assert f"Заявка {tid} закрыта." in _flash(customer)
    assert customer.get_by_test_id("ticket-status").inner_text() == "закрыта"
    for page in (support, customer, developer, qa):
        page.context.close()
