"""Search as the rest of the portal uses it: plain functions, keyword-only, session first.

Visibility comes from the one policy: the audiences a reader may see are asked of
``policy.allows(user, "article.read", …)`` and become part of the index query itself.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import re
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import policy
from portal.config import Settings
from portal.db import utcnow
from portal.errors import Invalid
from portal.i18n import message
from portal.knowledge.fixed_in import readable_packages
from portal.knowledge.frontmatter import VISIBILITIES
from portal.search import query as sq
from portal.search.index import Hit, Progress, SearchPage, SearchRequest, backend
from portal.search.models import SearchLogEntry

log = logging.getLogger("portal.search")

MAX_LIMIT = 50
MAX_OFFSET = 1000
SUGGEST_LIMIT = 8
SORTS = ("relevance", "date")

def audiences(user) -> tuple[str, ...]:
    """Visibilities of the articles this reader may see, by the policy's article rule."""
    return tuple(v for v in VISIBILITIES if policy.allows(user, "article.read", SimpleNamespace(visibility=v)))


def _role(user) -> str:
    return user.role if user is not None else "anonymous"


@dataclass
class Results:
    page: SearchPage
    query: str
    fixed_in: dict[str, str]  # package id → title, for the hits' fixed_in packages that are published

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.page.total,
            "hits": [hit_dict(h, self.fixed_in) for h in self.page.hits],
            "facets": self.page.facets,
            "suggestion": self.page.suggestion,
            "corrected": self.page.corrected,
            "rebuilding": None if self.page.rebuilding is None else dict(zip(("done", "total"), self.page.rebuilding)),
        }


def hit_dict(hit: Hit, fixed_in: dict[str, str] | None = None) -> dict[str, Any]:
    fixed_in = fixed_in or {}
    return {
        "slug": hit.slug, "title": hit.title, "snippet": hit.snippet, "score": hit.score, "url": hit.url,
        "module": hit.module, "kind": hit.kind, "product_versions": hit.product_versions,
        "fixed_in": [{"id": p, "title": fixed_in[p]} for p in hit.fixed_in if p in fixed_in],
    }


def may_search(user, settings: Settings) -> None:
    """Signed-in readers search what they may read. With ``PORTAL_PUBLIC_KB`` an anonymous visitor searches too:
    the policy's article rule gives them the public audience only (``audiences(None)``), and a package is never
    named to them (``package.view`` refuses the anonymous). Otherwise anonymous search is refused (401)."""
    if user is None and settings.public_kb:
        return
    policy.require(user, "search.use")


def fixed_in_titles(session: Session | None, user, package_ids: list[str]) -> dict[str, str]:
    """Titles of the packages among ``package_ids`` this reader may know of (the article page's rule: published,
    and the reader's organisation entitled or the reader staff): a hit never names another customer's package."""
    return {p["id"]: p["title"] for p in readable_packages(session, user, package_ids)}


def search(*, session: Session | None, settings: Settings, user, q: str, module: str | None = None,
           kind: str | None = None, version: str | None = None, tag: str | None = None,
           sort: str = "relevance", limit: int = 10, offset: int = 0) -> Results:
    """Articles the user may read that match ``q`` and the filters, with facets and a "did you mean"."""
    may_search(user, settings)
    errors = {}
    if sort not in SORTS:
        errors["sort"] = message("errors_search.sort")
    if not 1 <= limit <= MAX_LIMIT:
        errors["limit"] = message("errors_search.between", low=1, high=MAX_LIMIT)
    if not 0 <= offset <= MAX_OFFSET:
        errors["offset"] = message("errors_search.between", low=0, high=MAX_OFFSET)
    if len(q or "") > sq.MAX_QUERY_CHARS:
        errors["q"] = message("errors_search.query_long", max=sq.MAX_QUERY_CHARS)
    if errors:
        raise Invalid.fields(errors)
    request = SearchRequest(text=q or "", audiences=audiences(user), module=module or None, kind=kind or None,
                            version=version or None, tag=(tag or "").lower() or None, sort=sort, limit=limit,
                            offset=offset)
    page = backend(settings).search(request)
    packages = sorted({p for h in page.hits for p in h.fixed_in})
    return Results(page=page, query=q or "", fixed_in=fixed_in_titles(session, user, packages))


def suggest(*, settings: Settings, user, q: str, limit: int = SUGGEST_LIMIT) -> list[dict[str, str]]:
    """Articles whose titles match what is being typed (search box, new-ticket form)."""
    may_search(user, settings)
    if len(q or "") > sq.MAX_QUERY_CHARS:
        raise Invalid.fields({"q": message("errors_search.query_long", max=sq.MAX_QUERY_CHARS)})
    hits = backend(settings).suggest(q or "", audiences(user), max(1, min(limit, SUGGEST_LIMIT)))
    return [{"slug": h.slug, "title": h.title, "url": h.url} for h in hits]


def similar(*, settings: Settings, slug: str, user, limit: int = 5) -> list[dict[str, str]]:
    """Articles like this one that the user may read (empty when the user may not read this one)."""
    hits = backend(settings).similar(slug, audiences(user), max(1, min(limit, 20)))
    return [{"slug": h.slug, "title": h.title, "url": h.url} for h in hits]


def rebuild(*, settings: Settings, progress: Progress | None = None) -> dict[str, Any]:
    """Rebuild the index from HEAD into a new generation and swap it in."""
    return backend(settings).rebuild(progress=progress, force=True)


def status(*, settings: Settings) -> dict[str, Any]:
    return backend(settings).info()


def on_articles_changed(*, settings: Settings, commit: str, slugs: list[str]) -> None:
    """Knowledge-base hook: bring the index up to the new commit. A failure leaves the index stale, never
    the publish undone: the next search notices HEAD moved and catches up."""
    index = backend(settings)
    if not index.info().get("commit"):
        return  # no index yet: the first search builds it from HEAD, this commit included
    try:
        index.catch_up(wait=True)
    except Exception:
        log.exception("search index update after commit %s (%s) failed; it will catch up later",
                      commit[:10], ", ".join(slugs))


# --- the search log ---------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def normalize_query(q: str) -> str:
    return _SPACES.sub(" ", sq.clean(q)).strip().lower()[:500]


class LogBuffer:
    """Search-log rows waiting to be written by one background thread per database, in batches.

    A search answers without waiting for a database write (on SQLite every write takes the one write
    lock); rows are written within a second, and at exit. A row lost in a crash is a lost log line.
    """

    FLUSH_SECONDS = 0.2

    def __init__(self, db):
        self.db = db
        self.rows: list[tuple[str, int, str]] = []
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="portal-search-log", daemon=True)
        self.thread.start()
        atexit.register(self._flush_at_exit)

    def add(self, q: str, hits: int, role: str) -> None:
        with self.lock:
            self.rows.append((q, hits, role))
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            time.sleep(self.FLUSH_SECONDS)
            self.wake.clear()
            try:
                self.flush()
            except Exception:  # the database is away for a moment: keep the rows for the next round
                log.exception("writing the search log failed")

    def _flush_at_exit(self) -> None:
        try:
            self.flush()
        except Exception:
            log.warning("search log rows lost at exit: the database was unavailable")

    def flush(self) -> None:
        with self.lock:
            rows, self.rows = self.rows, []
        if not rows:
            return
        try:
            with self.db.session_scope() as session:
                for q, hits, role in rows:
                    _add_entry(session, q, hits, role)
        except Exception:
            with self.lock:
                self.rows[:0] = rows
            raise


_BUFFERS: dict[int, LogBuffer] = {}
_BUFFERS_LOCK = threading.Lock()


def log_later(*, db, q: str, hits: int, user) -> None:
    """Queue one search for the log (query, hit count, role, time of writing)."""
    if not normalize_query(q):
        return
    with _BUFFERS_LOCK:
        buffer = _BUFFERS.get(id(db))
        if buffer is None or buffer.db is not db:
            buffer = _BUFFERS[id(db)] = LogBuffer(db)
    buffer.add(q, hits, _role(user))


def _add_entry(session: Session, q: str, hits: int, role: str) -> SearchLogEntry:
    entry = SearchLogEntry(at=utcnow(), query=sq.clean(q)[:500], normalized=normalize_query(q), hits=hits,
                           role=role)
    session.add(entry)
    return entry


def log_query(*, session: Session, q: str, hits: int, user) -> SearchLogEntry | None:
    """Record one search (query, hit count, role, time); empty queries are not worth a row."""
    if not normalize_query(q):
        return None
    entry = _add_entry(session, q, hits, _role(user))
    session.flush()
    return entry


@dataclass
class Gap:
    query: str
    count: int
    last_at: dt.datetime
    roles: str


def zero_hit_queries(*, session: Session, user, days: int = 30, limit: int = 50) -> list[Gap]:
    """The most frequent queries that found nothing in the last ``days``: what the knowledge base lacks."""
    policy.require(user, "search.insights")
    since = utcnow() - dt.timedelta(days=days)
    rows = session.execute(
        select(SearchLogEntry.normalized, func.count(), func.max(SearchLogEntry.at))
        .where(SearchLogEntry.hits == 0, SearchLogEntry.at >= since)
        .group_by(SearchLogEntry.normalized)
        .order_by(func.count().desc(), func.max(SearchLogEntry.at).desc(), SearchLogEntry.normalized)
        .limit(limit)
    ).all()
    gaps = []
    for normalized, count, last_at in rows:
        roles = session.scalars(select(SearchLogEntry.role).where(
            SearchLogEntry.normalized == normalized, SearchLogEntry.hits == 0, SearchLogEntry.at >= since)
            .distinct()).all()
        gaps.append(Gap(query=normalized, count=count, last_at=last_at, roles=", ".join(sorted(roles))))
    return gaps
