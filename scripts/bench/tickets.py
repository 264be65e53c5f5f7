"""Tickets benchmark: 100,000 tickets in a fresh database, then the queue page and the list API over real HTTP.

    .venv/bin/python scripts/bench/tickets.py                       # SQLite in a temporary data home
    .venv/bin/python scripts/bench/tickets.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
      (a fresh database is created on that server for the run and dropped after it)

Prints p50/p95 of GET /tickets/queue, GET /api/v1/tickets and each role's home page (its work lists: the
customer's tickets, second line's tickets awaiting a reaction and their answer, the third line's escalated ones,
QA's awaiting verification — every ticket has a customer's comment and a third of the open ones are assigned), and
registrations per second through the service and through POST /api/v1/tickets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from portal import migrate  # noqa: E402
from portal.accounts import service as accounts  # noqa: E402
from portal.accounts.models import User  # noqa: E402
from portal.config import Settings  # noqa: E402
from portal.db import Database, utcnow  # noqa: E402
from portal.policy import SystemActor  # noqa: E402
from portal.tickets import service  # noqa: E402
from portal.tickets.models import OPEN_STATUSES, Status, Ticket, TicketCounter, TicketEvent  # noqa: E402
from portal.wiring import wire  # noqa: E402

wire()  # the hooks every portal process has: index updates, close guards, jobs, blob references

BENCH = SystemActor.operator("bench")  # the benchmark seeds its data as an operator would

PASSWORD = "bench-password-123"
MODULES = ["RUM-агент", "Синтетический мониторинг (STM)", "Панели и отчёты", "API и интеграции", "Администрирование"]
PRIORITIES = ["critical", "high", "medium", "low"]
CLOSED = [Status.closed.value] * 6 + [Status.resolved.value, Status.deferred.value]
OPEN = sorted(OPEN_STATUSES)


def fill(db: Database, settings: Settings, count: int, orgs: list[int], assignee: int) -> float:
    started = time.perf_counter()
    now = utcnow()
    year = now.year
    rng = random.Random(42)
    batch, events = [], []
    with db.session_scope() as s:
        for n in range(1, count + 1):
            registered = now - dt.timedelta(minutes=(count - n) * 5)
            is_open = rng.random() < 0.1
            status = rng.choice(OPEN) if is_open else rng.choice(CLOSED)
            priority = rng.choice(PRIORITIES)
            batch.append({
                "id": f"{settings.ticket_prefix}-{year}-{n:05d}", "organization_id": rng.choice(orgs),
                "channel": "portal", "kind": "problem", "module": rng.choice(MODULES), "product_version": "5.2",
                "version_unsupported": False, "summary": f"Заявка номер {n}: агент не отправляет данные",
                "description": "Описание проблемы " * 10, "steps_to_reproduce": "1. Открыть 2. Проверить",
                "contact_name": "Анна", "contact_email": "anna@example.test", "contact_phone": "",
                "priority": priority, "status": status, "is_open": is_open, "registered_at": registered,
                "updated_at": registered,
                "sla_reaction_due": registered + dt.timedelta(hours={"critical": 8, "high": 16}.get(priority, 96)),
                "reacted_at": None if status == "new" else registered + dt.timedelta(hours=2),
                "sla_met": None if status == "new" else True, "paused_seconds": 0, "paused_seconds_at_eta": 0,
                "suspend_reason": "", "info_request": "", "resolution_cause": "", "resolution_solution": "",
                "resolution_workaround": "",
                "assignee_id": assignee if is_open and rng.random() < 0.33 else None,
            })
            events.append({"ticket_id": batch[-1]["id"], "at": registered + dt.timedelta(hours=3), "actor_id": None,
                           "actor_name": "Анна", "actor_is_staff": False, "kind": "comment", "comment": "Есть новости?",
                           "public": True, "details": {}})
            if len(batch) == 5000:
                s.execute(insert(Ticket), batch)
                s.execute(insert(TicketEvent), events)
                batch, events = [], []
        if batch:
            s.execute(insert(Ticket), batch)
            s.execute(insert(TicketEvent), events)
        s.add(TicketCounter(year=year, last=count))
    return time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(client: httpx.Client, url: str, headers: dict, n: int) -> tuple[float, float]:
    client.get(url, headers=headers)  # warm up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return statistics.median(times), percentile(times, 95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL server URL (a fresh database is created on it)")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--registrations", type=int, default=300)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    admin_engine, bench_db = None, None
    if args.database_url:
        server = make_url(args.database_url)
        bench_db = f"portal_bench_{uuid.uuid4().hex[:8]}"
        admin_engine = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{bench_db}"'))
        url = server.set(database=bench_db).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{home / 'portal.db'}"
    settings = Settings(home=home, database_url=url, secret_key="bench-secret", run_jobs=False)
    (home / "locks").mkdir(exist_ok=True)
    db = Database(settings)
    try:
        migrate.upgrade(db)
        with db.session_scope() as s:
            orgs = [accounts.create_organization(session=s, actor=BENCH, slug=f"org{i}", name=f"ООО Заказчик {i}").id
                    for i in range(20)]
            support_id = accounts.create_user(session=s, actor=BENCH, username="support", role="support",
                                              password=PASSWORD).id
            accounts.create_user(session=s, actor=BENCH, username="dev", role="developer", password=PASSWORD)
            accounts.create_user(session=s, actor=BENCH, username="qa", role="qa", password=PASSWORD)
            accounts.create_user(session=s, actor=BENCH, username="anna", role="customer", password=PASSWORD,
                                 organization="org0", email="anna@example.test", full_name="Анна")
            for m in MODULES:
                service.add_module(session=s, actor=BENCH, name=m)
            service.add_version(session=s, actor=BENCH, name="5.2")
        seconds = fill(db, settings, args.tickets, orgs, support_id)
        if db.engine.dialect.name == "postgresql":
            # The steady state autovacuum keeps: statistics, and a visibility map for index-only scans.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        print(f"database: {db.engine.dialect.name}; filled {args.tickets:,} tickets in {seconds:.1f} s "
              f"({args.tickets / seconds:,.0f}/s, bulk inserts)")

        from portal.app import create_app

        app = create_app(settings)
        port = 18000 + random.randint(0, 999)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            def login(name):
                r = client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
                return {"Authorization": f"Bearer {r.json()['access_token']}"}

            staff, customer = login("support"), login("anna")
            developer, qa = login("dev"), login("qa")
            figures = [
                ("GET / (support's home: reaction, my answer, mail, …)", "/", staff),
                ("GET / (developer's home: escalated)", "/", developer),
                ("GET / (QA's home: awaiting verification)", "/", qa),
                ("GET / (customer's home: what is asked of them)", "/", customer),
                ("GET /tickets/queue (support, 50 oldest open)", "/tickets/queue", staff),
                ("GET /tickets/queue?priority=critical&module=RUM-агент", "/tickets/queue?priority=critical&module=RUM-агент", staff),
                ("GET /api/v1/tickets (support, newest 50)", "/api/v1/tickets", staff),
                ("GET /api/v1/tickets?status=open&order=arrival", "/api/v1/tickets?status=open&order=arrival", staff),
                ("GET /api/v1/tickets (customer, own organisation)", "/api/v1/tickets", customer),
                ("GET /api/v1/tickets?offset=5000 (support)", "/api/v1/tickets?offset=5000", staff),
            ]
            for label, url_, headers in figures:
                p50, p95 = measure(client, url_, headers, args.requests)
                print(f"{label:<58} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
            body = {"kind": "problem", "module": MODULES[0], "product_version": "5.2", "priority": "high",
                    "summary": "Нагрузочная заявка", "description": "Описание", "steps_to_reproduce": "Шаги"}
            t0 = time.perf_counter()
            for _ in range(args.registrations):
                r = client.post("/api/v1/tickets", json=body, headers=customer)
                assert r.status_code == 201, r.text
            api_rate = args.registrations / (time.perf_counter() - t0)
        server.should_exit = True
        thread.join(10)
        t0 = time.perf_counter()
        for _ in range(args.registrations):
            with db.session_scope() as s:
                anna = s.scalar(select(User).where(User.username == "anna"))
                service.register(session=s, settings=settings, actor=anna, data=service.TicketInput(**body))
        service_rate = args.registrations / (time.perf_counter() - t0)
        print(f"registrations through the service (one transaction each): {service_rate:,.0f}/s")
        print(f"registrations through POST /api/v1/tickets (sequential):     {api_rate:,.0f}/s")
    finally:
        db.dispose()
        if admin_engine is not None:
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)'))
            admin_engine.dispose()


if __name__ == "__main__":
    main()
