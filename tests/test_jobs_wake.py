"""A run requested in a committed transaction wakes this process's scheduler at once, not at its next poll."""

from __future__ import annotations

import datetime as dt
import threading

from portal import jobs
from portal.jobs import Job, Scheduler

AN_HOUR = 3600.0  # the scheduler's poll: without the wake, the requested run would wait this long


def test_request_run_wakes_the_sleeping_scheduler_after_commit(settings, db):
    ran = threading.Event()
    job = Job("woken", dt.timedelta(days=1), lambda ctx: ran.set() or "ran")
    scheduler = Scheduler(settings, db, jobs={"woken": job})
    assert scheduler.tick() == ["woken"]  # first run; the next is a day away
    ran.clear()
    thread = threading.Thread(target=scheduler.run_forever, args=(AN_HOUR,), daemon=True)
    thread.start()
    try:
        assert scheduler.tick() == []  # not due: the scheduler thread is asleep for an hour
        with db.session_scope() as session:
            jobs.request_run(session, "woken")
            # Not yet committed: the sleeping scheduler must not be woken to find nothing due.
            assert not jobs._requested.is_set()
        assert ran.wait(60), "the requested run did not start: the scheduler slept through the commit"
    finally:
        scheduler.stop()
        thread.join(30)
    assert not thread.is_alive()  # stop() ends the hour's wait too


def test_a_rolled_back_request_does_not_wake(settings, db):
    jobs._requested.clear()
    try:
        with db.session_scope() as session:
            jobs.request_run(session, "never")
            raise LookupError("the caller's transaction fails")
    except LookupError:
        pass
    assert not jobs._requested.is_set()
