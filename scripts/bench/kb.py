"""Knowledge-base benchmark: 100 / 1,000 / 5,000 generated Russian articles in a fresh data home each.

    .venv/bin/python scripts/bench/kb.py                 # 100, 1000, 5000
    .venv/bin/python scripts/bench/kb.py --sizes 100 1000

For every size, in a child process of its own (so memory figures do not mix):

* publish → searchable: a new draft is published (validate, commit, search-index hook) and the search
  service is asked until the article is found; median of 3 publishes, after one warm-up;
* site rebuild: the portal's build of all three editions (staff, customers, public — each from its own
  filtered copy, in parallel) against a plain ``mkdocs build`` of the same content repository; ratio;
* peak memory: the largest resident set of the benchmark process (portal code, git catalogue, search
  index), of the largest of the portal's ``mkdocs build`` processes, and of the plain ``mkdocs build``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

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


def run_one(size: int) -> dict:
    from portal.wiring import wire

    wire()  # the hooks every portal process has: the index updater on the knowledge hooks among them
    from portal.bootstrap import initialise
    from portal.config import Settings
    from portal.content import ContentRepo
    from portal.db import Database
    from portal.knowledge import service, site
    from portal.search import service as search

    rng = random.Random(size)
    out: dict = {"size": size}
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        settings = Settings(home=Path(tmp) / "home", secret_key="bench-secret", run_jobs=False)
        initialise(settings, demo=True, admin_password="bench-admin-password")
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

        from portal.accounts.models import User

        with db.session_scope() as session:
            writer = session.query(User).filter_by(username="writer").one()
            customer = session.query(User).filter_by(username="ivanova").one()
        latencies, commits = [], []
        for n in range(4):
            marker = f"бенчмаркслово{n}"
            with db.session_scope() as session:
                draft = service.create_article(
                    session=session, settings=settings, actor=writer, body=f"## Симптомы\n\n{marker} {sentence(rng)}\n",
                    front_matter={"title": f"Новая статья {n}", "kind": "problem", "visibility": "customers",
                                  "summary": sentence(rng, 8)})
            started = time.perf_counter()
            with db.session_scope() as session:
                service.publish_article(session=session, settings=settings, actor=writer, slug=draft.slug)
            committed = time.perf_counter() - started
            while True:
                found = search.search(session=None, settings=settings, user=customer, q=marker)
                if any(h.slug == draft.slug for h in found.page.hits):
                    break
                if time.perf_counter() - started > 120:
                    raise RuntimeError(f"article {draft.slug} not searchable after 120 s")
                time.sleep(0.01)
            if n:  # the first one warms the catalogue cache and the index reader
                latencies.append(time.perf_counter() - started)
                commits.append(committed)
        out["publish_to_committed_ms"] = statistics.median(commits) * 1000
        out["publish_to_searchable_ms"] = statistics.median(latencies) * 1000

        started = time.perf_counter()
        results = site.build(settings=settings, db=db, force=True, trigger="bench")
        out["portal_build_seconds"] = time.perf_counter() - started
        out["portal_build_status"] = {r.edition: f"{r.status} ({r.pages} pages, {r.seconds:.1f} s)" for r in results}
        if any(r.status != "built" for r in results):
            out["portal_build_error"] = [r.error for r in results if r.error]
        started = time.perf_counter()
        plain, plain_peak = site.run_mkdocs(["build", "--quiet", "-f", str(settings.content_path / "mkdocs.yml"),
                                             "-d", str(Path(tmp) / "plain-site")], cwd=settings.content_path)
        out["plain_build_seconds"] = time.perf_counter() - started
        if plain.returncode != 0:
            out["plain_build_error"] = plain.stderr[-2000:]
        out["ratio"] = out["portal_build_seconds"] / out["plain_build_seconds"]
        out["peak_rss_mib_portal"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["peak_rss_mib_portal_mkdocs"] = max(r.peak_rss_kib for r in results) / 1024
        out["peak_rss_mib_plain_mkdocs"] = plain_peak / 1024
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
    print(f"{'articles':>8} {'commit s':>9} {'index s':>8} {'publish→commit ms':>18} {'publish→search ms':>18} "
          f"{'portal build s':>15} {'plain mkdocs s':>15} {'ratio':>6} {'RSS portal MiB':>15} "
          f"{'RSS build MiB':>14} {'RSS plain MiB':>14}")
    for r in rows:
        print(f"{r['size']:>8} {r['commit_seconds']:>9.2f} {r['index_seconds']:>8.2f} "
              f"{r['publish_to_committed_ms']:>18.0f} {r['publish_to_searchable_ms']:>18.0f} "
              f"{r['portal_build_seconds']:>15.1f} {r['plain_build_seconds']:>15.1f} {r['ratio']:>6.2f} "
              f"{r['peak_rss_mib_portal']:>15.0f} {r['peak_rss_mib_portal_mkdocs']:>14.0f} "
              f"{r['peak_rss_mib_plain_mkdocs']:>14.0f}")
    print("portal build: three editions (staff, customers, public) from filtered copies, in parallel; "
          "plain: one `mkdocs build` of the content repository as it is.")


if __name__ == "__main__":
    main()
