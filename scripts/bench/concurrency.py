"""Concurrency benchmark: ticket registrations, comments and logins from many clients at once, over HTTP.

    .venv/bin/python scripts/bench/concurrency.py                       # SQLite and PostgreSQL, 10/50/100/200
    .venv/bin/python scripts/bench/concurrency.py --databases sqlite --levels 10 50 --per-client 2
    .venv/bin/python scripts/bench/concurrency.py --worker-threads 64   # PORTAL_WORKER_THREADS of the server

What it does, all on loopback, for each database:

1. a fresh data home beside the checkout (``var/bench-concurrency-*``); for PostgreSQL a database of its own
   on ``--postgres`` (created here, dropped at the end); ``portal init``, the catalogue, one customer
   organisation with 20 customers and one writer, a ticket per customer to comment on;
2. the portal in a uvicorn subprocess (``portal.app:create_app``, one process, jobs off);
3. at each concurrency level N: N client threads, each with its own HTTP connection, start together and
   each sends ``--per-client`` requests of one operation (logins: one each) — registrations (``POST /api/v1/tickets``), then
   comments (``POST /api/v1/tickets/{id}/comments``), then logins (``POST /api/v1/auth/token``); p50/p95
   latency, errors (anything but 2xx, or no answer) and throughput per level and operation;
4. logins during pathological previews: 15 sequential logins alone, then 15 while two clients send previews
   of 16,000 ``[`` back to back (the Markdown worst case of issue 10); the median delay is the difference.

Prints the largest concurrency with zero errors on each database and the targets: zero errors at 200
clients on both, p95 ≤ 1 s at 50 clients on SQLite, logins delayed by less than 1 s during a preview.
Every loop is bounded; everything it created is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from _serving import free_port, wait_port  # noqa: E402  (scripts/bench/ is this script's folder)

from portal import bootstrap  # noqa: E402
from portal.accounts import service as accounts  # noqa: E402
from portal.config import Settings  # noqa: E402
from portal.db import Database  # noqa: E402
from portal.policy import SystemActor  # noqa: E402
from portal.tickets import service as tickets  # noqa: E402
from portal.wiring import wire  # noqa: E402

wire()  # the hooks every portal process has: index updates, close guards, jobs, blob references

BENCH = SystemActor.operator("bench")  # the benchmark seeds its data as an operator would

PASSWORD = "bench-password-123"
CUSTOMERS = 20
MODULE, VERSION = "RUM-агент", "5.2"
TARGET_P95_AT_50, TARGET_PREVIEW_DELAY = 1.0, 1.0


def ticket_body(n: int) -> dict:
    return {"kind": "problem", "module": MODULE, "product_version": VERSION, "priority": "high",
            "summary": f"Агент не отправляет данные (нагрузка № {n})",
            "description": "После обновления браузера данных нет.",
            "steps_to_reproduce": "1. Открыть страницу.\n2. Данных нет.",
            "contact": {"name": "Анна Иванова", "email": "ivanova@romashka.example", "phone": ""}}


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    @property
    def count(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Bench:
    def __init__(self, base: str, tokens: dict[str, str], ticket_ids: dict[str, str]):
        self.base = base
        self.tokens = tokens
        self.ticket_ids = ticket_ids
        self.users = sorted(tokens)

    def request(self, client: httpx.Client, op: str, i: int) -> httpx.Response:
        user = self.users[i % len(self.users)]
        if op == "login":
            return client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        if op == "register":
            return client.post("/api/v1/tickets", json=ticket_body(i), headers=headers)
        return client.post(f"/api/v1/tickets/{self.ticket_ids[user]}/comments", headers=headers,
                           json={"body": f"Данные снова пропали (комментарий № {i})."})

    def level(self, op: str, clients: int, per_client: int) -> Result:
        result = Result()
        lock = threading.Lock()
        barrier = threading.Barrier(clients + 1)

        def client_loop(k: int) -> None:
            with httpx.Client(base_url=self.base, timeout=300) as client:
                barrier.wait()
                for j in range(per_client):
                    started = time.perf_counter()
                    try:
                        r = self.request(client, op, k * per_client + j)
                        status = r.status_code
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    took = time.perf_counter() - started
                    with lock:
                        if isinstance(status, int) and 200 <= status < 300:
                            result.latencies.append(took)
                        else:
                            result.error(str(status))

        threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        barrier.wait()
        started = time.perf_counter()
        for t in threads:
            t.join()
        result.wall = time.perf_counter() - started
        return result

    def login_times(self, count: int) -> list[float]:
        times = []
        with httpx.Client(base_url=self.base, timeout=120) as client:
            for i in range(count):
                started = time.perf_counter()
                r = self.request(client, "login", i)
                times.append(time.perf_counter() - started)
                if r.status_code != 200:
                    raise RuntimeError(f"login answered {r.status_code}: {r.text[:200]}")
        return times

    def preview_delay(self, writer_token: str, logins: int = 15) -> tuple[float, float, float, list[int]]:
        alone = self.login_times(logins)
        done = threading.Event()
        statuses: list[int] = []

        def previews(n: int) -> None:
            with httpx.Client(base_url=self.base, timeout=300) as client:
                for i in range(40):  # bounded: stops by itself even if the logins never end
                    if done.is_set():
                        return
                    r = client.post("/api/v1/articles/preview", json={"body": "[" * (16000 + 100 * n + i)},
                                    headers={"Authorization": f"Bearer {writer_token}"})
                    statuses.append(r.status_code)

        threads = [threading.Thread(target=previews, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.5)  # the previews reach the server first
        during = self.login_times(logins)
        done.set()
        for t in threads:
            t.join()
        return statistics.median(alone), statistics.median(during), max(during), statuses


def seed(settings: Settings) -> None:
    bootstrap.initialise(settings, admin_password=PASSWORD)
    db = Database(settings)
    try:
        with db.session_scope() as s:
            tickets.add_module(session=s, actor=BENCH, name=MODULE)
            tickets.add_version(session=s, actor=BENCH, name=VERSION)
            accounts.create_organization(session=s, actor=BENCH, slug="romashka", name="ООО Ромашка")
            for n in range(CUSTOMERS):
                accounts.create_user(session=s, actor=BENCH, username=f"customer{n:02d}", role="customer",
                                     password=PASSWORD, organization="romashka")
            accounts.create_user(session=s, actor=BENCH, username="writer", role="writer", password=PASSWORD)
    finally:
        db.dispose()


def run_database(kind: str, args, work: Path) -> dict:
    home = work / kind
    url = None
    admin = None
    pg_name = None
    if kind == "postgresql":
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        server_url = make_url(args.postgres)
        if server_url.host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("--postgres must point at a loopback server")
        pg_name = f"portal_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
        url = server_url.set(database=pg_name).render_as_string(hide_password=False)
    server = None
    try:
        settings = Settings(home=home, database_url=url, run_jobs=False, secret_key="bench-secret-key",
                            log_level="warning")
        seed(settings)
        port = free_port()
        env = {**os.environ, "PORTAL_HOME": str(home), "PORTAL_RUN_JOBS": "false",
               "PORTAL_SECRET_KEY": "bench-secret-key"}
        if url:
            env["PORTAL_DATABASE_URL"] = url
        if args.worker_threads:
            env["PORTAL_WORKER_THREADS"] = str(args.worker_threads)
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "portal.app:create_app", "--factory",
                                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                                   "--no-access-log", "--backlog", "4096"], cwd=ROOT, env=env)
        wait_port(port, server)
        base = f"http://127.0.0.1:{port}"
        users = [f"customer{n:02d}" for n in range(CUSTOMERS)]
        tokens, ticket_ids = {}, {}
        with httpx.Client(base_url=base, timeout=60) as client:
            for user in [*users, "writer"]:
                r = client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
                r.raise_for_status()
                tokens[user] = r.json()["access_token"]
            for n, user in enumerate(users):
                r = client.post("/api/v1/tickets", json=ticket_body(n),
                                headers={"Authorization": f"Bearer {tokens[user]}"})
                r.raise_for_status()
                ticket_ids[user] = r.json()["id"]
        writer_token = tokens.pop("writer")
        bench = Bench(base, tokens, ticket_ids)

        results: dict[tuple[int, str], Result] = {}
        print(f"\n== {kind} ({'PORTAL_WORKER_THREADS=' + str(args.worker_threads) if args.worker_threads else 'default worker threads'}) ==")
        print(f"{'clients':>7} {'operation':<9} {'requests':>8} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7}")
        for clients in args.levels:
            for op in ("register", "comment", "login"):
                # A person logs in once; each login costs an Argon2 computation (64 MiB, a core for ~0.1 s).
                res = bench.level(op, clients, 1 if op == "login" else args.per_client)
                results[(clients, op)] = res
                errors = sum(res.errors.values())
                detail = f"  {res.errors}" if errors else ""
                print(f"{clients:>7} {op:<9} {res.count:>8} {errors:>7} {res.pct(0.5) * 1000:>8.0f} "
                      f"{res.pct(0.95) * 1000:>8.0f} {len(res.latencies) / res.wall:>7.1f}{detail}", flush=True)
        clean = [c for c in args.levels if all(not results[(c, op)].errors for op in ("register", "comment", "login"))]
        largest = max((c for c in clean if all(x in clean for x in args.levels if x <= c)), default=0)
        alone, during, worst, statuses = bench.preview_delay(writer_token)
        print(f"largest concurrency with zero errors: {largest}")
        print(f"logins: median {alone * 1000:.0f} ms alone, {during * 1000:.0f} ms during pathological previews "
              f"(delay {max(0.0, during - alone) * 1000:.0f} ms, slowest {worst * 1000:.0f} ms); previews answered "
              f"{sorted(set(statuses))}")
        return {"results": results, "largest": largest, "delay": during - alone}
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        if admin is not None:
            from sqlalchemy import text

            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--levels", nargs="+", type=int, default=[10, 50, 100, 200])
    parser.add_argument("--per-client", type=int, default=3, help="requests of each operation per client")
    parser.add_argument("--worker-threads", type=int, default=0, help="PORTAL_WORKER_THREADS of the server")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server on loopback; the benchmark creates and drops its own database")
    args = parser.parse_args()
    # Stopped with SIGTERM, still stop the server and drop the database (the finally clauses run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    (ROOT / "var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-concurrency-", dir=ROOT / "var"))
    summary = {}
    try:
        for kind in args.databases:
            summary[kind] = run_database(kind, args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("\n== targets ==")
    for kind, s in summary.items():
        top = max(args.levels)
        ok = all(not s["results"][(top, op)].errors for op in ("register", "comment", "login"))
        print(f"{kind}: zero errors at {top} clients: {'yes' if ok else 'NO'}; "
              f"logins delayed by {max(0.0, s['delay']):.2f} s during previews (target < {TARGET_PREVIEW_DELAY:g} s)")
        if kind == "sqlite" and 50 in args.levels:
            p95 = max(s["results"][(50, op)].pct(0.95) for op in ("register", "comment", "login"))
            print(f"sqlite: p95 at 50 clients {p95:.2f} s (target ≤ {TARGET_P95_AT_50:g} s)")


if __name__ == "__main__":
    main()
