"""The staff ticket page with its similar-ticket panel, over real HTTP, with and without the panel's cache.

    .venv/bin/python scripts/bench/similar_panel.py                       # SQLite + Whoosh, 20,000 tickets
    .venv/bin/python scripts/bench/similar_panel.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Seeds the tickets of scripts/bench/similar.py (the labelled set among synthetic ones), builds the ticket index,
serves the portal in this process and asks GET /tickets/{id} as second line for 20 tickets, round after round:
first with the cache held at size 0 (every view asks the index, as before the cache — plus the version check the
cache adds), then with it (the first view of each ticket asks, the rest are answered from the cache). Prints p50 and
p95 of the page, of ``TicketIndex.version`` alone, and the cache's hits and misses, each with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts" / "bench"))

from _serving import free_port  # noqa: E402
from similar import seed  # noqa: E402

from portal import migrate  # noqa: E402
from portal.accounts import service as accounts  # noqa: E402
from portal.config import Settings  # noqa: E402
from portal.content import ContentRepo  # noqa: E402
from portal.db import Database  # noqa: E402
from portal.policy import SystemActor  # noqa: E402
from portal.search.similar import service as similar  # noqa: E402
from portal.tickets import service as tickets  # noqa: E402
from portal.wiring import wire  # noqa: E402
from tests.similar.pairs import PAIRS  # noqa: E402

PASSWORD = "bench-password-123"
PAGES = [f"PRM-2024-{n:05d}" for n in range(1, 21)]  # labelled tickets: each has solved neighbours to show


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def views(client: httpx.Client, headers: dict, rounds: int) -> tuple[list[float], list[float]]:
    """(times of each ticket's first view, times of the others) in ms."""
    first, repeat = [], []
    for r in range(rounds):
        for ticket_id in PAGES:
            t0 = time.perf_counter()
            page = client.get(f"/tickets/{ticket_id}", headers=headers)
            ms = (time.perf_counter() - t0) * 1000
            assert page.status_code == 200 and 'data-testid="similar-tickets"' in page.text, page.status_code
            (first if r == 0 else repeat).append(ms)
    return first, repeat


def line(name: str, times: list[float]) -> str:
    return f"{name}: p50 {statistics.median(times):.1f} ms, p95 {p95(times):.1f} ms ({len(times)} views)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL server URL (a fresh database is created on it)")
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=6, help="views of each of the 20 tickets per phase")
    args = parser.parse_args()
    wire()
    home = Path(tempfile.mkdtemp(prefix="portal-bench-panel-"))
    admin, name = None, None
    if args.database_url:
        server = make_url(args.database_url)
        name = f"portal_bench_panel_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name).render_as_string(hide_password=False)
        backend = "postgresql"
    else:
        url, backend = f"sqlite:///{home / 'portal.db'}", "whoosh"
    settings = Settings(home=home, database_url=url, secret_key="bench-secret", run_jobs=False, search_backend=backend)
    db = Database(settings)
    try:
        migrate.upgrade(db)
        ContentRepo(settings).ensure()  # the ticket page lists the articles citing a ticket
        bench = SystemActor.operator("bench")
        with db.session_scope() as s:
            accounts.create_user(session=s, actor=bench, username="support", role="support", password=PASSWORD)
            for module in sorted({p[0] for p in PAIRS}):
                tickets.add_module(session=s, actor=bench, name=module)
            tickets.add_version(session=s, actor=bench, name="5.2")
        _orgs, seconds = seed(db, args.tickets)
        started = time.perf_counter()
        similar.backend(settings).rebuild()
        print(f"{backend}: {args.tickets:,} tickets seeded in {seconds:.1f} s, indexed in "
              f"{time.perf_counter() - started:.1f} s; {load()}", flush=True)

        from portal.app import create_app

        port = free_port()
        server_ = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server_.run, daemon=True)
        thread.start()
        while not server_.started:
            time.sleep(0.05)
        cache = similar.PANEL_CACHE
        size = cache.size
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            token = client.post("/api/v1/auth/token", json={"username": "support", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            client.get(f"/tickets/{PAGES[0]}", headers=headers)  # warm up: searchers, templates

            cache.size = 0  # nothing kept: every view asks the index, as before the cache
            first, repeat = views(client, headers, args.rounds)
            print(line("without the cache, every view", first + repeat) + f"; {load()}", flush=True)

            cache.size = size
            hits, misses = cache.hits, cache.misses
            first, repeat = views(client, headers, args.rounds)
            print(line("with the cache, first view of a ticket (asks the index)", first) + f"; {load()}", flush=True)
            print(line("with the cache, the views after it", repeat) + f"; {load()}", flush=True)
            print(f"cache: {cache.hits - hits} hits, {cache.misses - misses} misses", flush=True)

        index = similar.backend(settings)
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            index.version()
            times.append((time.perf_counter() - t0) * 1000)
        print(f"TicketIndex.version alone: p50 {statistics.median(times):.3f} ms, p95 {p95(times):.3f} ms; {load()}")
        server_.should_exit = True
        thread.join(10)
    finally:
        db.dispose()
        similar.backend(settings).close()  # type: ignore[attr-defined]
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
