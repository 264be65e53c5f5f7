"""The ticket page's steps over real HTTP: which buttons each reader gets, each step's screen with only its fields,
refusals under the field with the input kept, who may reach a step, and each role's work on its home page."""

from __future__ import annotations

import re

import pytest

from tests.accounts.test_pages import csrf_of, login
from tests.releases.conftest import create, make_world
from tests.tickets.helpers import body, catalogue

html = {"accept": "text/html"}


@pytest.fixture
def settings(settings):
    """Attachments of at most 2 KB here, so a refused file is small to send."""
    return settings.model_copy(update={"max_attachment_bytes": 2048})


def _buttons(page: str) -> list[str]:
    block = page[page.index('data-testid="ticket-actions"'):]
    block = block[:block.index("</section>")]
    return re.findall(r">([^<>]+)</(?:a|button)>", block)


def _visible(page: str) -> str:
    """The page's text as a person reads it (no tags, no attribute values)."""
    return re.sub(r"<[^>]+>", " ", page)


def _field_errors(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-field="([a-z_]+)">([^<]+)<', page))


def _people(make):
    customer = make.user("customer", make.org("romashka"), username="anna")
    make.user("customer", make.org("vector"), username="petr")
    make.user("support", username="sergey")
    make.user("developer", username="dev")
    make.user("qa", username="quinn")
    return customer


def test_each_reader_gets_the_buttons_of_their_steps_and_only_them(client, api, make, db):
    catalogue(db)
    _people(make)
    tid = api.post("anna", "/api/v1/tickets", json=body()).json()["id"]
    login(client, "sergey")
    assert _buttons(client.get(f"/tickets/{tid}").text) == [
        "Взять в работу", "Запросить информацию", "Передать на третью линию", "Отложить"]
    client.post(f"/tickets/{tid}/act/take", data={"csrf_token": csrf_of(client.get(f"/tickets/{tid}").text)})
    assert _buttons(client.get(f"/tickets/{tid}").text) == [
        "Запросить информацию", "Передать на третью линию", "На проверку", "Решено",
        "Приостановить: смежный сервис", "Отложить"]
    login(client, "anna")
    page = client.get(f"/tickets/{tid}").text
    assert _buttons(page) == [] and "Сейчас от вас по этой заявке ничего не требуется" in page
    login(client, "dev")
    assert _buttons(client.get(f"/tickets/{tid}").text) == []


def test_a_step_screen_shows_only_its_fields_keeps_input_and_says_what_happened(client, api, make, db):
    catalogue(db)
    _people(make)
    tid = api.post("anna", "/api/v1/tickets", json=body()).json()["id"]
    api.post("sergey", f"/api/v1/tickets/{tid}/status", json={"status": "in_analysis"})
    login(client, "sergey")
    screen = client.get(f"/tickets/{tid}/act/defer")
    assert screen.status_code == 200
    form = screen.text[screen.text.index('data-testid="step-form"'):]
    assert set(re.findall(r'name="([a-z_]+)"', form)) == {"csrf_token", "defer_reason"}
    assert "версия Продукта является устаревшей и больше не поддерживается" in form  # the regulation's reasons
    assert "«Решение вопросов также может быть отложено" in screen.text
    refused = client.post(f"/tickets/{tid}/act/defer", data={"csrf_token": csrf_of(screen.text)})
    assert refused.status_code == 422
    message = _field_errors(refused.text)["defer_reason"]
    assert message.startswith("выберите одну из причин") and "cannot_reproduce" not in _visible(refused.text)

    screen = client.get(f"/tickets/{tid}/act/resolve")
    form = screen.text[screen.text.index('data-testid="step-form"'):]
    assert set(re.findall(r'name="([a-z_]+)"', form)) == {"csrf_token", "cause", "solution", "workaround"}
    refused = client.post(f"/tickets/{tid}/act/resolve", data={"csrf_token": csrf_of(screen.text),
                                                               "cause": "Кэш браузера"})
    assert refused.status_code == 422 and set(_field_errors(refused.text)) == {"solution"}
    assert ">Кэш браузера</textarea>" in refused.text
    done = client.post(f"/tickets/{tid}/act/resolve", data={"csrf_token": csrf_of(screen.text),
                                                            "cause": "Кэш браузера", "solution": "Очистить кэш"})
    assert done.status_code == 303
    page = client.get(done.headers["location"]).text
    assert f"Заявка {tid} отмечена решённой" in page and "решена" in page


def test_who_may_reach_a_step(client, api, make, db):
    catalogue(db)
    _people(make)
    tid = api.post("anna", "/api/v1/tickets", json=body()).json()["id"]
    api.post("sergey", f"/api/v1/tickets/{tid}/status", json={"status": "in_analysis"})
    login(client, "anna")
    csrf = csrf_of(client.get(f"/tickets/{tid}").text)
    # A customer reaching a staff step of their own ticket: refused, nothing changes.
    assert client.get(f"/tickets/{tid}/act/escalate", headers=html).status_code == 403
    assert client.post(f"/tickets/{tid}/act/escalate", data={"csrf_token": csrf}, headers=html).status_code == 403
    assert api.get("anna", f"/api/v1/tickets/{tid}").json()["status"] == "in_analysis"
    # Another organisation's ticket answers exactly like a missing one, for a real step and a made-up one.
    login(client, "petr")
    foreign = client.get(f"/tickets/{tid}/act/escalate", headers=html)
    missing = client.get("/tickets/PRM-2099-99999/act/escalate", headers=html)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.text.replace(tid, "X") == missing.text.replace("PRM-2099-99999", "X")
    login(client, "sergey")
    assert client.get(f"/tickets/{tid}/act/explode", headers=html).status_code == 404
    # A step that does not apply to the status now: back to the ticket, saying what can be done.
    gone = client.get(f"/tickets/{tid}/act/resume")
    assert gone.status_code == 303
    assert "Шаг «Возобновить» сейчас недоступен" in client.get(gone.headers["location"]).text


def test_closing_over_an_undelivered_fix_is_a_confirmation_step(client, api, make, db, settings, content_repo):
    world = make_world(db, settings, make)
    tid = world.t_romashka
    create(db, settings, world.support, package_id="primoart-5.2.1-hf1", tickets=[tid], orgs=["romashka"],
           publish=True)
    api.post("support", f"/api/v1/tickets/{tid}/status", json={"status": "in_analysis"})
    api.post("support", f"/api/v1/tickets/{tid}/status", json={"status": "resolved", "solution": "В пакете"})
    # The customer is told why it cannot close yet and what to do; no button closes it.
    login(client, "ivanova")
    screen = client.get(f"/tickets/{tid}/act/close")
    assert screen.status_code == 200
    assert 'data-testid="close-blockers"' in screen.text and "primoart-5.2.1-hf1" in screen.text
    assert "после того, как поддержка подтвердит передачу исправления" in screen.text
    assert 'data-testid="step-form"' not in screen.text
    refused = client.post(f"/tickets/{tid}/act/close", data={"csrf_token": csrf_of(screen.text)})
    assert refused.status_code == 409 and "Заявку нельзя закрыть, пока передача исправления не подтверждена" in refused.text
    assert "override" not in refused.text.replace('name="override"', "")
    # Second line may close anyway, after a justification, on this confirmation step.
    login(client, "support")
    screen = client.get(f"/tickets/{tid}/act/close")
    assert "Закрыть без подтверждения передачи" in screen.text
    refused = client.post(f"/tickets/{tid}/act/close", data={"csrf_token": csrf_of(screen.text), "override": "true"})
    assert refused.status_code == 422 and "reason" in _field_errors(refused.text)
    done = client.post(f"/tickets/{tid}/act/close", data={"csrf_token": csrf_of(screen.text), "override": "true",
                                                          "reason": "Установлено по удалённому доступу"})
    assert done.status_code == 303
    assert f"Заявка {tid} закрыта." in client.get(done.headers["location"]).text
    assert api.get("support", f"/api/v1/tickets/{tid}").json()["status"] == "closed"


def test_a_customer_closes_a_resolved_ticket_without_staff_hints(client, api, make, db):
    catalogue(db)
    _people(make)
    tid = api.post("anna", "/api/v1/tickets", json=body()).json()["id"]
    api.post("sergey", f"/api/v1/tickets/{tid}/status", json={"status": "in_analysis"})
    api.post("sergey", f"/api/v1/tickets/{tid}/status", json={"status": "resolved", "solution": "Очистить кэш"})
    login(client, "anna")
    assert _buttons(client.get(f"/tickets/{tid}").text) == ["Закрыть", "Открыть заново"]
    screen = client.get(f"/tickets/{tid}/act/close")
    assert screen.status_code == 200 and "Закройте заявку, если решение вам подходит" in screen.text
    assert "Из регламента" not in screen.text and "Заказчик увидит" not in screen.text
    done = client.post(f"/tickets/{tid}/act/close", data={"csrf_token": csrf_of(screen.text)})
    assert done.status_code == 303
    assert f"Заявка {tid} закрыта." in client.get(done.headers["location"]).text


def test_reply_and_its_files_go_together_and_the_reply_survives_a_refusal(client, api, make, db, settings):
    catalogue(db)
    _people(make)
    tid = api.post("anna", "/api/v1/tickets", json=body()).json()["id"]
    api.post("sergey", f"/api/v1/tickets/{tid}/status", json={"status": "awaiting_info",
                                                              "comment": "Пришлите HAR-файл"})
    login(client, "anna")
    csrf = csrf_of(client.get(f"/tickets/{tid}").text)
    too_big = b"x" * 4096
    refused = client.post(f"/tickets/{tid}/comments", data={"csrf_token": csrf, "body": "Вот HAR-файл"},
                          files={"files": ("session.har", too_big, "application/json")})
    assert refused.status_code == 422
    assert ">Вот HAR-файл</textarea>" in refused.text and "files" in _field_errors(refused.text)
    sent = client.post(f"/tickets/{tid}/comments", data={"csrf_token": csrf, "body": "Вот HAR-файл"},
                       files=[("files", ("session.har", b'{"log": {}}', "application/json")),
                              ("files", ("agent.log", b"ERROR", "text/plain"))])
    assert sent.status_code == 303
    page = client.get(sent.headers["location"]).text
    assert "Ответ и файлы «session.har», «agent.log» добавлены" in page
    ticket = api.get("anna", f"/api/v1/tickets/{tid}").json()
    assert ticket["status"] == "in_analysis"  # the customer's answer returns it to analysis
    assert sorted(a["filename"] for a in ticket["attachments"]) == ["agent.log", "session.har"]


def test_each_role_finds_its_work_on_its_home_page(client, api, make, db):
    catalogue(db)
    _people(make)
    asked = api.post("anna", "/api/v1/tickets", json=body(summary="Нужен HAR")).json()["id"]
    escalated = api.post("anna", "/api/v1/tickets", json=body(summary="Ошибка агента")).json()["id"]
    checking = api.post("anna", "/api/v1/tickets", json=body(summary="Проверить исправление")).json()["id"]
    fresh = api.post("anna", "/api/v1/tickets", json=body(summary="Новая", priority="critical")).json()["id"]
    api.post("sergey", f"/api/v1/tickets/{asked}/status", json={"status": "awaiting_info",
                                                                "comment": "Пришлите HAR-файл"})
    api.post("sergey", f"/api/v1/tickets/{escalated}/status", json={"status": "escalated"})
    api.post("sergey", f"/api/v1/tickets/{checking}/status", json={"status": "in_analysis"})
    api.post("sergey", f"/api/v1/tickets/{checking}/status", json={"status": "in_verification"})

    def home(user: str, testid: str) -> str:
        login(client, user)
        page = client.get("/").text
        section = page[page.index(f'data-testid="{testid}"'):]
        return section[:section.index("</section>")]

    customer = home("anna", "dashboard-tickets")
    footer = client.get("/").text
    assert '<a href="/kb/support/">регламент поддержки в базе знаний</a>' in footer[footer.index("<footer"):]
    assert customer.index(asked) < customer.index(fresh)  # what is asked of them first
    assert "Поддержка ждёт от вас информацию" in customer and "Пришлите HAR-файл" in customer
    developer = home("dev", "dashboard-escalated")
    assert escalated in developer and "нет плановой даты" in developer and fresh not in developer
    assert f"/tickets/{escalated}/act/hand_back" in developer
    qa = home("quinn", "dashboard-verification")
    assert checking in qa and escalated not in qa
    support = home("sergey", "dashboard-queue")
    assert fresh in support and escalated not in support  # reacted to: no longer waiting for a reaction
    login(client, "sergey")
    csrf = csrf_of(client.get("/").text)
    client.post(f"/tickets/{fresh}/act/take", data={"csrf_token": csrf})
    api.post("anna", f"/api/v1/tickets/{fresh}/comments", json={"body": "Есть новости?"})
    assert fresh in home("sergey", "dashboard-answer")
