"""Similar tickets benchmark: recall on the labelled set, lookup latency and rebuild time at 100,000 tickets.

    .venv/bin/python scripts/bench/similar.py                        # SQLite + Whoosh, then PostgreSQL
    .venv/bin/python scripts/bench/similar.py --tickets 20000 --only sqlite
    .venv/bin/python scripts/bench/similar.py --pg-server postgresql+psycopg://postgres@127.0.0.1:5432/postgres

For each backend (SQLite with the Whoosh index; PostgreSQL with its own tables — a fresh database is created on
the server for the run and dropped after it): the 60 solved tickets of the labelled set (tests/similar/pairs.py)
among N synthetic tickets in 50
organisations (half solved, a tenth open), bulk-inserted (no HTTP). A synthetic ticket is one of 20,000 topics —
invented words, as rare as a real problem's telling words — among the words every ticket uses («агент»,
«данные», «ошибка»…). Prints the rebuild time, recall@1/@5 of the
labelled set among them, and p50/p95 of the lookups second line and the new-ticket form make: similar solved
tickets of a ticket (scope solved, all organisations) and open tickets of one organisation. Every figure comes
with the machine's load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from portal import migrate  # noqa: E402
from portal.accounts import service as accounts  # noqa: E402
from portal.config import Settings  # noqa: E402
from portal.db import Database, utcnow  # noqa: E402
from portal.policy import SystemActor  # noqa: E402
from portal.search.similar.documents import TicketText  # noqa: E402
from portal.search.similar.pg_tickets import PgTickets  # noqa: E402
from portal.search.similar.whoosh_tickets import WhooshTickets  # noqa: E402
from portal.wiring import wire  # noqa: E402
from tests.similar.pairs import PAIRS  # noqa: E402
from tests.similar.seeding import insert_rows, row  # noqa: E402

ORGS = 50
LOOKUPS = 200


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# The words every ticket uses (the head of a support desk's vocabulary): drawn into every synthetic ticket.
COMMON = ("агент данные ошибка сервер версия обновление пользователь страница отчёт панель проверка настройка "
          "не работает после при время запрос доступ сообщение журнал система сценарий мониторинг браузер "
          "приложение сайт интеграция уведомление роль лицензия экспорт график сессия метрика").split()
TOPICS = 20_000
LETTERS = "абвгдежзиклмнопрстуфхцчшэюя"


def topic_words(rng: random.Random) -> list[str]:
    """A topic's own words: invented, so they are as rare among the synthetic tickets as a real problem's telling
    words («CSP», «сертификат», «капча») are among real ones, and never the labelled set's."""
    return ["".join(rng.choice(LETTERS) for _ in range(rng.randint(5, 10))) for _ in range(8)]


def synthetic(rng: random.Random, topics: list[list[str]], n: int) -> tuple[str, str, str, str]:
    """(module, summary, description, solution) of a synthetic ticket: a topic's words among the common ones,
    a number and an error code of its own."""
    module = rng.choice(PAIRS)[0]
    own = rng.choice(topics)

    def words(k_own: int, k_common: int) -> str:
        chosen = rng.choices(own, k=k_own) + rng.choices(COMMON, k=k_common)
        rng.shuffle(chosen)
        return " ".join(chosen)

    return module, f"{words(3, 4)} #{n}", f"{words(6, 20)} Код E{rng.randrange(1000, 9999)}.", words(4, 6)


def seed(db: Database, count: int) -> tuple[list[int], float]:
    started = time.perf_counter()
    rng = random.Random(15)
    topics = [topic_words(rng) for _ in range(TOPICS)]
    with db.session_scope() as s:
        orgs = [accounts.create_organization(session=s, actor=SystemActor.operator("bench"), slug=f"org{i}",
                                             name=f"ООО Организация {i}").id for i in range(ORGS)]
    past = utcnow() - dt.timedelta(days=400)
    rows = []
    for n, (module, (summary, description, cause, solution, workaround), _new) in enumerate(PAIRS, 1):
        rows.append(row(f"PRM-2024-{n:05d}", orgs[0], summary=summary, description=description, module=module,
                        status="closed", cause=cause, solution=solution, workaround=workaround, at=past))
    for n in range(1, count - len(PAIRS) + 1):
        module, summary, description, solution = synthetic(rng, topics, n)
        draw = rng.random()
        status = "closed" if draw < 0.5 else "in_analysis" if draw < 0.6 else "deferred"
        rows.append(row(f"PRM-2025-{n:06d}", rng.choice(orgs), summary=summary[:200], description=description,
                        module=module, status=status, solution=solution if status == "closed" else "",
                        at=past + dt.timedelta(minutes=n)))
        if len(rows) >= 5000:
            with db.session_scope() as s:
                insert_rows(s, rows)
            rows = []
    if rows:
        with db.session_scope() as s:
            insert_rows(s, rows)
    return orgs, time.perf_counter() - started


def run(name: str, settings: Settings, count: int) -> None:
    db = Database(settings)
    migrate.upgrade(db)
    orgs, seconds = seed(db, count)
    print(f"[{name}] seeded {count:,} tickets in {seconds:.1f} s; {load()}", flush=True)
    index = PgTickets(settings) if settings.search_backend == "postgresql" else WhooshTickets(settings)
    started = time.perf_counter()
    info = index.rebuild()
    print(f"[{name}] rebuild of {info.get('tickets', 0):,} tickets: {time.perf_counter() - started:.1f} s; {load()}",
          flush=True)

    at1 = at5 = 0
    for n, (module, _solved, (summary, description)) in enumerate(PAIRS, 1):
        found = [m.ticket_id for m in index.similar(TicketText(summary=summary, description=description,
                                                               module=module), scope="solved", limit=5)]
        at1 += bool(found) and found[0] == f"PRM-2024-{n:05d}"
        at5 += f"PRM-2024-{n:05d}" in found
    print(f"[{name}] labelled set among {count:,}: recall@1 {at1}/{len(PAIRS)}, recall@5 {at5}/{len(PAIRS)}", flush=True)

    rng = random.Random(7)
    texts = [TicketText(summary=new[0], description=new[1], module=module) for module, _s, new in PAIRS]
    for scope in ("solved", "open"):
        times = []
        for i in range(LOOKUPS):
            text_ = texts[i % len(texts)]
            org = rng.choice(orgs) if scope == "open" else None
            t0 = time.perf_counter()
            index.similar(text_, scope=scope, organization_id=org, limit=5)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"[{name}] lookup scope={scope}{' (one organisation)' if scope == 'open' else ''}: "
              f"p50 {percentile(times, 50):.1f} ms, p95 {percentile(times, 95):.1f} ms, max {max(times):.1f} ms "
              f"({LOOKUPS} lookups); {load()}", flush=True)
    close = getattr(index, "close", None)
    if close:
        close()
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--pg-server", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    wire()
    print(f"similar tickets benchmark: {args.tickets:,} tickets; {load()}", flush=True)
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as home:
            run("sqlite+whoosh", Settings(home=home, run_jobs=False, search_backend="whoosh"), args.tickets)
    if args.only in (None, "postgresql"):
        server = make_url(args.pg_server)
        name = f"portal_bench_similar_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            with tempfile.TemporaryDirectory() as home:
                url = server.set(database=name).render_as_string(hide_password=False)
                run("postgresql", Settings(home=home, database_url=url, run_jobs=False, search_backend="postgresql"),
                    args.tickets)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
