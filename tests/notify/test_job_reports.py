"""What the jobs page and the outbox page tell an administrator: a mail job that cannot send what waits is a
failure said in words (not «успешно: PORTAL_SMTP_URL is not set»), the outbox warns, and every job reads as a
name and a description in the page's language."""

from __future__ import annotations

import re

from sqlalchemy import update

from portal import jobs
from portal.accounts.models import User
from portal.jobs import JobState, Scheduler
from portal.notify.models import OutboxMessage
from tests.notify.conftest import Clock
from tests.notify.helpers import register
from tests.tickets.helpers import catalogue


def _run(settings, db, clock, name: str) -> tuple[str, str, str]:
    """Run the job once; its recorded status, report and error."""
    Scheduler(settings, db, clock=clock, jobs={name: jobs.REGISTRY.by_name()[name]}, owner="w1").tick()
    with db.session_scope(write=False) as session:
        state = session.get_one(JobState, name)
        return state.last_status, state.last_message or "", state.last_error or ""


def _page(api, user, url: str) -> str:
    r = api.client.get(url, headers={**api.headers(user), "accept": "text/html"})
    assert r.status_code == 200, r.text
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text))


def test_mail_waiting_without_smtp_is_a_failure_in_words_and_the_outbox_warns(make, db, settings, api):
    assert not settings.smtp_url
    catalogue(db)
    admin, customer = make.user("admin"), make.user("customer")
    clock = Clock()

    status, report, _ = _run(settings, db, clock, "notify.outbox")
    assert status == "ok" and "писем в очереди нет" in report
    assert "PORTAL_SMTP_URL не задан" not in _page(api, admin, "/admin/outbox")

    register(db, settings, customer, now=clock(), summary="Не приходят письма", priority="low")
    with db.session_scope(write=False) as session:
        waiting = session.query(OutboxMessage).filter(OutboxMessage.status == "pending").count()
    assert waiting >= 1
    clock.advance(seconds=60)
    status, _, error = _run(settings, db, clock, "notify.outbox")
    assert status == "error" and f"PORTAL_SMTP_URL не задан, в очереди ждут {waiting}" in error

    jobs_page = _page(api, admin, "/admin/jobs")
    assert "Отправка писем" in jobs_page and "Отправляет письма из очереди по SMTP" in jobs_page
    assert f"Письма не отправляются: PORTAL_SMTP_URL не задан, в очереди ждут {waiting}." in jobs_page
    assert "JobFailed" not in jobs_page and "Send the outbox" not in jobs_page
    outbox_page = _page(api, admin, "/admin/outbox")
    assert f"писем, ожидающих отправки, — {waiting}" in outbox_page

    # In English the stored report is reworded, the warning and the job's name are English.
    with db.session_scope() as session:
        session.execute(update(User).where(User.id == admin.id).values(language="en"))
    english = _page(api, admin, "/admin/jobs")
    assert "Sending e-mail" in english
    assert f"E-mail is not being sent: PORTAL_SMTP_URL is not set, {waiting} waiting in the outbox." in english
    assert f"{waiting} e-mails are waiting" in _page(api, admin, "/admin/outbox")


def test_every_job_has_a_name_and_a_description_in_both_languages():
    from portal import i18n

    assert len(jobs.REGISTRY.by_name()) >= 5
    for name in jobs.REGISTRY.by_name():
        for lang in i18n.LANGUAGES:
            assert f"job.{name}" in i18n.catalogue(lang), (lang, name)
            assert f"job_description.{name}" in i18n.catalogue(lang), (lang, name)
