"""The summary above second line's queue is shared for a few seconds per database (counting every open ticket is
the queue page's largest cost at a million tickets); asked afresh, it counts what is there now."""

from __future__ import annotations

from portal.tickets import queue
from tests.tickets.helpers import body, catalogue


def test_the_summary_is_shared_within_its_age_and_counted_afresh_after_it(api, make, db):
    catalogue(db)
    customer = make.user("customer", make.org("romashka"), username="anna")
    make.user("support", username="sergey")
    assert api.post(customer, "/api/v1/tickets", json=body(priority="high")).status_code == 201
    with db.session_scope(write=False) as session:
        first = queue.queue_summary(session=session, max_age=3600)
    assert (first.total, first.open_by_priority["high"], first.unassigned) == (1, 1, 1)

    assert api.post(customer, "/api/v1/tickets", json=body(priority="critical")).status_code == 201
    with db.session_scope(write=False) as session:
        shared = queue.queue_summary(session=session, max_age=3600)
        fresh = queue.queue_summary(session=session, max_age=0)
        after = queue.queue_summary(session=session, max_age=3600)
    assert shared is first  # within its age: the count made a moment ago, not another pass
    assert (fresh.total, fresh.open_by_priority["critical"], fresh.unassigned) == (2, 1, 2)
    assert after is fresh  # the fresh count is the one shared from now on

