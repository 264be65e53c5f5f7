"""Knowledge-base benchmark: 100 / 1,000 / 5,000 generated Russian articles in a fresh data home each.

    .venv/bin/python scripts/bench/kb.py                 # 100, 1000, 5000
    .venv/bin/python scripts/bench/kb.py --sizes 100 1000

For every size, in a child process of its own (so memory figures do not mix):

* full builds: the portal's full build of all three editions (staff, customers, public — each from its own
  filtered copy, in parallel; what the background reconciliation runs) against a plain ``mkdocs build`` of
  the same content repository in the same run;
* publish → visible over HTTP: a real server (uvicorn, ``portal.app``, its scheduler running ``kb.build``),
  a writer creates and publishes a public article through the API, and each edition's reader (a support
  engineer, a customer, an anonymous reader) asks for the article's URL on ``/kb/`` until the new text is
  served; also until the portal's search finds it. Median of 3 publishes after a warm-up; the ratio of the
  slowest edition to the plain ``mkdocs build``;
* where the time goes: one more publish, its incremental build run in the benchmark with each stage timed;
* peak memory: the server, the incremental and full build processes, plain MkDocs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from _serving import free_port, wait_port  # noqa: E402  (scripts/bench/ is this script's folder)

WORDS = ("агент сессия отчёт браузер страница задержка ошибка сбой настройка ключ проект сценарий проверка "
         "таймаут сервер коллектор метрика пользователь обновление версия журнал панель виджет оповещение "
         "интеграция запрос ответ кэш сертификат прокси сеть доступ роль экспорт импорт график фильтр "
         "транзакция шаг скрипт расписание регион агрегирование хранилище индекс конфигурация").split()
MODULES = ("RUM-агент", "Синтетический мониторинг (STM)", "Панели и отчёты", "API и интеграции", "Администрирование")
KINDS = ("problem", "known_issue", "consultation", "howto")
VISIBILITY = ("public", "customers", "customers", "internal")
SECTIONS = ("problems", "known-issues", "consultations", "howto", "rum", "stm", "reports", "api", "admin", "misc")


def sentence(rng: random.Random, n: int = 12) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def article_text(rng: random.Random, n: int) -> str:
    from portal.knowledge import frontmatter

    meta = {"title": f"{sentence(rng, 5)[:-1]} №{n}", "summary": sentence(rng, 14), "kind": rng.choice(KINDS),
            "module": rng.choice(MODULES), "product_versions": [f"5.{rng.randint(0, 3)}"],
            "tickets": [f"PRM-2026-{rng.randint(1, 99999):05d}"], "fixed_in": [], "tags": rng.sample(WORDS, 2),
            "visibility": rng.choice(VISIBILITY), "status": "published", "authors": ["writer"]}
    body = "\n\n".join([
        "## Симптомы", " ".join(sentence(rng) for _ in range(4)),
        "## Причина", " ".join(sentence(rng) for _ in range(3)),
        '!!! success "Решение"\n    ' + sentence(rng, 16),
        '!!! tip "Обходное решение"\n    ' + sentence(rng, 10),
    ]) + "\n"
    return frontmatter.join(meta, body)


def vm_hwm_kib(pid: int) -> int:
    """Peak resident memory of a live process (VmHWM), KiB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
        return int(next(line.split()[1] for line in text.splitlines() if line.startswith("VmHWM:")))
    except (OSError, StopIteration):
        return 0


# Who reads each edition over HTTP: staff (a support engineer), customers (a customer), public (anonymous,
# with PORTAL_PUBLIC_KB=true). The demo users' password (portal init --demo).
READERS = {"staff": "support", "customers": "ivanova", "public": None}
DEMO_PASSWORD = "demo-password"
PUBLISHES = 4  # the first warms the server, the scheduler and the build's caches; the rest are measured
TIMEOUT = 600.0


def run_one(size: int) -> dict:
    import httpx

    from portal.wiring import wire

    wire()  # the hooks every portal process has: the index updater on the knowledge hooks among them
    from portal.bootstrap import initialise
    from portal.config import Settings
    from portal.content import ContentRepo
    from portal.knowledge import service, site
    from portal.search import service as search

    rng = random.Random(size)
    out: dict = {"size": size}
    with tempfile.TemporaryDirectory(prefix="kb-bench-", ignore_cleanup_errors=True) as tmp:
        home = Path(tmp) / "home"
        settings = Settings(home=home, secret_key="bench-secret", run_jobs=False, public_kb=True)
        initialise(settings, demo=True, admin_password="bench-admin-password")
        from portal.db import Database

        db = Database(settings)
        content = ContentRepo(settings)
        files = {f"kb/{SECTIONS[n % len(SECTIONS)]}/bench-{n:05d}.md": article_text(rng, n) for n in range(size)}
        started = time.perf_counter()
        with content.writing():
            content.commit_files(files=files, message=f"{size} generated articles")
        out["commit_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        search.rebuild(settings=settings)
        out["index_seconds"] = time.perf_counter() - started

        # Full builds: the portal's three editions (what the background reconciliation does) beside plain MkDocs.
        started = time.perf_counter()
        results = site.build(settings=settings, db=db, force=True, incremental=False, trigger="bench")
        out["portal_full_seconds"] = time.perf_counter() - started
        out["portal_full_pages"] = {r.edition: r.pages for r in results}
        if any(r.status != "built" for r in results):
            raise RuntimeError(f"full build failed: {[r.error for r in results]}")
        out["peak_rss_mib_full_build"] = max(r.peak_rss_kib for r in results) / 1024
        started = time.perf_counter()
        plain, plain_peak = site.run_mkdocs(["build", "--quiet", "-f", str(settings.content_path / "mkdocs.yml"),
                                             "-d", str(Path(tmp) / "plain-site")], cwd=settings.content_path)
        out["plain_build_seconds"] = time.perf_counter() - started
        if plain.returncode != 0:
            raise RuntimeError(f"plain mkdocs build failed: {plain.stderr[-2000:]}")
        out["peak_rss_mib_plain_mkdocs"] = plain_peak / 1024
        db.dispose()

        # Publish → visible on /kb/ of each edition, over HTTP, through a real server running its jobs.
        port = free_port()
        env = {**os.environ, "PORTAL_HOME": str(home), "PORTAL_SECRET_KEY": "bench-secret",
               "PORTAL_RUN_JOBS": "true", "PORTAL_PUBLIC_KB": "true", "PORTAL_LOG_LEVEL": "warning"}
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "portal.app:create_app", "--factory",
                                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                                   "--no-access-log"], cwd=ROOT, env=env)
        try:
            wait_port(port, server)
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=120) as client:
                def token(user: str) -> str:
                    r = client.post("/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD})
                    r.raise_for_status()
                    return r.json()["access_token"]

                writer = {"Authorization": f"Bearer {token('writer')}"}
                readers = {e: ({"Authorization": f"Bearer {token(u)}"} if u else {}) for e, u in READERS.items()}
                rows = []
                for n in range(PUBLISHES):
                    marker = f"бенчмаркслово{n}"
                    r = client.post("/api/v1/articles", headers=writer, json={
                        "kind": "problem", "visibility": "public", "title": f"Новая статья {n}",
                        "summary": sentence(rng, 8), "body": f"## Симптомы\n\n{marker} {sentence(rng)}\n"})
                    r.raise_for_status()
                    slug = r.json()["slug"]
                    url = f"/kb/problems/{slug}/"
                    started = time.perf_counter()
                    r = client.post(f"/api/v1/articles/{slug}/publish", headers=writer)
                    r.raise_for_status()
                    answered = time.perf_counter()
                    seen: dict[str, float] = {}
                    searchable = None
                    while len(seen) < len(READERS) or searchable is None:
                        now = time.perf_counter()
                        if now - answered > TIMEOUT:
                            raise RuntimeError(f"{slug} not visible in {set(READERS) - set(seen)} after {TIMEOUT} s")
                        for edition, headers in readers.items():
                            if edition not in seen:
                                page = client.get(url, headers=headers)
                                if page.status_code == 200 and marker in page.text:
                                    seen[edition] = time.perf_counter() - answered
                        if searchable is None:
                            found = client.get("/api/v1/search", params={"q": marker}, headers=readers["customers"])
                            if found.status_code == 200 and slug in found.text:
                                searchable = time.perf_counter() - answered
                        time.sleep(0.05)
                    builds = client.get("/api/v1/kb/builds", headers=writer).json()
                    rows.append({"publish_ms": (answered - started) * 1000, "visible_s": seen,
                                 "searchable_s": searchable,
                                 "last_builds": {b["edition"]: (b["trigger"], b["status"], b["duration_ms"])
                                                 for b in builds}})
                    time.sleep(1.0)  # the job goes on to the full rebuild; the next publish abandons it
            out["peak_rss_mib_server"] = vm_hwm_kib(server.pid) / 1024
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        measured = rows[1:]
        out["publish_answered_ms"] = statistics.median(r["publish_ms"] for r in measured)
        out["visible_s"] = {e: statistics.median(r["visible_s"][e] for r in measured) for e in READERS}
        out["visible_max_s"] = max(max(r["visible_s"].values()) for r in measured)
        out["searchable_s"] = statistics.median(r["searchable_s"] for r in measured)
        out["runs"] = rows

        # Where the time goes: one more publish, its incremental build run here with the stage timings.
        db = Database(settings)
        from portal.accounts.models import User

        with db.session_scope() as session:
            writer_user = session.query(User).filter_by(username="writer").one()
            draft = service.create_article(session=session, settings=settings, actor=writer_user,
                                           body=f"## Симптомы\n\n{sentence(rng)}\n",
                                           front_matter={"title": "Статья для разбора времени", "kind": "problem",
                                                         "visibility": "public", "summary": sentence(rng, 8)})
        with db.session_scope() as session:
            service.publish_article(session=session, settings=settings, actor=writer_user, slug=draft.slug)
        started = time.perf_counter()
        results = site.build(settings=settings, db=db, trigger="bench")
        out["incremental_seconds"] = time.perf_counter() - started
        out["breakdown"] = {r.edition: {"mode": r.mode, "seconds": round(r.seconds, 2), "rendered": r.rendered,
                                        "pages": r.pages, **r.timings} for r in results}
        out["peak_rss_mib_incremental_build"] = max(r.peak_rss_kib for r in results) / 1024
        out["peak_rss_mib_bench"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["ratio_full_to_plain"] = out["portal_full_seconds"] / out["plain_build_seconds"]
        out["ratio_visible_to_plain"] = out["visible_max_s"] / out["plain_build_seconds"]
        db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one), ensure_ascii=False))
        return
    rows = []
    for size in args.sizes:
        proc = subprocess.run([sys.executable, __file__, "--one", str(size)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"size {size} failed")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{size} articles: {json.dumps(row, ensure_ascii=False)}", flush=True)
    print()
    print(f"{'articles':>8} {'publish ms':>10} {'staff s':>8} {'customers s':>11} {'public s':>9} {'max s':>6} "
          f"{'search s':>8} {'full 3 ed. s':>12} {'plain s':>8} {'max/plain':>9} {'full/plain':>10} "
          f"{'RSS server':>10} {'RSS incr.':>9} {'RSS full':>8} {'RSS plain':>9}")
    for r in rows:
        v = r["visible_s"]
        print(f"{r['size']:>8} {r['publish_answered_ms']:>10.0f} {v['staff']:>8.1f} {v['customers']:>11.1f} "
              f"{v['public']:>9.1f} {r['visible_max_s']:>6.1f} {r['searchable_s']:>8.2f} "
              f"{r['portal_full_seconds']:>12.1f} {r['plain_build_seconds']:>8.1f} {r['ratio_visible_to_plain']:>9.2f} "
              f"{r['ratio_full_to_plain']:>10.2f} {r['peak_rss_mib_server']:>10.0f} "
              f"{r['peak_rss_mib_incremental_build']:>9.0f} {r['peak_rss_mib_full_build']:>8.0f} "
              f"{r['peak_rss_mib_plain_mkdocs']:>9.0f}")
    print("visible: publish answered → the new text served at /kb/ of the edition over HTTP (median of "
          f"{PUBLISHES - 1} publishes after a warm-up; the server's scheduler runs kb.build); max: the slowest "
          "edition of any publish. full: the portal's full build of three editions (the background "
          "reconciliation); plain: one `mkdocs build` of the content repository as it is. RSS in MiB (peak).")
    print()
    print("where the time goes (one incremental build after one publish, seconds per stage and edition):")
    for r in rows:
        for edition, stages in r["breakdown"].items():
            print(f"{r['size']:>8} {edition:<10} " + ", ".join(f"{k}={v}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
