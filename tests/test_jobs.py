"""The scheduler: due jobs run, a job runs once even with several schedulers, failures are recorded."""

from __future__ import annotations

import datetime as dt
import threading
import time

from portal import jobs
from portal.jobs import Job, JobState, Scheduler


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self):
        return self.now

    def advance(self, **kw):
        self.now += dt.timedelta(**kw)


def test_due_job_runs_then_waits_for_its_interval(settings, db):
    clock, calls = Clock(), []
    job = Job("count", dt.timedelta(minutes=5), lambda ctx: calls.append(ctx.now) or "done")
    s = Scheduler(settings, db, clock=clock, jobs={"count": job})
    assert s.tick() == ["count"]
    assert s.tick() == []
    clock.advance(minutes=4)
    assert s.tick() == []
    clock.advance(minutes=1)
    assert s.tick() == ["count"]
    assert len(calls) == 2
    with db.session_scope(write=False) as session:
        row = session.get(JobState, "count")
        assert row.runs == 2 and row.last_status == "ok" and row.last_message == "done"


def test_two_schedulers_run_a_job_once(settings, db):
    clock, calls, gate = Clock(), [], threading.Barrier(2)

    def slow(ctx):
        calls.append(1)
        time.sleep(0.3)

    job = Job("once", dt.timedelta(hours=1), slow)
    schedulers = [Scheduler(settings, db, clock=clock, jobs={"once": job}, owner=f"w{i}") for i in range(2)]
    ran: list[list[str]] = []

    def work(s):
        gate.wait()
        ran.append(s.tick())

    threads = [threading.Thread(target=work, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert sorted(map(len, ran)) == [0, 1]


def test_expired_lease_of_a_crashed_runner_is_taken_over(settings, db):
    clock = Clock()
    job = Job("j", dt.timedelta(hours=1), lambda ctx: None, lease=dt.timedelta(minutes=10))
    crashed = Scheduler(settings, db, clock=clock, jobs={"j": job}, owner="crashed")
    assert crashed.claim(job)  # took the lease and died without finishing
    other = Scheduler(settings, db, clock=clock, jobs={"j": job}, owner="other")
    assert other.tick() == []
    clock.advance(minutes=11)
    assert other.tick() == ["j"]


def test_failure_is_recorded_and_the_job_retried_on_schedule(settings, db):
    clock = Clock()

    def boom(ctx):
        raise RuntimeError("SMTP down")

    s = Scheduler(settings, db, clock=clock, jobs={"b": Job("b", dt.timedelta(minutes=1), boom)})
    assert s.tick() == ["b"]
    with db.session_scope(write=False) as session:
        row = session.get(JobState, "b")
        assert row.last_status == "error" and "SMTP down" in row.last_error and row.lease_owner is None
    clock.advance(minutes=1)
    assert s.tick() == ["b"]


def test_request_run_brings_the_next_run_forward(settings, db):
    clock = Clock()
    s = Scheduler(settings, db, clock=clock, jobs={"r": Job("r", dt.timedelta(days=1), lambda ctx: None)})
    assert s.tick() == ["r"]
    clock.advance(minutes=1)
    assert s.tick() == []
    with db.session_scope() as session:
        jobs.request_run(session, "r", now=clock())
    assert s.tick() == ["r"]
