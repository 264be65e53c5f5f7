#!/usr/bin/env python3
"""Benchmark past one machine's sizes, on PostgreSQL: search at 10,000 and 50,000 articles with each backend, and the
ticket queue at 1,000,000 tickets.

    .venv/bin/python scripts/bench/scale.py search [--sizes 10000 50000] [--queries 300] [--backends whoosh postgresql]
        [--no-breakdown] [--keep DIR [--rebuild]] [--rankings FILE] [--compare FILE] [--max-candidates N]
    .venv/bin/python scripts/bench/scale.py queue [--tickets 1000000] [--requests 200]
    .venv/bin/python scripts/bench/scale.py all
    (--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres: the server; a fresh database is created on
    it for each size and dropped after it)

``search`` generates the synthetic Russian support corpus of ``scripts/bench/search.py`` into a fresh content
repository, rebuilds each backend's index from it (time, articles/s, and where the time goes: reading git,
analysing the text, writing the index), then runs the same queries against each, every answer computed afresh
(the cache of answered pages off): p50/p95 and the ratio of the backends. With ``--keep DIR`` the content repository
and the database of each size are kept in DIR and reused by the next run (a 50,000-article corpus takes minutes to
seed and rebuild); an index already live at the repository's HEAD in the current schema is not rebuilt. ``--rankings``
writes each query's top ten (per size and backend) to a JSON file; ``--compare`` reads such a file from an earlier
run and prints how much of each top ten is the same now (to see what a change of ranking moved); ``--max-candidates``
sets the bound on scored candidates (a large number scores every match: the reference for ``--compare``). ``queue`` bulk-inserts the tickets with
COPY (not through the service), then measures the staff queue page and the list API over HTTP against a real
uvicorn: p50/p95, with the query plans of the queue's statements.

Targets (issue 14): search p95 ≤ 50 ms at 50,000 articles on the PostgreSQL backend; a full rebuild of 10,000
articles ≤ 60 s on either backend; queue p95 ≤ 100 ms at 1,000,000 tickets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from _serving import free_port  # noqa: E402  (scripts/bench/ is this script's folder)

from portal import migrate  # noqa: E402
from portal.accounts import service as accounts  # noqa: E402
from portal.config import Settings  # noqa: E402
from portal.db import Database, utcnow  # noqa: E402
from portal.policy import SystemActor  # noqa: E402
from portal.search import analysis  # noqa: E402
from portal.search.index import PgIndex, SearchRequest, WhooshIndex, ranking  # noqa: E402
from portal.search.index.schema import document  # noqa: E402
from portal.search.source import Source  # noqa: E402
from portal.tickets import service as tickets  # noqa: E402
from portal.tickets.models import OPEN_STATUSES, Status  # noqa: E402
from portal.wiring import wire  # noqa: E402

wire()

_spec = importlib.util.spec_from_file_location("bench_search", Path(__file__).with_name("search.py"))
assert _spec is not None and _spec.loader is not None
bench_search = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_search)  # the corpus, the queries, the home and the percentiles of search.py

BENCH = SystemActor.operator("bench")
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench-password-123"
AUDIENCE = ("public", "customers")


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A migrated database of its own on the server, dropped afterwards."""
    server = make_url(server_url)
    name = f"portal_scale_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        migrated(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrated(url: str) -> None:
    """The database at ``url`` brought to the code's migrations (the data home it needs is an empty folder, removed
    after: one was left in /tmp by every run)."""
    with tempfile.TemporaryDirectory(prefix="scale-db-") as home:
        db = Database(Settings(home=Path(home), database_url=url))
        migrate.upgrade(db)
        db.dispose()


@contextmanager
def kept_database(server_url: str, folder: Path) -> Iterator[str]:
    """The database of ``folder`` (its name in ``folder/database``), created and migrated on first use, never dropped."""
    server = make_url(server_url)
    marker = folder / "database"
    if marker.exists():
        name = marker.read_text().strip()
    else:
        name = f"portal_scale_kept_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    url = server.set(database=name).render_as_string(hide_password=False)
    migrated(url)  # also brings a kept database to the code's migrations
    marker.write_text(name)
    yield url


@contextmanager
def corpus_home(size: int, keep: Path | None, server_url: str) -> Iterator[tuple[list[dict], Settings, str, bool]]:
    """(articles, settings, database URL, reused) of one size: fresh and thrown away, or kept in ``keep/<size>``."""
    articles = bench_search.generate(size)
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="scale-search-") as tmp, fresh_database(server_url) as url:
            yield articles, bench_search.make_home(articles, Path(tmp)), url, False
        return
    folder = keep / str(size)
    folder.mkdir(parents=True, exist_ok=True)
    seeded = folder / "seeded"
    reused = seeded.exists()
    if reused:
        settings = Settings(home=folder / "home", secret_key=bench_search.SECRET, run_jobs=False)
    else:
        settings = bench_search.make_home(articles, folder)
        seeded.write_text("the content repository holds the generated corpus\n")
    with kept_database(server_url, folder) as url:
        yield articles, settings, url, reused


def top_ten(page) -> list[list]:
    return [[hit.slug, hit.score] for hit in page.hits[:10]]


def overlap(before: dict[str, list], now: dict[str, list]) -> str:
    """How much of the earlier top ten each query still has, how often the first hit is the same, and — where the
    earlier run recorded scores — how often the ten scores are the same (the generated corpus has many articles of
    equal score, ordered among themselves by document number: another of them is as good an answer)."""
    shared = [q for q in now if q in before]
    if not shared:
        return "no query in common with the earlier run"

    def slugs(entries: list) -> list[str]:
        return [e if isinstance(e, str) else e[0] for e in entries]

    def scores(entries: list) -> list[float] | None:
        return None if any(isinstance(e, str) for e in entries) else [round(e[1], 3) for e in entries]

    def share(a: list[str], b: list[str]) -> float:
        return len(set(a) & set(b)) / len(a) if a else float(not b)

    same = [share(slugs(before[q]), slugs(now[q])) for q in shared]
    first = sum(1 for q in shared if slugs(before[q])[:1] == slugs(now[q])[:1])
    identical = sum(1 for q in shared if slugs(before[q]) == slugs(now[q]))
    top3 = [share(slugs(before[q])[:3], slugs(now[q])[:3]) for q in shared]
    out = (f"top-10 overlap mean {sum(same) / len(same):.3f} (min {min(same):.2f}), top-3 overlap "
           f"{sum(top3) / len(top3):.3f}, same first hit {first}/{len(shared)}, identical top ten "
           f"{identical}/{len(shared)}")
    scored = [q for q in shared if scores(before[q]) is not None and scores(now[q]) is not None]
    if scored:
        equal = sum(1 for q in scored if scores(before[q]) == scores(now[q]))
        best = sum(1 for q in scored if scores(before[q])[:1] == scores(now[q])[:1])
        out += f"; the same ten scores {equal}/{len(scored)}, the same best score {best}/{len(scored)}"
    return out


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (git): what a rebuild costs whatever else the machine
    runs. PostgreSQL's own work is not in it."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def p50_p95(milliseconds: list[float]) -> tuple[float, float]:
    return bench_search.percentile(milliseconds, 50), bench_search.percentile(milliseconds, 95)


# --- search ---------------------------------------------------------------------------------------------------


def statements(index) -> list[float]:
    """A list filled with the milliseconds of each SQL statement ``index`` runs (empty for Whoosh), to clear per query."""
    found: list[float] = []
    engine = getattr(index, "engine", None)
    if engine is None:
        return found

    @event.listens_for(engine, "before_cursor_execute")
    def started(conn, cursor, statement, params, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def ended(conn, cursor, statement, params, context, executemany):
        found.append((time.perf_counter() - conn.info.pop("bench_started")) * 1000)

    return found


def where_the_time_goes(settings: Settings) -> tuple[float, float]:
    """Seconds to read every article from git, and to analyse them as the index does (schema.document, then every
    analysed field): what a rebuild spends before it writes anything."""
    source = Source(settings)
    commit = source.head()
    started = time.perf_counter()
    found = [article for _path, article in source.articles(commit) if article is not None]
    reading = time.perf_counter() - started
    analyzers = {name: analyzer for name, analyzer in (("text", analysis.text_analyzer()),
                                                       ("codes", analysis.code_analyzer()),
                                                       ("title_terms", analysis.text_analyzer()),
                                                       ("title_words", analysis.words_analyzer()))}
    spell = analysis.spell_analyzer()
    started = time.perf_counter()
    for article in found:
        doc = document(article)
        for name, analyzer in analyzers.items():
            for _token in analyzer(doc[name]):
                pass
        for _token in spell(f"{doc['text']}"):
            pass
    return reading, time.perf_counter() - started


def search(sizes: list[int], n_queries: int, backends: list[str], server_url: str, breakdown: bool = True,
           keep: Path | None = None, rankings: Path | None = None, compare: Path | None = None,
           max_candidates: int | None = None, rebuild: bool = False) -> None:
    if max_candidates is not None:
        ranking.MAX_CANDIDATES = max_candidates
    print("search: in-process, every answer computed afresh (the cache of answered pages off); rebuild = a full "
          "rebuild from git into a new generation (\"kept\": the kept index was live at HEAD); git and analysis = the "
          "parts of a rebuild before writing")
    print(f"{'articles':>8} {'backend':>10} | {'rebuild s':>9} {'cpu s':>6} {'art/s':>6} | {'git s':>6} "
          f"{'analysis s':>10} | {'p50 ms':>7} {'p95 ms':>7}  (load {os.getloadavg()[0]:.1f})")
    earlier = json.loads(compare.read_text()) if compare else {}
    recorded: dict[str, dict[str, list[str]]] = {}
    for size in sizes:
        with corpus_home(size, keep, server_url) as (articles, settings, url, reused):
            texts = bench_search.queries(articles, n_queries)
            # A second full read and analysis: at 50,000 articles on a busy machine it costs as much as a rebuild.
            reading, analysing = where_the_time_goes(settings) if breakdown else (float("nan"), float("nan"))
            p95s = {}
            for name in backends:
                if name == "whoosh":
                    index: WhooshIndex | PgIndex = WhooshIndex(settings)
                else:
                    index = PgIndex(settings.model_copy(update={"database_url": url, "search_backend": "postgresql"}))
                started, cpu, wall = time.perf_counter(), cpu_seconds(), time.time()
                meta = index.rebuild(force=rebuild or not reused)
                build, cpu = time.perf_counter() - started, cpu_seconds() - cpu
                rebuilt = meta.get("built_at", 0) >= wall
                cold = WhooshIndex(settings, cache_pages=False) if name == "whoosh" else PgIndex(
                    index.settings, cache_pages=False)
                for q in texts[:20]:
                    cold.search(SearchRequest(text=q, audiences=AUDIENCE))
                tops: dict[str, list[str]] = {}
                sql = statements(cold)

                def one(q, cold=cold, tops=tops, sql=sql):
                    sql.clear()
                    tops[q] = top_ten(cold.search(SearchRequest(text=q, audiences=AUDIENCE)))
                    splits.append((sum(sql), len(sql)))

                splits: list[tuple[float, int]] = []
                seen = set(texts[:20])  # asked while warming up
                first = {i for i, q in enumerate(texts) if q not in seen and not seen.add(q)}
                latencies = bench_search.timed(one, texts)
                p50, p95 = p50_p95(latencies)
                p95s[name] = p95
                built = (f"{build:>9.1f} {cpu:>6.1f} {meta['articles'] / build:>6.0f}" if rebuilt
                         else f"{'kept':>9} {'':>6} {'':>6}")
                print(f"{size:>8} {name:>10} | {built} | "
                      f"{reading:>6.1f} {analysing:>10.1f} | {p50:>7.1f} {p95:>7.1f}  (load {os.getloadavg()[0]:.1f})",
                      flush=True)
                # The queries above p95, with the time of their SQL statements (PostgreSQL) and whether each was
                # the first time its text was asked (its terms' documents not yet kept by the index version).
                slowest = sorted(range(len(texts)), key=lambda i: -latencies[i])[:len(texts) // 20]
                print(f"{'':>8} {'':>10}   slowest: " + "; ".join(
                    f"{texts[i]!r} {latencies[i]:.0f} ms" + (f" (SQL {splits[i][0]:.0f} ms in {splits[i][1]})"
                                                             if splits[i][1] else "") + (" first" if i in first else "")
                    for i in slowest[:8]), flush=True)
                repeats = [ms for i, ms in enumerate(latencies) if i not in first]
                print(f"{'':>8} {'':>10}   first asking of a text: {len(first)} queries, p95 "
                      f"{bench_search.percentile([latencies[i] for i in first], 95):.1f} ms; asked before: "
                      f"{len(repeats)}, p95 {bench_search.percentile(repeats, 95):.1f} ms", flush=True)
                key = f"{size}/{name}"
                recorded[key] = tops
                if key in earlier:
                    print(f"{'':>8} {'':>10}   against {compare}: {overlap(earlier[key], tops)}", flush=True)
                cold.close()
                index.close()
            if len(p95s) == 2:
                print(f"{size:>8} {'ratio':>10} | p95 postgresql/whoosh {p95s['postgresql'] / p95s['whoosh']:.2f}×",
                      flush=True)
                both = recorded[f"{size}/whoosh"], recorded[f"{size}/postgresql"]
                print(f"{'':>8} {'':>10}   PostgreSQL against Whoosh: {overlap(*both)}", flush=True)
    if rankings:
        rankings.write_text(json.dumps(recorded, ensure_ascii=False, indent=0))


# --- the queue ------------------------------------------------------------------------------------------------

MODULES = ["RUM-агент", "Синтетический мониторинг (STM)", "Панели и отчёты", "API и интеграции", "Администрирование"]
PRIORITIES = ["critical", "high", "medium", "low"]
CLOSED = [Status.closed.value] * 6 + [Status.resolved.value, Status.deferred.value]
OPEN = sorted(OPEN_STATUSES)
COLUMNS = ("id", "organization_id", "channel", "kind", "module", "product_version", "version_unsupported", "summary",
           "description", "steps_to_reproduce", "contact_name", "contact_email", "contact_phone", "priority", "status",
           "is_open", "registered_at", "updated_at", "sla_reaction_due", "reacted_at", "sla_met", "paused_seconds",
           "paused_seconds_at_eta", "suspend_reason", "info_request", "resolution_cause", "resolution_solution",
           "resolution_workaround")


def fill(db: Database, prefix: str, count: int, orgs: list[int]) -> float:
    """``count`` tickets over the last years, one in ten open, written with COPY in one transaction."""
    rng = random.Random(42)
    now = utcnow()
    step = dt.timedelta(minutes=3)
    per_year: dict[int, int] = {}
    started = time.perf_counter()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY tickets ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for n in range(count):
                registered = now - step * (count - n)
                year = registered.year
                number = per_year[year] = per_year.get(year, 0) + 1
                is_open = rng.random() < 0.1
                status = rng.choice(OPEN) if is_open else rng.choice(CLOSED)
                priority = rng.choice(PRIORITIES)
                copy.write_row((
                    f"{prefix}-{year}-{number:05d}", rng.choice(orgs), "portal", "problem", rng.choice(MODULES), "5.2",
                    False, f"Заявка номер {n}: агент не отправляет данные", "Описание проблемы " * 10,
                    "1. Открыть 2. Проверить", "Анна", "anna@example.test", "", priority, status, is_open, registered,
                    registered, registered + dt.timedelta(hours={"critical": 8, "high": 16}.get(priority, 96)),
                    None if status == "new" else registered + dt.timedelta(hours=2),
                    None if status == "new" else True, 0, 0, "", "", "", "", ""))
        for year, last in per_year.items():
            cursor.execute("INSERT INTO ticket_counters (year, last) VALUES (%s, %s)", (year, last))
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def plans(db: Database) -> None:
    """The plans of the queue's heaviest statements, as PostgreSQL chose them (EXPLAIN ANALYZE)."""
    statements = {
        "staff queue: open tickets, oldest first": "SELECT id FROM tickets WHERE is_open ORDER BY registered_at "
                                                   "LIMIT 50",
        "list API: newest first": "SELECT id FROM tickets ORDER BY registered_at DESC, id DESC LIMIT 50",
        "list API: one organisation, newest first": "SELECT id FROM tickets WHERE organization_id = 1 "
                                                    "ORDER BY registered_at DESC, id DESC LIMIT 50",
        "count of open tickets": "SELECT count(*) FROM tickets WHERE is_open",
    }
    with db.engine.connect() as conn:
        for label, sql in statements.items():
            plan = [r[0] for r in conn.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}"))]
            print(f"  {label}: {' / '.join(line.strip() for line in plan[:3])} … {plan[-1].strip()}")


def queue(count: int, n_requests: int, server_url: str) -> None:
    with fresh_database(server_url) as url:
        home = Path(tempfile.mkdtemp(prefix="scale-queue-"))
        (home / "locks").mkdir()
        settings = Settings(home=home, database_url=url, secret_key="bench-secret", run_jobs=False)
        db = Database(settings)
        try:
            with db.session_scope() as s:
                orgs = [accounts.create_organization(session=s, actor=BENCH, slug=f"org{i}", name=f"ООО Заказчик {i}").id
                        for i in range(20)]
                accounts.create_user(session=s, actor=BENCH, username="support", role="support", password=PASSWORD)
                accounts.create_user(session=s, actor=BENCH, username="anna", role="customer", password=PASSWORD,
                                     organization="org0", email="anna@example.test", full_name="Анна")
                for m in MODULES:
                    tickets.add_module(session=s, actor=BENCH, name=m)
                tickets.add_version(session=s, actor=BENCH, name="5.2")
            seconds = fill(db, settings.ticket_prefix, count, orgs)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))  # the steady state autovacuum keeps
            print(f"queue: {count:,} tickets on PostgreSQL, COPY in {seconds:.1f} s ({count / seconds:,.0f}/s)")
            plans(db)
            from portal.app import create_app

            app = create_app(settings)
            port = free_port()
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                    def login(name):
                        r = client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
                        return {"Authorization": f"Bearer {r.json()['access_token']}"}

                    staff, customer = login("support"), login("anna")
                    for label, path, headers in [
                        ("GET /tickets/queue (support)", "/tickets/queue", staff),
                        ("GET / (support: second line's home)", "/", staff),
                        ("GET /tickets/queue?priority=critical&module=RUM-агент", "/tickets/queue?priority=critical"
                         "&module=RUM-агент", staff),
                        ("GET /api/v1/tickets (support, newest 50)", "/api/v1/tickets", staff),
                        ("GET /api/v1/tickets?status=open&order=arrival", "/api/v1/tickets?status=open&order=arrival",
                         staff),
                        ("GET /api/v1/tickets (customer, own organisation)", "/api/v1/tickets", customer),
                        ("GET /api/v1/tickets?offset=1000 (support)", "/api/v1/tickets?offset=1000", staff),
                    ]:
                        client.get(path, headers=headers)  # warm up
                        latencies = []
                        for _ in range(n_requests):
                            started = time.perf_counter()
                            r = client.get(path, headers=headers)
                            latencies.append((time.perf_counter() - started) * 1000)
                            assert r.status_code == 200, (path, r.status_code, r.text[:300])
                        p50, p95 = p50_p95(latencies)
                        print(f"  {label:<58} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   (p95/target "
                              f"{p95 / 100:.2f})", flush=True)
            finally:
                server.should_exit = True
                thread.join(30)
        finally:
            db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["search", "queue", "all"])
    parser.add_argument("--database-url", default=SERVER, help="the PostgreSQL server (a database is created on it)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--backends", nargs="+", default=["whoosh", "postgresql"], choices=["whoosh", "postgresql"])
    parser.add_argument("--no-breakdown", action="store_true",
                        help="search: skip measuring reading git and analysing apart (a second full pass)")
    parser.add_argument("--keep", type=Path, help="search: keep each size's content repository and database in this "
                        "folder and reuse them in the next run (created when missing)")
    parser.add_argument("--rebuild", action="store_true", help="search: rebuild the kept indexes too")
    parser.add_argument("--rankings", type=Path, help="search: write every query's top ten to this JSON file")
    parser.add_argument("--compare", type=Path, help="search: the --rankings file of an earlier run to compare with")
    parser.add_argument("--max-candidates", type=int, help="search: score at most this many candidates per search "
                        "instead of ranking.MAX_CANDIDATES (a large number: every match, the reference ranking)")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    if args.what in ("search", "all"):
        search(args.sizes, args.queries, args.backends, args.database_url, breakdown=not args.no_breakdown,
               keep=args.keep, rankings=args.rankings, compare=args.compare, max_candidates=args.max_candidates, rebuild=args.rebuild)
    if args.what in ("queue", "all"):
        queue(args.tickets, args.requests, args.database_url)


if __name__ == "__main__":
    main()
