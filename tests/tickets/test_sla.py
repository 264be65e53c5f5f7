"""SLA clocks without HTTP: deadlines in both calendars, reactions, priority corrections, paused time, reminders."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from portal.config import Settings
from portal.errors import Forbidden
from portal.tickets import service, sla
from portal.tickets.models import Ticket
from tests.tickets.helpers import catalogue, load_user, register

MSK = ZoneInfo("Europe/Moscow")


def msk(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MSK)


def working(**kw) -> Settings:
    return Settings(sla_calendar="working_hours", working_hours="09:00-18:00", **kw)


def test_round_the_clock_deadlines_follow_the_regulations_table():
    s = Settings()
    at = msk(2026, 3, 6, 17, 0)
    assert {p: sla.reaction_due(s, registered_at=at, priority=p) - at for p in sla.PRIORITIES} == {
        "critical": dt.timedelta(hours=8), "high": dt.timedelta(hours=16),
        "medium": dt.timedelta(hours=96), "low": dt.timedelta(hours=96)}


def test_the_table_is_configurable_and_checked():
    s = Settings(sla_reaction_hours="critical=4,high=8,medium=24,low=48")
    assert sla.reaction_due(s, registered_at=msk(2026, 1, 1), priority="critical") == msk(2026, 1, 1, 4)
    for bad in ("critical=8", "critical=8,high=16,medium=96,low=zero", "urgent=1,critical=8,high=16,medium=96,low=96"):
        with pytest.raises(ValueError):
            Settings(sla_reaction_hours=bad)
    with pytest.raises(ValueError):
        Settings(working_hours="18:00-09:00")
    with pytest.raises(ValueError):
        Settings(holidays="2026-13-01")
    with pytest.raises(ValueError):
        Settings(working_days="mon,funday")


def test_working_hours_skip_nights_weekends_and_holidays():
    # Friday 17:00 + 16 working hours: 1 h on Friday, 9 h on Monday, 6 h on Tuesday → Tuesday 15:00.
    friday = msk(2026, 3, 6, 17, 0)
    assert sla.reaction_due(working(), registered_at=friday, priority="high") == msk(2026, 3, 10, 15, 0)
    # With Monday a holiday the same clock ends on Wednesday 15:00.
    holiday = working(holidays="2026-03-09")
    assert sla.reaction_due(holiday, registered_at=friday, priority="high") == msk(2026, 3, 11, 15, 0)
    # Registered on a Saturday night: the clock starts on Monday 09:00.
    saturday = msk(2026, 3, 7, 23, 30)
    assert sla.reaction_due(working(), registered_at=saturday, priority="critical") == msk(2026, 3, 9, 17, 0)
    # Before the working day starts.
    early = msk(2026, 3, 10, 6, 0)
    assert sla.reaction_due(working(), registered_at=early, priority="critical") == msk(2026, 3, 10, 17, 0)
    # 96 working hours from Monday 09:00 are ten and two thirds working days.
    monday = msk(2026, 3, 2, 9, 0)
    assert sla.reaction_due(working(), registered_at=monday, priority="low") == msk(2026, 3, 16, 15, 0)


def test_elapsed_working_time():
    cal = sla.Calendar.from_settings(working())
    assert cal.elapsed(msk(2026, 3, 6, 17, 0), msk(2026, 3, 9, 10, 0)) == dt.timedelta(hours=2)
    assert cal.elapsed(msk(2026, 3, 9, 10, 0), msk(2026, 3, 6, 17, 0)) == dt.timedelta(0)
    assert sla.Calendar.from_settings(Settings()).elapsed(msk(2026, 3, 6, 17), msk(2026, 3, 9, 10)) \
        == dt.timedelta(hours=65)


def test_reminders_every_n_working_days():
    friday = msk(2026, 3, 6, 12, 0)
    assert sla.next_reminder(Settings(info_reminder_days=2), since=friday) == dt.date(2026, 3, 10)
    assert sla.next_reminder(Settings(info_reminder_days=1, holidays="2026-03-09"), since=friday) \
        == dt.date(2026, 3, 10)


@pytest.fixture
def people(make, db):
    catalogue(db)
    return make.user("customer"), make.user("support"), make.user("developer")


def _with(db, ticket_id, fn):
    with db.session_scope() as s:
        ticket = service.get_ticket_unchecked(session=s, ticket_id=ticket_id)
        return fn(s, ticket)


def test_reaction_by_status_change_is_recorded_met(db, settings, people):
    customer, support, _ = people
    at = msk(2026, 3, 6, 10, 0)
    tid = register(db, settings, customer, now=at, priority="critical")
    _with(db, tid, lambda s, t: service.change_status(session=s, settings=settings, ticket=t,
                                                      actor=load_user(s, support), status="in_analysis",
                                                      now=at + dt.timedelta(hours=7, minutes=59)))
    with db.session_scope(write=False) as s:
        t = s.get(Ticket, tid)
        assert t.reacted_at == at + dt.timedelta(hours=7, minutes=59) and t.sla_met is True


def test_late_public_reply_is_a_breached_reaction_and_customer_comment_is_none(db, settings, people):
    customer, support, _ = people
    at = msk(2026, 3, 6, 10, 0)
    tid = register(db, settings, customer, now=at, priority="critical")
    _with(db, tid, lambda s, t: service.add_comment(session=s, settings=settings, ticket=t,
                                                    actor=load_user(s, customer), body="Есть новости?",
                                                    now=at + dt.timedelta(hours=1)))
    _with(db, tid, lambda s, t: service.add_comment(session=s, settings=settings, ticket=t,
                                                    actor=load_user(s, support), body="Заметка", public=False,
                                                    now=at + dt.timedelta(hours=2)))
    with db.session_scope(write=False) as s:
        assert s.get(Ticket, tid).reacted_at is None
    _with(db, tid, lambda s, t: service.add_comment(session=s, settings=settings, ticket=t,
                                                    actor=load_user(s, support), body="Смотрим",
                                                    now=at + dt.timedelta(hours=9)))
    with db.session_scope(write=False) as s:
        t = s.get(Ticket, tid)
        assert t.status == "new" and t.sla_met is False


def test_priority_correction_recomputes_from_registration_and_needs_a_reason(db, settings, people):
    customer, support, _ = people
    at = msk(2026, 3, 6, 10, 0)
    tid = register(db, settings, customer, now=at, priority="low")
    _with(db, tid, lambda s, t: service.change_status(session=s, settings=settings, ticket=t,
                                                      actor=load_user(s, support), status="in_analysis",
                                                      now=at + dt.timedelta(hours=10)))
    with pytest.raises(service.Invalid) as exc:
        _with(db, tid, lambda s, t: service.correct_priority(session=s, settings=settings, ticket=t,
                                                             actor=load_user(s, support), priority="critical",
                                                             reason=" "))
    assert exc.value.errors[0]["field"] == "reason"
    with pytest.raises(Forbidden):
        _with(db, tid, lambda s, t: service.correct_priority(session=s, settings=settings, ticket=t,
                                                             actor=load_user(s, customer), priority="critical",
                                                             reason="хочу быстрее"))
    _with(db, tid, lambda s, t: service.correct_priority(session=s, settings=settings, ticket=t,
                                                         actor=load_user(s, support), priority="critical",
                                                         reason="Остановлен сбор данных всех пользователей"))
    with db.session_scope(write=False) as s:
        t = s.get(Ticket, tid)
        assert t.sla_reaction_due == at + dt.timedelta(hours=8)
        assert t.sla_met is False  # the reaction after 10 h is late against the corrected deadline
        event = [e for e in service.history(session=s, ticket=t, user=load_user(s, customer)) if e.kind == "priority"]
        assert event[0].comment == "Остановлен сбор данных всех пользователей" and event[0].public


def test_paused_time_is_stored_and_excluded_from_the_plan(db, settings, people):
    customer, support, developer = people
    at = msk(2026, 3, 2, 10, 0)
    hours = lambda n: at + dt.timedelta(hours=n)  # noqa: E731
    tid = register(db, settings, customer, now=at)

    def act(fn):
        return _with(db, tid, fn)

    def move(status, n, actor=support, **kw):
        act(lambda s, t: service.change_status(session=s, settings=settings, ticket=t, actor=load_user(s, actor),
                                               status=status, now=hours(n), **kw))

    move("in_analysis", 1)
    act(lambda s, t: service.set_eta(session=s, ticket=t, actor=load_user(s, developer), eta=hours(48), now=hours(2)))
    move("awaiting_info", 3, comment="Пришлите журнал агента")
    with db.session_scope(write=False) as s:
        t = s.get(Ticket, tid)
        assert t.info_request == "Пришлите журнал агента" and t.info_requested_at == hours(3)
        assert t.info_reminder_on == dt.date(2026, 3, 4)
    # The customer answers 24 h later: the ticket returns to analysis by itself.
    act(lambda s, t: service.add_comment(session=s, settings=settings, ticket=t, actor=load_user(s, customer),
                                         body="Журнал во вложении", now=hours(27)))
    with db.session_scope(write=False) as s:
        t = s.get(Ticket, tid)
        assert t.status == "in_analysis" and t.paused_seconds == 24 * 3600 and t.paused_since is None
    # A priority correction keeps the paused time.
    act(lambda s, t: service.correct_priority(session=s, settings=settings, ticket=t, actor=load_user(s, support),
                                              priority="critical", reason="Затронуты все пользователи",
                                              now=hours(28)))
    move("suspended", 30, reason="Сетевая служба открывает доступ к сборщику")
    move("in_analysis", 40)  # resume returns to the status before suspension
    move("in_verification", 50)
    move("resolved", 60, solution="Обновить агент")
    with db.session_scope(write=False) as s:  # a fresh session: nothing kept in memory
        t = s.get(Ticket, tid)
        assert t.paused_seconds == 34 * 3600
        # 60 h is past the 48 h plan, but 34 h of it were paused: within the plan.
        assert t.eta_met is True and t.resolved_at == hours(60) and t.resolution_solution == "Обновить агент"


def test_resume_returns_to_the_status_before_suspension(db, settings, people):
    customer, support, _ = people
    tid = register(db, settings, customer)

    def move(status, **kw):
        return _with(db, tid, lambda s, t: service.change_status(
            session=s, settings=settings, ticket=t, actor=load_user(s, support), status=status, **kw).status)

    move("escalated")
    move("suspended", reason="Ждём смежный сервис")
    with pytest.raises(service.Conflict) as exc:
        move("in_analysis")
    assert exc.value.extra["allowed"] == ["escalated", "deferred"]
    assert move("escalated") == "escalated"
