#!/usr/bin/env python3
"""Benchmark of knowledge-base search: the Whoosh index against SQLite FTS5 over the same corpus and queries.

    .venv/bin/python scripts/bench/search.py speed --sizes 1000 10000 [50000] [--queries 400]
    .venv/bin/python scripts/bench/search.py speed --corpus real --sizes 10000 [--keep DIR]
        [--during-build | --during-rebuild]
    .venv/bin/python scripts/bench/search.py relevance
    .venv/bin/python scripts/bench/search.py analyzers

``speed`` generates a Russian support corpus of each size into a fresh content repository (git),
builds the index (time, size, articles/s, peak memory), measures query latency in-process and over
HTTP (the portal under uvicorn on loopback, a bearer token, keep-alive), and runs SQLite FTS5 over
the same articles and queries as the baseline; it prints p50/p95 and the ratios. ``--keep DIR`` keeps each
size's data home (content and index) in DIR and reuses it on the next run, which then measures searching only
(a change to the search code without the rebuild: 8 minutes of CPU at 10,000 real articles). ``--during-build``
runs the searches over HTTP while `portal kb build` renders the public site in another process, as a publish
starts it; ``--during-rebuild`` while `portal search rebuild` writes a new generation (the searches answer from the
live one), waiting for the rebuild to swap in before it ends.
``relevance`` runs this portal, a plain Whoosh index (``LanguageAnalyzer('ru')``, OR queries), SQLite
FTS5 and tantivy (its Russian stemmer) on the same real documents and queries — Debian's Russian man
pages, tests/search/manpages.py — and prints strict top-1, top-3, MRR and query latency for each.
``analyzers`` compares the Russian analyzers (stem, lemma, hybrid) on the fixture suite of
tests/search/corpus.py: hits in the top 3, first places, MRR, index build time and query latency.

It runs under ``nice`` and one process at a time, so other work on the machine keeps going.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from _serving import free_port  # noqa: E402  (scripts/bench/ is this script's folder)

from portal.config import Settings  # noqa: E402
from portal.content import ContentRepo  # noqa: E402
from portal.knowledge.frontmatter import join  # noqa: E402
from portal.search import analysis  # noqa: E402
from portal.search.index import SearchRequest, WhooshIndex  # noqa: E402
from portal.wiring import wire  # noqa: E402

wire()  # the hooks every portal process has: index updates, close guards, jobs, blob references

SECRET = "bench-secret-key-not-for-production"
AUDIENCE = ("public", "customers")

# --- the generated corpus -----------------------------------------------------------------------------

MODULES = ["rum", "stm", "collector", "platform", "api", "reports", "alerts", "agent-windows", "agent-linux", "ui"]
KINDS = ["problem", "known_issue", "consultation", "howto"]
VERSIONS = [f"5.{minor}.{patch}" for minor in range(0, 4) for patch in range(0, 12)]
TAGS = ["агент", "сниппет", "сеть", "прокси", "ssl", "лицензия", "обновление", "отчёты", "дашборд", "api",
        "производительность", "безопасность", "windows", "linux", "браузер", "капча", "расписание", "csv"]
SUBJECTS = ["RUM-агент", "агент STM", "сниппет", "коллектор", "сервер приложений", "балансировщик", "скрипт проверки",
            "сценарий синтетического мониторинга", "дашборд", "отчёт", "планировщик", "модуль уведомлений",
            "установщик агента", "прокси-сервер", "браузерный рекордер", "REST API", "экспорт CSV", "база данных"]
SYMPTOMS = ["не запускается", "завершается с ошибкой", "не отправляет данные", "зависает после обновления",
            "падает по таймауту", "возвращает HTTP 502", "возвращает HTTP 504", "показывает пустой график",
            "не проходит авторизацию", "переполняет диск", "теряет сеансы", "медленно открывается",
            "не видит сертификат", "дублирует события", "сбрасывает настройки"]
ERRORS = ["ERR_CONNECTION_TIMED_OUT", "ERR_CONNECTION_REFUSED", "ERR_CERT_DATE_INVALID", "ERR_NAME_NOT_RESOLVED",
          "0x80070005", "0x80070002", "0x80004005", "0xC0000005", "HTTP 502", "HTTP 503", "HTTP 504", "HTTP 401",
          "ORA-12541", "ECONNRESET", "EACCES"]
CAUSES = [
    "устаревшая версия сниппета кэшируется браузером", "политика Content-Security-Policy запрещает скрипт агента",
    "межсетевой экран закрывает порт коллектора", "срок действия сертификата истёк",
    "часы агента расходятся с сервером", "служебная учётная запись LDAP заблокирована",
    "очередь коллектора переполнена", "прокси закрывает простаивающие соединения",
    "балансировщик не дожидается ответа сервера приложений", "в сценарии устарел селектор кнопки входа",
    "лицензия истекла", "диск сервера хранения заполнен", "часовой пояс отчёта не задан",
    "включено агрессивное сэмплирование", "расширение браузера блокирует маяки",
    "DNS-сервер заказчика не разрешает имя коллектора", "антивирус удаляет файлы установщика",
    "у службы нет прав на каталог данных", "капча на странице входа останавливает сценарий",
    "SMTP-сервер отклоняет письма без авторизации", "переходы SPA не отслеживаются",
    "индекс базы данных фрагментирован", "планировщик запускает проверки одновременно",
]
FIXES = [
    "обновите сниппет и очистите кэш CDN", "добавьте домен коллектора в script-src и connect-src",
    "откройте порт 443 до коллектора", "обновите сертификат сайта", "синхронизируйте время по NTP",
    "разблокируйте служебную учётную запись и смените пароль", "увеличьте лимит очереди queue.maxSize",
    "увеличьте таймаут шага скрипта", "увеличьте тайм-аут балансировщика", "перезапишите сценарий в рекордере",
    "загрузите новый файл лицензии", "освободите место и настройте ротацию", "укажите часовой пояс в настройках",
    "уменьшите параметр sampleRate", "добавьте исключение для домена маяков", "пропишите имя коллектора в DNS",
    "добавьте каталог установщика в исключения антивируса", "выдайте службе права на каталог",
    "отключите капчу для адресов агентов", "включите авторизацию SMTP", "включите параметр trackSpaRoutes",
    "перестройте индексы базы данных", "разнесите проверки по времени",
]
GENERAL = [
    "Если ошибка {error} сохраняется, соберите журналы и приложите их к заявке.",
    "Заказчики сообщали о похожем поведении в заявке {ticket}.",
    "Исправление включено в пакет обновлений для версии {version}.",
    "Для диагностики включите подробное журналирование и повторите {action}.",
    "Проблема воспроизводится в браузере {browser}.",
    "Вторая линия рекомендует обновить компонент до последней сборки.",
    "Данные появляются в интерфейсе с задержкой до пяти минут.",
    "The {english_subject} fails with {error} when {english_cause}.",
    "Set the option and restart the {english_subject} service.",
]
BROWSERS = ["Chrome 131", "Firefox 133", "Edge 131", "Safari 18", "Яндекс Браузер"]
ACTIONS = ["запуск проверки", "запись сценария", "установку агента", "экспорт отчёта", "вход в систему"]
ENGLISH = ["agent", "collector", "snippet", "recorder", "scheduler", "gateway", "exporter"]
ENGLISH_CAUSES = ["the proxy closes idle connections", "the certificate expires", "the queue is full",
                  "the license expires", "the disk is full"]
SYLLABLES = ["ка", "ро", "ми", "зу", "те", "ла", "ни", "вос", "тра", "пре", "ком", "нос", "лек", "ди", "ва", "шу"]


def rare_word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 5))) + rng.choice(["ия", "ость", "ник", "ка"])


def generate(n: int, seed: int = 42) -> list[dict]:
    """Articles of one subject and symptom each, with their own causes and fixes, some shared phrasing,
    codes and a long tail of rare words: common words are common, most words are not everywhere."""
    rng = random.Random(seed)
    articles = []
    for i in range(n):
        module = rng.choice(MODULES)
        subject, symptom = rng.choice(SUBJECTS), rng.choice(SYMPTOMS)
        version = rng.choice(VERSIONS)
        ticket = f"PRM-{rng.choice([2024, 2025, 2026])}-{i:05d}"
        error = rng.choice(ERRORS)
        causes, fixes = rng.sample(CAUSES, 2), rng.sample(FIXES, 2)
        slots = dict(version=version, error=error, ticket=ticket, browser=rng.choice(BROWSERS),
                     action=rng.choice(ACTIONS), english_subject=rng.choice(ENGLISH),
                     english_cause=rng.choice(ENGLISH_CAUSES))
        body = [f"{subject.capitalize()} {symptom} после обновления до версии {version}.",
                f"## Причина\nЧаще всего {causes[0]}; реже {causes[1]}.",
                f"## Решение\n1. {fixes[0].capitalize()}.\n2. {fixes[1].capitalize()}.",
                " ".join(rng.choice(GENERAL).format(**slots) for _ in range(rng.randint(2, 4))),
                " ".join(rare_word(rng) for _ in range(rng.randint(2, 8))).capitalize() + "."]
        articles.append({
            "path": f"kb/{module}/article-{i:05d}.md",
            "title": f"{subject.capitalize()} {symptom}" + (f": {error}" if rng.random() < 0.4 else ""),
            "summary": f"{subject.capitalize()} {symptom}: {causes[0]}.",
            "kind": rng.choice(KINDS), "module": module,
            "product_versions": sorted(set(rng.sample(VERSIONS, rng.randint(1, 3)) + [version])),
            "tickets": [ticket], "tags": rng.sample(TAGS, rng.randint(1, 3)),
            "visibility": rng.choices(["public", "customers", "internal"], weights=[5, 4, 1])[0],
            "status": "published" if rng.random() < 0.95 else "draft",
            "body": "\n\n".join(body),
        })
    return articles


def queries(articles: list[dict], n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    fixed = ["агент не запускается", "ошибка авторизации LDAP", "сертификат истёк", "переполняет диск",
             "сниппет кэшируется", "таймаут шага скрипта", "HTTP 502", "ERR_CONNECTION_TIMED_OUT", "0x80070005",
             "5.2.1", '"пакет обновлений"', "RUM сэмплирование", "синтетический мониторинг капча",
             "коллектор теряет сеансы", "агент не отправляет данные после обновления", "proxy closes connections",
             "collector fails", "ашибка авторизации", "сертефикат сайта", "экспорт CSV медленно",
             "дашборд показывает пустой график", "маяки блокирует расширение", "часовой пояс отчёта",
             "лицензия истекла", "антивирус удаляет установщик"]
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append(rng.choice(articles)["tickets"][0])
        else:
            out.append(fixed[i % len(fixed)])
    rng.shuffle(out)
    return out


# --- building ---------------------------------------------------------------------------------------


def real_corpus(n: int) -> list[dict]:
    """Debian's Russian man pages (tests/search/manpages.py) repeated up to ``n`` real-length articles: each copy
    after the first has its own path, a numbered title, its body's sections rotated and a ticket ID of its
    own, so the index holds n distinct long documents with the vocabulary and lengths of real ones."""
    from tests.search import manpages

    pages = manpages.load()
    out = []
    for i in range(n):
        page, copy = pages[i % len(pages)], i // len(pages)
        parts = page["body"].split("\n\n## ")
        turn = copy % len(parts) if len(parts) > 1 else 0
        body = "\n\n## ".join(parts[turn:] + parts[:turn]) if turn else page["body"]
        section, slug = page["path"].split("/")[1:]
        out.append({**page, "path": f"kb/{section}-{copy}/{slug}" if copy else page["path"],
                    "title": f"{page['title']} ({copy + 1})" if copy else page["title"], "body": body,
                    "tickets": [f"PRM-2026-{i:05d}"]})
    return out


def real_queries(articles: list[dict], n: int, seed: int = 7) -> list[str]:
    """The man-page suite's natural queries, a third of them ticket IDs, as in ``queries``."""
    from tests.search import manpages

    rng = random.Random(seed)
    texts = [text for text, _ in manpages.QUERIES]
    out = [rng.choice(articles)["tickets"][0] if i % 3 == 0 else texts[i % len(texts)] for i in range(n)]
    rng.shuffle(out)
    return out


# What the searches over HTTP can run beside (--during-build, --during-rebuild): the portal's own command, in
# another process, as publishing (the site build) or an operator or an upgrade (the index rebuild) starts it.
BACKGROUND_WORK = {
    "build": ("`portal kb build` of the public edition", ["kb", "build", "--edition", "public"]),
    "rebuild": ("`portal search rebuild` (a new generation beside the live one)", ["search", "rebuild"]),
}


def background_work(settings: Settings, kind: str) -> subprocess.Popen:
    env = {**os.environ, "PORTAL_HOME": str(settings.home), "PORTAL_SECRET_KEY": SECRET, "PORTAL_RUN_JOBS": "false",
           "PORTAL_LOG_LEVEL": "warning"}
    return subprocess.Popen([sys.executable, "-c", "from portal.cli import main; main()", *BACKGROUND_WORK[kind][1]],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_home(articles: list[dict], base: Path) -> Settings:
    home = base / "home"
    settings = Settings(home=home, secret_key=SECRET, run_jobs=False)
    repo = ContentRepo(settings)
    repo.ensure()
    with repo.repo() as git_repo:
        for path in git_repo.git.ls_files("kb").splitlines():
            if path.endswith(".md"):
                git_repo.git.rm("-q", "--", path)
        for a in articles:
            target = repo.path / a["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            meta = {k: v for k, v in a.items() if k not in ("path", "body")}
            target.write_text(join(meta, a["body"]), encoding="utf-8")
        shutil.copy(ROOT / "kb" / "synonyms.txt", repo.path / "kb" / "synonyms.txt")
        git_repo.git.add("--all", "--", "kb")
        git_repo.index.commit("bench corpus")
    return settings


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - started) * 1000)
    return out


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- SQLite FTS5, the baseline ------------------------------------------------------------------------


def fts_build(articles: list[dict], path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("CREATE VIRTUAL TABLE docs USING fts5(slug UNINDEXED, visibility UNINDEXED, title, summary, body, "
                 "tokenize='unicode61 remove_diacritics 2')")
    conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?)",
                     [(a["path"], a["visibility"], a["title"], a["summary"], a["body"]) for a in articles
                      if a["status"] == "published"])
    conn.commit()
    return conn


def fts_query(conn: sqlite3.Connection, text: str) -> list:
    terms = [t for t in analysis.code_tokens(text) if t not in analysis.STOPWORDS]
    if not terms:
        return []
    match = " AND ".join('"' + t.replace('"', "") + '"' for t in terms)
    sql = ("SELECT slug, bm25(docs, 0, 0, 4.0, 2.0, 1.0) AS score, snippet(docs, 4, '<mark>', '</mark>', '…', 24) "
           "FROM docs WHERE docs MATCH ? AND visibility IN ('public', 'customers') ORDER BY score LIMIT 10")
    rows = conn.execute(sql, (match,)).fetchall()
    conn.execute("SELECT count(*) FROM docs WHERE docs MATCH ? AND visibility IN ('public', 'customers')",
                 (match,)).fetchone()
    return rows


# --- HTTP --------------------------------------------------------------------------------------------------


def http_latencies(settings: Settings, texts: list[str], *, during: str | None = None) -> tuple[list[float], bool]:
    """Latencies of the searches over HTTP, and whether the background work (``BACKGROUND_WORK``) was running for
    all of them."""
    import httpx

    from portal import migrate
    from portal.accounts import service as accounts
    from portal.db import Database
    from portal.errors import NotFound
    from portal.policy import SystemActor

    db = Database(settings)
    migrate.upgrade(db)
    with db.session_scope() as s:
        try:  # a home kept from an earlier run (--keep) has the bench user already
            accounts.get_user(session=s, username="bench")
        except NotFound:
            accounts.create_user(session=s, actor=SystemActor.operator("bench"), username="bench", role="support",
                                 password="bench-password-123", organization=None, email="bench@example.test",
                                 full_name="Bench")
    db.dispose()
    port = free_port()
    env = {**os.environ, "PORTAL_HOME": str(settings.home), "PORTAL_SECRET_KEY": SECRET, "PORTAL_RUN_JOBS": "false",
           "PORTAL_LOG_LEVEL": "warning"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "portal.app:create_app", "--factory", "--host",
                               "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
                               "--http", "portal.serving:ZeroCopyH11Protocol"],  # as `portal serve` runs it
                              env=env, cwd=ROOT)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/healthz").status_code in (200, 503):
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the portal did not start")
                time.sleep(0.2)
            token = client.post("/api/v1/auth/token", json={"username": "bench",
                                                            "password": "bench-password-123"}).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            client.get("/api/v1/search", params={"q": "прогрев"}, headers=headers)  # opens the index

            def one(text):
                r = client.get("/api/v1/search", params={"q": text}, headers=headers)
                r.raise_for_status()

            if during is None:
                return timed(one, texts), False
            build = background_work(settings, during)
            try:
                time.sleep(5)  # past the command's start: MkDocs reading and rendering, the rebuild analysing
                latencies = timed(one, texts)
                return latencies, build.poll() is None
            finally:
                if during == "rebuild":  # let it swap in its generation: a kept index stays whole for the next run
                    build.wait()
                elif build.poll() is None:
                    build.terminate()
                build.wait(60)
    finally:
        server.terminate()
        server.wait(30)


# --- commands -----------------------------------------------------------------------------------------------


def speed(sizes: list[int], n_queries: int, http: bool, corpus: str = "generated", during: str | None = None,
          keep: Path | None = None) -> None:
    print(f"corpus: {corpus}" + (" (Debian's Russian man pages repeated, median body 6,400 characters)"
                                  if corpus == "real" else " (generated support articles)"))
    print("whoosh: in-process, each query computed afresh; http: the portal over loopback, as served (repeated "
          "searches of one index version answered from its cache)"
          + (f", while {BACKGROUND_WORK[during][0]} runs" if during else "")
          + "; fts5: SQLite FTS5, same articles and queries")
    # The build's CPU beside its wall time: on a shared machine the wall time is mostly waiting for a core.
    print(f"{'articles':>8} {'build s':>8} {'cpu s':>6} {'art/s':>6} {'index MB':>8} {'peak MB':>7} | "
          f"{'whoosh p50/p95 ms':>17} "
          f"| {'http p50/p95 ms':>15} | {'fts5 p50/p95 ms':>15} | {'p95 whoosh/fts5':>15} | {'p95 http/fts5':>13}")
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
            base = Path(tmp)
            articles = real_corpus(size) if corpus == "real" else generate(size)
            kept = keep / f"{corpus}-{size}" if keep else None
            if kept and (kept / "home" / "index" / "CURRENT").exists():
                # The index of an earlier run with --keep: only the searches are measured again.
                settings = Settings(home=kept / "home", secret_key=SECRET, run_jobs=False)
                started, cpu_started = time.perf_counter(), time.process_time()
                meta = {"articles": size}
                print(f"  (the index kept in {kept} is reused: the build figures are this run's opening only)")
            else:
                if kept:
                    kept.mkdir(parents=True, exist_ok=True)
                settings = make_home(articles, kept or base)
                started, cpu_started = time.perf_counter(), time.process_time()
                meta = WhooshIndex(settings).rebuild()
            build, build_cpu = time.perf_counter() - started, time.process_time() - cpu_started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            size_mb = dir_size(settings.index_path) / 1024**2
            texts = real_queries(articles, n_queries) if corpus == "real" else queries(articles, n_queries)
            # In-process, every query computed afresh (the cache of answered searches off): the cold figure.
            cold = WhooshIndex(settings, cache_pages=False)
            for text in texts[:20]:
                cold.search(SearchRequest(text=text, audiences=AUDIENCE))
            inproc = timed(lambda t, index=cold: index.search(SearchRequest(text=t, audiences=AUDIENCE)), texts)
            web, built_throughout = http_latencies(settings, texts, during=during) if http else ([], False)
            conn = fts_build(articles, base / "fts.db")
            for text in texts[:20]:
                fts_query(conn, text)
            fts = timed(lambda t, conn=conn: fts_query(conn, t), texts)
            conn.close()
            w50, w95 = percentile(inproc, 50), percentile(inproc, 95)
            h50, h95 = (percentile(web, 50), percentile(web, 95)) if web else (float("nan"), float("nan"))
            f50, f95 = percentile(fts, 50), percentile(fts, 95)
            rate = f"{meta['articles'] / build:>6.0f}" if build >= 0.5 else f"{'—':>6}"  # a kept index: not built here
            print(f"{size:>8} {build:>8.1f} {build_cpu:>6.1f} {rate} {size_mb:>8.1f} "
                  f"{peak:>7.0f} | "
                  f"{w50:>8.1f}/{w95:<8.1f} | {h50:>7.1f}/{h95:<7.1f} | {f50:>7.2f}/{f95:<7.2f} | "
                  f"{w95 / f95:>14.1f}× | {h95 / f95:>12.1f}×", flush=True)
            if during and http and not built_throughout:
                print(f"  ({BACKGROUND_WORK[during][0]} ended before the last search: part of the searches ran "
                      "without it)")
            print(f"  load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1, 5, 15 min) at the end",
                  flush=True)


# --- relevance on real text: the portal against plain baselines ------------------------------------


def _whoosh_plain(articles: list[dict], path: Path):
    """Whoosh as it comes: LanguageAnalyzer('ru'), title/summary/body fields, OR of the words, BM25F."""
    from whoosh import fields, index, qparser
    from whoosh.analysis import LanguageAnalyzer

    ana = LanguageAnalyzer("ru")
    schema = fields.Schema(slug=fields.ID(stored=True), title=fields.TEXT(analyzer=ana, field_boost=4.0),
                           summary=fields.TEXT(analyzer=ana, field_boost=2.0), body=fields.TEXT(analyzer=ana))
    path.mkdir()
    ix = index.create_in(str(path), schema)
    with ix.writer() as w:
        for a in articles:
            w.add_document(slug=a["path"].rsplit("/", 1)[1][:-3], title=a["title"], summary=a["summary"],
                           body=a["body"])
    parser = qparser.MultifieldParser(["title", "summary", "body"], schema, group=qparser.OrGroup)
    searcher = ix.searcher()

    def search(text: str) -> list[str]:
        q = parser.parse(" ".join(analysis.code_tokens(text)))
        return [hit["slug"] for hit in searcher.search(q, limit=10)]
    return search


def _fts5(articles: list[dict], path: Path):
    """SQLite FTS5 with its default tokenizer (unicode61), OR of the words, bm25 with the same weights."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIRTUAL TABLE docs USING fts5(slug UNINDEXED, title, summary, body)")
    conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)",
                     [(a["path"].rsplit("/", 1)[1][:-3], a["title"], a["summary"], a["body"]) for a in articles])
    conn.commit()

    def search(text: str) -> list[str]:
        terms = [t for t in analysis.code_tokens(text) if t not in analysis.STOPWORDS]
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        sql = "SELECT slug FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0, 4.0, 2.0, 1.0) LIMIT 10"
        return [row[0] for row in conn.execute(sql, (match,))]
    return search


def _tantivy(articles: list[dict]):
    """tantivy with its Russian Snowball stemmer (in memory), OR of the words, BM25 with field boosts."""
    import tantivy

    ru = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.lowercase())
          .filter(tantivy.Filter.stemmer("russian")).build())
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("slug", stored=True, tokenizer_name="raw")
    for name in ("title", "summary", "body"):
        builder.add_text_field(name, tokenizer_name="ru_stem")
    ix = tantivy.Index(builder.build())
    ix.register_tokenizer("ru_stem", ru)
    writer = ix.writer()
    for a in articles:
        writer.add_document(tantivy.Document(slug=a["path"].rsplit("/", 1)[1][:-3], title=a["title"],
                                             summary=a["summary"], body=a["body"]))
    writer.commit()
    ix.reload()
    searcher = ix.searcher()

    def search(text: str) -> list[str]:
        words = [t for t in analysis.code_tokens(text) if t not in analysis.STOPWORDS]
        if not words:
            return []
        q = ix.parse_query(" ".join('"' + w.replace('"', "") + '"' for w in words), ["title", "summary", "body"],
                           field_boosts={"title": 4.0, "summary": 2.0})
        return [searcher.doc(address)["slug"][0] for _score, address in searcher.search(q, 10).hits]
    return search


def relevance() -> None:
    """The portal and three baselines on the same real documents and queries (tests/search/manpages.py)."""
    from tests.search import manpages

    reason = manpages.available()
    if reason:
        sys.exit(reason)
    articles = manpages.load()
    print(f"{len(articles)} Russian man pages (manpages-ru, manpages-ru-dev) as articles, "
          f"{len(manpages.QUERIES)} natural queries; strict ranks of the first attempt each engine makes")
    print(f"{'engine':<34} {'top-1':>7} {'top-3':>7} {'MRR':>6} {'p50 ms':>7} {'p95 ms':>7} {'build s':>8}")
    with tempfile.TemporaryDirectory(prefix="bench-relevance-") as tmp:
        base = Path(tmp)

        def portal_engine():
            settings = make_home(articles, base / "portal")
            index = WhooshIndex(settings, cache_pages=False)
            index.rebuild()
            return lambda text: [h.slug for h in index.search(SearchRequest(text=text, audiences=("public",),
                                                                                limit=10)).hits]

        engines = [("portal (Whoosh, families, title)", portal_engine),
                   ("Whoosh LanguageAnalyzer('ru'), OR", lambda: _whoosh_plain(articles, base / "whoosh")),
                   ("SQLite FTS5 unicode61, OR", lambda: _fts5(articles, base / "fts.db"))]
        try:
            import tantivy  # noqa: F401
            engines.append(("tantivy, Russian stemmer, OR", lambda: _tantivy(articles)))
        except ImportError:
            print("tantivy is not installed (pip install -e '.[test]'): its line is left out")
        for name, make in engines:
            started = time.perf_counter()
            search = make()
            build = time.perf_counter() - started
            latencies: list[float] = []

            def measured(text, search=search, latencies=latencies):
                t0 = time.perf_counter()
                out = search(text)
                latencies.append((time.perf_counter() - t0) * 1000)
                return out
            r = manpages.evaluate(measured)
            n = r["n"]
            print(f"{name:<34} {r['top1']:>3}/{n:<3} {r['top3']:>3}/{n:<3} {r['mrr']:>6.3f} "
                  f"{percentile(latencies, 50):>7.1f} {percentile(latencies, 95):>7.1f} {build:>8.1f}", flush=True)


def analyzers() -> None:
    from tests.search.corpus import ARTICLES, RELEVANCE

    print("top-3 / first / MRR: the expected article among the first three, first, reciprocal rank (with every "
          "fallback);\nstrict: in the top 3 already by the first attempt (every word, no correction, no fuzzy)")
    print(f"{'mode':>7} {'top-3':>6} {'first':>6} {'MRR':>6} {'strict':>6} | {'build s':>7} {'p50 ms':>7} "
          f"{'p95 ms':>7} | {'words/s (cold)':>14}")
    sample = " ".join(a["body"] for a in generate(300, seed=3))
    words = analysis.analyse(sample, "stem")
    for mode in analysis.MODES:
        with tempfile.TemporaryDirectory(prefix="bench-relevance-") as tmp:
            settings = make_home([{**a, "status": a.get("status", "published"),
                                   "visibility": a.get("visibility", "public")} for a in ARTICLES], Path(tmp))
            index = WhooshIndex(settings, mode=mode, cache_pages=False)
            started = time.perf_counter()
            index.rebuild()
            build = time.perf_counter() - started
            in_top3 = first = strict = 0
            reciprocal = 0.0
            latencies = []
            for text, expected, _must_be_first in RELEVANCE:
                started = time.perf_counter()
                page = index.search(SearchRequest(text=text, audiences=AUDIENCE, limit=10))
                latencies.append((time.perf_counter() - started) * 1000)
                hits = [h.slug for h in page.hits]
                if expected in hits[:3] and page.matched == "all" and not page.corrected:
                    strict += 1
                if expected in hits[:3]:
                    in_top3 += 1
                if hits[:1] == [expected]:
                    first += 1
                if expected in hits:
                    reciprocal += 1 / (hits.index(expected) + 1)
            # analyzer speed on cold caches: every distinct word analysed once, as a first rebuild does
            for fn in (analysis.lemma, analysis.stem, analysis.english, analysis.hybrid):
                fn.cache_clear()
            started = time.perf_counter()
            for w in set(words):
                analysis.normalise(w, mode)
            per_second = len(set(words)) / (time.perf_counter() - started)
            n = len(RELEVANCE)
            print(f"{mode:>7} {in_top3:>3}/{n} {first:>3}/{n} {reciprocal / n:>6.3f} {strict:>3}/{n} | {build:>7.2f} "
                  f"{percentile(latencies, 50):>7.1f} {percentile(latencies, 95):>7.1f} | {per_second:>14.0f}",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("speed", help="build time, size and latency against SQLite FTS5")
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--queries", type=int, default=400)
    p.add_argument("--no-http", action="store_true", help="skip the measurement over HTTP")
    p.add_argument("--corpus", choices=["generated", "real"], default="generated",
                   help="generated support articles, or Debian's Russian man pages repeated to each size")
    during = p.add_mutually_exclusive_group()
    during.add_argument("--during-build", dest="during", action="store_const", const="build",
                        help="search over HTTP while `portal kb build` runs")
    during.add_argument("--during-rebuild", dest="during", action="store_const", const="rebuild",
                        help="search over HTTP while `portal search rebuild` writes a new generation")
    p.add_argument("--keep", type=Path, help="keep each size's content and index in this folder, and reuse them "
                   "when they are there (measuring a change to searching without rebuilding)")
    sub.add_parser("relevance", help="the portal, plain Whoosh, SQLite FTS5 and tantivy on real man pages")
    sub.add_parser("analyzers", help="compare the Russian analyzers on the fixture relevance suite")
    args = parser.parse_args()
    os.nice(10)
    if args.command == "speed":
        speed(args.sizes, args.queries, not args.no_http, args.corpus, args.during, args.keep)
    elif args.command == "relevance":
        relevance()
    else:
        analyzers()


if __name__ == "__main__":
    main()
