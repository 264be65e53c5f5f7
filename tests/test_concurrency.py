"""Concurrent writers over real HTTP: no 500 under a burst, and a slow request does not stop writes or logins.

Issue 10, findings 2 and 3. The server is the real uvicorn of the ``live_server`` fixture on the test's
database (a SQLite file, or PostgreSQL with PORTAL_TEST_POSTGRES). No timing assertions: the tests look
at status codes and at what finished while something else was still running.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select, text

from portal import migrate
from portal.accounts.models import Organization
from portal.config import Settings
from portal.db import Database, WriteGate
from portal.errors import Unavailable
from portal.tickets.models import Ticket
from tests.factories import PASSWORD
from tests.tickets.helpers import body, catalogue

CLIENTS = 50
REGISTRATIONS = 100


def _post(url: str, path: str, **kw) -> httpx.Response:
    # A client per call, as separate browsers and scripts would be: one connection each.
    with httpx.Client(base_url=url, timeout=120) as c:
        return c.post(path, **kw)


def test_a_burst_of_registrations_from_many_clients_all_succeed(live_server, api, make, db):
    catalogue(db)
    org = make.org("romashka")
    customers = [make.user("customer", org) for _ in range(5)]
    headers = [api.headers(c) for c in customers]

    def register(i: int) -> int:
        r = _post(live_server.url, "/api/v1/tickets", json=body(summary=f"Заявка из нагрузки № {i}"),
                  headers=headers[i % len(headers)])
        return r.status_code

    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = list(pool.map(register, range(REGISTRATIONS)))

    assert sorted(set(statuses)) == [201], {s: statuses.count(s) for s in set(statuses)}
    with db.session_scope(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == REGISTRATIONS


def test_logins_and_comments_go_on_while_slow_previews_run(live_server, api, make, db):
    """Previews of pathological Markdown keep the server busy for seconds each; they write nothing, so they
    must not hold the database's write lock: a comment and logins finish while previews are still running."""
    catalogue(db)
    org = make.org("romashka")
    customer = make.user("customer", org)
    writer = make.user("writer")
    ticket = api.post(customer, "/api/v1/tickets", json=body()).json()
    writer_headers = api.headers(writer)
    customer_headers = api.headers(customer)

    done = threading.Event()
    previews: list[int] = []
    started = threading.Event()

    def slow_previews(n: int) -> None:
        # Back to back until the others are done (at most 20 each, so the loop ends by itself). Different
        # bodies, so that no cache answers them at once.
        for i in range(20):
            if done.is_set():
                return
            started.set()
            r = _post(live_server.url, "/api/v1/articles/preview", headers=writer_headers,
                      json={"body": "[" * (16000 + 100 * n + i)})
            previews.append(r.status_code)

    threads = [threading.Thread(target=slow_previews, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    started.wait(10)
    done.wait(0.3)  # let the first previews reach the server

    logins = [_post(live_server.url, "/api/v1/auth/token", json={"username": u.username, "password": PASSWORD})
              for u in (customer, writer, customer)]
    comment = _post(live_server.url, f"/api/v1/tickets/{ticket['id']}/comments", headers=customer_headers,
                    json={"body": "Данные снова пропали после перезагрузки."})
    still_running = sum(t.is_alive() for t in threads)
    done.set()
    for t in threads:
        t.join(300)

    assert [r.status_code for r in logins] == [200, 200, 200], [r.text for r in logins]
    assert comment.status_code == 201, comment.text
    assert still_running == 2, "the previews ran out before the logins and the comment were answered"
    # Whatever the renderer answers to such input, it is an answer, not a server error.
    assert previews and all(s < 500 for s in previews), previews


# --- the write gate ---------------------------------------------------------------------------

def test_gate_serves_waiters_first_come_first_served():
    gate = WriteGate(1)
    assert gate.acquire(1)
    order: list[int] = []

    def waiter(n: int) -> None:
        assert gate.acquire(30)
        order.append(n)
        gate.release()

    threads = []
    for n in range(5):
        t = threading.Thread(target=waiter, args=(n,))
        t.start()
        threads.append(t)
        while gate.waiting < n + 1:  # each one queued before the next arrives
            time.sleep(0.001)
    gate.release()
    for t in threads:
        t.join(30)
    assert order == [0, 1, 2, 3, 4]
    assert gate.acquire(0.01)  # and the slot came back


def _gate_db(tmp_path, **overrides) -> Database:
    database = Database(Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'gate.db'}", **overrides))
    migrate.upgrade(database)
    return database


def test_gate_is_given_back_however_a_transaction_ends(tmp_path):
    database = _gate_db(tmp_path, write_wait_seconds=0.2)
    gate = database.write_gate
    try:
        with database.session_scope() as s:
            s.add(Organization(slug="a", name="A"))
            s.flush()
            assert gate.acquire(0) is False  # held for the open transaction
        assert gate.acquire(0)
        gate.release()

        with pytest.raises(RuntimeError), database.session_scope() as s:
            s.execute(text("SELECT 1"))
            raise RuntimeError("the handler failed")
        assert gate.acquire(0)
        gate.release()

        s = database.session(write=True)
        s.execute(text("SELECT 1"))
        s.connection().invalidate()  # the connection is lost mid-transaction
        s.close()
        assert gate.acquire(0)
        gate.release()

        s = database.session(write=True)
        s.execute(text("SELECT 1"))
        s.close()  # closed without commit or rollback
        assert gate.acquire(0)
        gate.release()
    finally:
        database.dispose()


def test_a_writer_that_waits_too_long_gets_503_and_nothing_half_done(tmp_path):
    database = _gate_db(tmp_path, write_wait_seconds=0.2)
    try:
        holder = database.session(write=True)
        holder.add(Organization(slug="first", name="First"))
        holder.flush()
        with pytest.raises(Unavailable) as caught, database.session_scope() as s:
            s.add(Organization(slug="second", name="Second"))
        assert caught.value.status_code == 503 and "Повторите" in caught.value.detail
        assert caught.value.headers["Retry-After"]
        holder.commit()
        holder.close()
        with database.session_scope() as s:
            s.add(Organization(slug="third", name="Third"))
        with database.session_scope(write=False) as s:
            assert sorted(s.scalars(select(Organization.slug))) == ["first", "third"]
    finally:
        database.dispose()


def test_over_http_a_full_queue_answers_503_with_retry_after(settings, content_repo, make, api):
    from portal.app import create_app
    from tests.conftest import LiveServer

    catalogue_db = Database(settings)
    catalogue(catalogue_db)
    customer = make.user("customer", make.org("romashka"))
    catalogue_db.dispose()
    app = create_app(settings.model_copy(update={"write_wait_seconds": 0.3}))
    server = LiveServer(app)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            r = c.post("/api/v1/auth/token", json={"username": customer.username, "password": PASSWORD})
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            gate = app.state.db.write_gate
            for _ in range(gate.slots):  # as if long writes were under way: one on SQLite, a pool's worth on PostgreSQL
                assert gate.acquire(5)
            try:
                busy = c.post("/api/v1/tickets", json=body(), headers=headers)
            finally:
                for _ in range(gate.slots):
                    gate.release()
            assert busy.status_code == 503, busy.text
            assert busy.headers["retry-after"] and "Повторите" in busy.json()["detail"]
            assert c.post("/api/v1/tickets", json=body(), headers=headers).status_code == 201
    finally:
        server.stop()
