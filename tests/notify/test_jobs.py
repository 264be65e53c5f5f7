"""The jobs of notifications under a controllable clock: sender with outage and recovery, reminders, SLA alerts."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from typer.testing import CliRunner

from portal import jobs
from portal.cli import app as cli
from portal.jobs import JobState, Scheduler
from portal.notify import service
from portal.notify.models import OutboxMessage
from portal.tickets import service as tickets
from tests.notify.conftest import Clock, text_of
from tests.notify.helpers import act, deliver, outbox, register


def _scheduler(settings, db, clock, *names, owner="w1") -> Scheduler:
    registry = jobs.REGISTRY.by_name()
    return Scheduler(settings, db, clock=clock, jobs={n: registry[n] for n in names}, owner=owner)


def _people(make):
    org = make.org("romashka", "ООО Ромашка")
    return (make.user("customer", org, username="anna", email="anna@romashka.example"),
            make.user("support", username="sergey", email="sergey@primoart.example"))


def _queue_messages(db, settings, customer, count: int, now) -> None:
    for i in range(count):
        register(db, settings, customer, now=now, summary=f"Заявка номер {i}", priority="low")


def test_smtp_outage_then_recovery_loses_nothing_and_sends_nothing_twice(make, mail_db, mail_settings, smtp,
                                                                         with_catalogue):
    db, settings, clock = mail_db, mail_settings, Clock()
    anna, _ = _people(make)
    _queue_messages(db, settings, anna, 5, clock())
    smtp.stop()  # the mail server is down
    sender = _scheduler(settings, db, clock, "notify.outbox")
    assert sender.tick() == ["notify.outbox"]
    with db.session_scope(write=False) as s:
        state = s.get(JobState, "notify.outbox")
        assert state.last_status == "error" and "Connection refused" in state.last_error
    rows = outbox(db)
    assert [r.status for r in rows] == ["pending"] * 5 and sum(r.attempts for r in rows) == 1
    assert rows[0].last_error and rows[0].next_attempt_at == clock() + dt.timedelta(minutes=1)
    # More events while it is down: all wait in the outbox.
    _queue_messages(db, settings, anna, 2, clock())
    clock.advance(seconds=30)
    sender.tick()
    smtp.start()  # recovery, on the same address
    clock.advance(minutes=2)
    assert sender.tick() == ["notify.outbox"]
    rows = outbox(db)
    assert [r.status for r in rows] == ["sent"] * 7
    received = Counter(m["Message-ID"] for m in smtp.messages)
    assert len(received) == 7 and set(received.values()) == {1}
    assert set(received) == {r.message_id for r in rows}
    clock.advance(minutes=5)
    sender.tick()
    assert len(smtp.messages) == 7  # nothing sent again


def test_concurrent_senders_send_each_message_once(make, mail_db, mail_settings, smtp, with_catalogue):
    db, settings = mail_db, mail_settings
    anna, _ = _people(make)
    _queue_messages(db, settings, anna, 12, dt.datetime.now(dt.UTC))
    gate = threading.Barrier(4)

    def work(i):
        gate.wait()
        deliver(db, settings, owner=f"sender{i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    received = Counter(m["Message-ID"] for m in smtp.messages)
    assert len(received) == 12 and set(received.values()) == {1}


def test_two_workers_run_the_sender_job_once(make, mail_db, mail_settings, smtp, with_catalogue):
    db, settings, clock = mail_db, mail_settings, Clock()
    anna, _ = _people(make)
    _queue_messages(db, settings, anna, 3, clock())
    workers = [_scheduler(settings, db, clock, "notify.outbox", owner=f"w{i}") for i in range(2)]
    gate, ran = threading.Barrier(2), []

    def work(s):
        gate.wait()
        ran.append(s.tick())

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(len, ran)) == [0, 1]
    assert len(smtp.messages) == 3


def test_gives_up_after_max_attempts_and_an_admin_retries(make, mail_db, mail_settings, smtp, with_catalogue,
                                                          monkeypatch):
    settings = mail_settings.model_copy(update={"mail_max_attempts": 2})
    db, clock = mail_db, Clock()
    anna, _ = _people(make)
    register(db, settings, anna, now=clock())
    smtp.stop()
    for _ in range(2):
        deliver(db, settings, now=clock())
        clock.advance(minutes=10)
    [row] = outbox(db)
    assert row.status == "failed" and row.attempts == 2 and "Connection refused" in row.last_error
    deliver(db, settings, now=clock())
    assert outbox(db)[0].attempts == 2  # a failed message is left alone
    smtp.start()
    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("PORTAL_SMTP_URL", smtp.url)
    runner = CliRunner()
    listed = runner.invoke(cli, ["outbox", "list", "--status", "failed"])
    assert listed.exit_code == 0 and "anna@" in listed.output and "не отправлено: 1" in listed.output
    assert runner.invoke(cli, ["outbox", "retry"]).exit_code == 2
    retried = runner.invoke(cli, ["outbox", "retry", "--all-failed"])
    assert retried.exit_code == 0 and "будут отправлены снова: 1" in retried.output
    sent = runner.invoke(cli, ["outbox", "send"])
    assert sent.exit_code == 0 and "отправлено 1" in sent.output
    assert len(smtp.messages) == 1 and outbox(db)[0].status == "sent"
    with db.session_scope(write=False) as s:
        from portal import audit
        from portal.cli.common import operator

        # The operator is named by their OS account (was the bare string "cli").
        assert [e.actor for e in audit.query(s, action="outbox.retry")] == [operator().audit_name]
        assert operator().audit_name.startswith("cli:")


def test_reminders_every_n_working_days_until_answered(make, mail_db, mail_settings, smtp, with_catalogue):
    settings = mail_settings.model_copy(update={"info_reminder_days": 2})
    db = mail_db
    clock = Clock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))  # Tuesday 12:00 in Moscow
    anna, support = _people(make)
    tid = register(db, settings, anna, now=clock())
    act(db, tid, tickets.change_status, support, settings=settings, status="awaiting_info",
        comment="Пришлите журнал агента", now=clock())
    worker = _scheduler(settings, db, clock, "notify.reminders", "notify.outbox")

    def reminders() -> int:
        return len([m for m in smtp.to("anna@romashka.example") if "Напоминание" in m["Subject"]])

    def at(day: int, hour_utc: int) -> int:
        clock.now = dt.datetime(2026, 12, day, hour_utc, 0, tzinfo=dt.UTC)
        worker.tick()
        worker.tick()  # the sender after the reminder
        clock.now += dt.timedelta(minutes=16)
        worker.tick()
        return reminders()

    assert at(2, 10) == 0  # Wednesday: one working day
    assert at(3, 6) == 1  # Thursday: two working days
    assert at(3, 12) == 1  # once that day
    assert at(4, 9) == 1 and at(5, 9) == 1 and at(6, 9) == 1  # Friday, then the weekend
    assert at(7, 6) == 2  # Monday: two working days after Thursday
    reminder = [m for m in smtp.to("anna@romashka.example") if "Напоминание" in m["Subject"]][0]
    assert "Пришлите журнал агента" in text_of(reminder) and "01.12.2026" in text_of(reminder)
    act(db, tid, tickets.add_comment, anna, settings=settings, body="Журнал прислал", now=clock())
    assert at(9, 9) == 2 and at(11, 9) == 2  # answered: no more reminders
    with db.session_scope(write=False) as s:
        events = [e.kind for e in tickets.get_ticket_unchecked(session=s, ticket_id=tid).events]
        assert events.count(service.INFO_REMINDER) == 2  # visible in the ticket's history


def test_sla_alerts_fire_once_before_and_once_after_the_deadline(make, mail_db, mail_settings, smtp,
                                                                  with_catalogue):
    settings = mail_settings.model_copy(update={"sla_warning_hours": 2})
    db, clock = mail_db, Clock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
    anna, support = _people(make)
    late = register(db, settings, anna, now=clock(), priority="critical", summary="Всё упало")
    handled = register(db, settings, anna, now=clock(), priority="critical", summary="Тоже упало")
    act(db, handled, tickets.take, support, settings=settings)  # second line reacted: no alerts
    worker = _scheduler(settings, db, clock, "notify.sla", "notify.outbox")

    def alerts(kind: str) -> list:
        words = {"approaching": "истекает", "breached": "нарушен"}[kind]
        return [m for m in smtp.to("sergey@primoart.example") if words in m["Subject"]]

    def at(**offset) -> None:
        clock.now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(**offset)
        worker.tick()
        clock.now += dt.timedelta(seconds=31)
        worker.tick()

    at(hours=5, minutes=50)
    assert alerts("approaching") == [] and alerts("breached") == []
    at(hours=6, minutes=10)
    assert [m["Subject"] for m in alerts("approaching")] == [f"[{late}] Срок реакции истекает 01.12.2026 20:00"]
    assert "осталось 1 час 50 минут" in text_of(alerts("approaching")[0])
    at(hours=7)
    assert len(alerts("approaching")) == 1
    at(hours=8, minutes=10)
    assert [m["Subject"] for m in alerts("breached")] == [f"[{late}] Срок реакции нарушен"]
    at(hours=12)
    assert len(alerts("approaching")) == 1 and len(alerts("breached")) == 1
    assert not any(handled in m["Subject"] for m in alerts("approaching") + alerts("breached"))
    assert smtp.to("anna@romashka.example") and not any(
        "Срок реакции" in m["Subject"] for m in smtp.to("anna@romashka.example"))  # alerts are staff-only
    with db.session_scope(write=False) as s:
        assert s.query(OutboxMessage).filter(OutboxMessage.kind.like("sla_%")).count() == 2


def test_a_sender_that_died_after_claiming_is_taken_over_with_the_same_message_id(make, mail_db, mail_settings,
                                                                                   smtp, with_catalogue):
    from portal.notify import sender as outbox_sender

    db, settings, clock = mail_db, mail_settings, Clock()
    anna, _ = _people(make)
    register(db, settings, anna, now=clock())
    [row] = outbox(db)
    assert outbox_sender.claim(db, row.id, owner="crashed", now=clock())  # claimed, then the process died
    deliver(db, settings, now=clock() + dt.timedelta(minutes=5))
    assert smtp.messages == []  # the claim still stands
    deliver(db, settings, now=clock() + dt.timedelta(minutes=11))
    assert [m["Message-ID"] for m in smtp.messages] == [row.message_id]
    assert outbox(db)[0].status == "sent"


def test_outbox_rows_live_and_die_with_the_change_they_report(make, mail_db, mail_settings, with_catalogue):
    from portal.tickets.service import TicketInput

    db, settings = mail_db, mail_settings
    anna, _ = _people(make)
    session = db.session(write=True)
    try:
        tickets.register(session=session, settings=settings, actor=session.get(type(anna), anna.id),
                         data=TicketInput(kind="consultation", module="RUM-агент", product_version="5.2",
                                          summary="Вопрос", description="Вопрос", priority="low"))
        assert session.query(OutboxMessage).count() == 1  # written in the registering transaction
        session.rollback()
    finally:
        session.close()
    assert outbox(db) == []


def _tls_server(tmp_path, **kw):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.notify.conftest import _Capture, _self_signed, free_port

    tmp_path.mkdir(parents=True, exist_ok=True)
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((mechanism, auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"robot" and auth_data.password == b"s3cret")

    capture, port = _Capture(), free_port()
    tls = {"ssl_context": context} if kw.get("implicit") else {"tls_context": context, "require_starttls": True}
    # With implicit TLS aiosmtpd does not see the TLS layer itself, so it must not insist on STARTTLS first.
    controller = Controller(capture, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_required=True, auth_require_tls=not kw.get("implicit"), **tls)
    controller.start()
    return controller, capture, port, cert, logins


# Implicit TLS: aiosmtpd cannot see the TLS layer and warns about AUTH without it; the connection is TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_starttls_and_smtps_with_authentication(make, mail_db, mail_settings, with_catalogue, tmp_path):
    anna, _ = _people(make)
    for implicit, scheme in ((False, "smtp"), (True, "smtps")):
        controller, capture, port, cert, logins = _tls_server(tmp_path / scheme, implicit=implicit)
        try:
            settings = mail_settings.model_copy(update={"smtp_url": f"{scheme}://robot:s3cret@127.0.0.1:{port}",
                                                        "mail_ca_file": cert})
            register(mail_db, settings, anna)
            report = deliver(mail_db, settings)
            assert report.sent == 1, report.errors
            assert len(capture.messages) == 1 and [login[1] for login in logins] == [b"robot"]
            wrong = settings.model_copy(update={"smtp_url": f"{scheme}://robot:wrong@127.0.0.1:{port}",
                                                "mail_timeout_seconds": 2})
            register(mail_db, wrong, anna)
            failed = deliver(mail_db, wrong)
            assert failed.retrying == 1 and failed.errors  # refused: kept for a later attempt, the error recorded
            assert len(capture.messages) == 1
        finally:
            controller.stop()
        with mail_db.session_scope() as s:
            s.query(OutboxMessage).delete()


def test_a_password_is_never_sent_without_tls(make, mail_db, mail_settings, smtp, with_catalogue):
    anna, _ = _people(make)
    settings = mail_settings.model_copy(update={"smtp_url": f"smtp://robot:s3cret@127.0.0.1:{smtp.port}"})
    register(mail_db, settings, anna)
    report = deliver(mail_db, settings)
    assert report.sent == 0 and "does not offer STARTTLS" in report.errors[0]
    assert smtp.messages == []
