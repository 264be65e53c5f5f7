"""Notifications over HTTP: preferences, the outbox and jobs for admins, held e-mail for second line."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from portal import i18n, jobs
from portal.accounts.models import User
from portal.config import Settings
from portal.notify import intake
from portal.notify.models import IntakeMessage, OutboxMessage
from tests.notify.test_intake import mail
from tests.tickets.helpers import body, catalogue


def _html(api, user, url):
    return api.client.get(url, headers={**api.headers(user), "accept": "text/html"})


def test_preferences_through_the_api(api, make):
    customer = make.user("customer")
    assert api.get(customer, "/api/v1/me/notifications").json() == {
        "ticket_updates": True, "organization_tickets": False, "packages": True, "staff_alerts": True}
    r = api.put(customer, "/api/v1/me/notifications", json={"organization_tickets": True, "packages": False})
    assert r.status_code == 200 and r.json()["organization_tickets"] is True and r.json()["packages"] is False
    assert api.put(customer, "/api/v1/me/notifications", json={"colour": "red"}).status_code == 422


def test_outbox_and_jobs_are_for_admins_and_a_failed_message_is_retried(api, make, db, settings):
    catalogue(db)
    admin, customer = make.user("admin"), make.user("customer")
    assert api.post(customer, "/api/v1/tickets", json=body()).status_code == 201
    with db.session_scope() as s:
        row = s.scalar(select(OutboxMessage))
        row.status, row.attempts, row.last_error = "failed", 8, "SMTPRecipientsRefused: 550 no such user"
        jobs.request_run(s, "notify.outbox")
    assert api.get(customer, "/api/v1/outbox").status_code == 403
    listed = api.get(admin, "/api/v1/outbox?status=failed").json()
    assert [m["last_error"] for m in listed] == ["SMTPRecipientsRefused: 550 no such user"]
    retried = api.post(admin, f"/api/v1/outbox/{listed[0]['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending" and retried.json()["attempts"] == 0
    assert api.post(admin, f"/api/v1/outbox/{listed[0]['id']}/retry").json()["status"] == "pending"
    assert api.post(admin, "/api/v1/outbox/999999/retry").status_code == 404
    assert [j["name"] for j in api.get(admin, "/api/v1/jobs").json()] == ["notify.outbox"]
    assert api.get(customer, "/api/v1/jobs").status_code == 403
    page = _html(api, admin, "/admin/jobs")
    assert page.status_code == 200 and "notify.outbox" in page.text and "notify.intake" in page.text
    outbox_page = _html(api, admin, "/admin/outbox")
    assert outbox_page.status_code == 200 and "Заявка зарегистрирована" in outbox_page.text
    assert api.get(customer, "/admin/outbox").status_code == 403


def test_second_line_assigns_a_held_message_over_the_api(api, make, db, settings):
    catalogue(db)
    org = make.org("romashka", "ООО Ромашка")
    support, customer = make.user("support"), make.user("customer", org)
    raw = mail("stranger@romashka.example", "Не работает синтетика", "Модуль: RUM-агент\nВерсия: 5.2\n"
               "Шаги:\n1. Запустить сценарий\n\nСценарий падает.")
    with db.session_scope() as s:
        record = intake.process(session=s, settings=settings, raw=raw, now=dt.datetime.now(dt.UTC))
        held_id = record.id
    assert api.get(customer, "/api/v1/intake").status_code == 403
    assert [m["sender"] for m in api.get(support, "/api/v1/intake").json()] == ["stranger@romashka.example"]
    dashboard = _html(api, support, "/")
    assert "Писем ждут решения второй линии: 1" in dashboard.text
    assert "Писем ждут" not in _html(api, customer, "/").text
    page = _html(api, support, f"/intake/{held_id}")
    assert page.status_code == 200 and "Сценарий падает." in page.text
    assert api.post(support, f"/api/v1/intake/{held_id}/assign", json={"organization": "nope"}).status_code == 404
    r = api.post(support, f"/api/v1/intake/{held_id}/assign", json={"organization": "romashka"})
    assert r.status_code == 200 and r.json()["status"] == "assigned" and r.json()["ticket_id"]
    assert api.post(support, f"/api/v1/intake/{held_id}/assign", json={"organization": "romashka"}).status_code == 409
    ticket = api.get(support, f"/api/v1/tickets/{r.json()['ticket_id']}").json()
    assert ticket["status"] == "new"
    with db.session_scope(write=False) as s:
        assert s.scalar(select(IntakeMessage)).organization_id == org.id
        assert intake.read_original(settings=settings, record=s.get(IntakeMessage, held_id)).subject == \
            "Не работает синтетика"


def test_preferences_page_saves_the_form(api, make):
    customer = make.user("customer")
    page = _html(api, customer, "/account/notifications")
    assert page.status_code == 200 and "Все заявки моей организации" in page.text and "Оповещения второй" not in page.text
    saved = api.client.post("/account/notifications", headers={**api.headers(customer), "accept": "text/html"},
                            data={"ticket_updates": "true", "organization_tickets": "true"})
    assert saved.status_code == 200 and "Настройки сохранены" in saved.text
    assert api.get(customer, "/api/v1/me/notifications").json() == {
        "ticket_updates": True, "organization_tickets": True, "packages": False, "staff_alerts": True}


def test_mail_passwords_are_masked_and_bad_urls_refused():
    masked = Settings(smtp_url="smtps://robot:s3cret@mail.example:465",
                      imap_url="imaps://support:s3cret@mail.example/INBOX").masked()
    assert masked["smtp_url"] == "smtps://robot:******@mail.example:465"
    assert "s3cret" not in masked["imap_url"]
    with pytest.raises(ValidationError):
        Settings(imap_url="imap://support:pw@mail.example/INBOX")  # IMAP without TLS is refused


@pytest.mark.parametrize("language, name, foreign", [("ru", "Отправка писем", "Sending e-mail"),
                                                     ("en", "Sending e-mail", "Отправка писем")])
def test_the_admin_home_names_a_failed_job_in_the_readers_language(api, make, db, language, name, foreign):
    admin = make.user("admin")
    with db.session_scope() as s:
        jobs.request_run(s, "notify.outbox")
        state = s.get(jobs.JobState, "notify.outbox")
        state.last_status = "error"
        # as the scheduler stores a JobFailed: its Russian text
        state.last_error = str(i18n.message("notify.job_report.smtp_missing", count=3))
        state.last_error_at = dt.datetime.now(dt.timezone.utc)
        s.get(User, admin.id).language = language
    page = _html(api, admin, "/")
    assert page.status_code == 200
    failed = page.text.split('data-testid="failed-jobs"')[1].split("</ul>")[0]
    assert 'data-job="notify.outbox"' in failed and name in failed
    assert foreign not in failed and "Send the outbox" not in failed
    assert i18n.translate("notify.job_report.smtp_missing", language, count=3) in failed
