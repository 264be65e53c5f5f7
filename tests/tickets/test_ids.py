"""Ticket IDs: prefix, year of registration in the portal's time zone, a gapless per-year sequence,
also when 50 registrations run at once (SQLite, and PostgreSQL in the PostgreSQL run)."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

from portal.config import Settings
from portal.tickets import service
from tests.tickets.helpers import catalogue, load_user, register, ticket_input


def test_prefix_year_and_sequence(db, settings, make):
    catalogue(db)
    customer = make.user("customer")
    custom = Settings(**{**settings.model_dump(), "ticket_prefix": "sup"})
    # 31 December 22:30 UTC is already 1 January in Moscow: the ticket belongs to the new year.
    new_year = dt.datetime(2026, 12, 31, 22, 30, tzinfo=dt.UTC)
    assert register(db, custom, customer, now=new_year) == "SUP-2027-00001"
    assert register(db, settings, customer, now=new_year - dt.timedelta(hours=3)) == "PRM-2026-00001"
    assert register(db, settings, customer, now=new_year) == "PRM-2027-00002"
    assert register(db, settings, customer, now=new_year.astimezone(ZoneInfo("Asia/Tokyo"))) == "PRM-2027-00003"


def test_a_failed_registration_gives_its_number_back(db, settings, make):
    catalogue(db)
    customer = make.user("customer")
    assert register(db, settings, customer).endswith("-00001")
    try:
        with db.session_scope() as s:
            service.register(session=s, settings=settings, actor=load_user(s, customer), data=ticket_input())
            raise RuntimeError("the request failed after registering")
    except RuntimeError:
        pass
    assert register(db, settings, customer).endswith("-00002")


def test_fifty_parallel_registrations_get_fifty_distinct_gapless_ids(db, settings, make):
    catalogue(db)
    customer = make.user("customer")
    ids, errors = [], []
    start = threading.Barrier(50)

    def worker():
        try:
            start.wait()
            with db.session_scope() as s:
                ticket = service.register(session=s, settings=settings, actor=load_user(s, customer),
                                          data=ticket_input())
                number = ticket.id
            ids.append(number)
        except Exception as exc:  # collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    year = dt.datetime.now(ZoneInfo(settings.timezone)).year
    assert sorted(ids) == [f"PRM-{year}-{n:05d}" for n in range(1, 51)]
