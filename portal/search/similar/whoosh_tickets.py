"""The Whoosh ticket index: ``$PORTAL_HOME/index-tickets``, generations swapped through ``CURRENT`` as the article
index's are (``search.index.generations``); ``portal.json`` of a generation holds its watermark."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh import query as wq
from whoosh.reading import TermNotFound
from whoosh.fields import ID, TEXT, Schema

from portal import locks
from portal.config import Settings
from portal.db import make_engine
from portal.search import analysis
from portal.search.index import ranking, whoosh_files
from portal.search.index.generations import IndexStore, writing
from portal.search.index.protocol import Progress
from portal.search.similar import documents
from portal.search.similar.documents import TicketText, Wanted
from portal.search.similar.index import WRITE_LOCK, WRITE_LOCK_TIMEOUT, Following, IndexedTicket, Match

WRITER_LIMIT_MB = 256
OPEN_ATTEMPTS = 3
log = logging.getLogger("portal.search.tickets")

whoosh_files.install()  # before any index is opened: segments read in place, not copied per searcher
ALLOWED_CACHE = 64  # (scope, organisation) document sets kept per searcher
EXACT_FREQUENCY = 16  # a term in at most this many documents is counted through its postings (see _frequency)
_FIELDS = {"words": "text", "codes": "codes"}


def build_schema(mode: str) -> Schema:
    return Schema(
        ticket_id=ID(stored=True, unique=True),
        organization=ID(),
        scope=ID(),
        text=TEXT(analyzer=analysis.text_analyzer(mode)),  # summary␞module, version␞the rest, weighted 4/2/1
        codes=TEXT(analyzer=analysis.code_analyzer(), phrase=False),
    )


def document(ticket: IndexedTicket) -> dict[str, Any]:
    value = ticket.text.sectioned()
    return {"ticket_id": ticket.ticket_id, "organization": str(ticket.organization_id),
            "scope": documents.scope(ticket.status, ticket.is_open, ticket.merged), "text": value, "codes": value}


def _holding(searcher, kind: str, term: str, ordered: list[int]) -> list[int]:
    """Which of the (sorted) live documents hold the term: its postings walked to them only."""
    matcher = wq.Term(_FIELDS[kind], term).matcher(searcher)
    found = []
    for doc in ordered:
        if not matcher.is_active():
            break
        if matcher.id() < doc:
            matcher.skip_to(doc)
            if not matcher.is_active():
                break
        if matcher.id() == doc:
            found.append(doc)
    return found


class _Reader:
    """One generation as this process reads it: the open index, a searcher per thread, allowed-document sets."""

    def __init__(self, gen: Path):
        self.gen = gen
        self.ix = windex.open_dir(str(gen))
        self._local = threading.local()
        self._lock = threading.Lock()
        self._allowed: dict[tuple[int, str, int | None], set[int]] = {}

    def searcher(self):
        searcher = getattr(self._local, "searcher", None)
        if searcher is None:
            searcher = self._local.searcher = self.ix.searcher()
        elif not searcher.up_to_date():
            # A new searcher, not refresh(): refresh reuses the reader of a segment whose deletions changed, and
            # a ticket updated in place would still be found under its old scope.
            searcher.close()
            searcher = self._local.searcher = self.ix.searcher()
        return searcher

    def allowed(self, searcher, scope: str, organization_id: int | None) -> set[int]:
        """The documents of a scope (and organisation): the filter the lookup applies inside its search."""
        key = (searcher.ixreader.generation(), scope, organization_id)
        with self._lock:
            found = self._allowed.get(key)
        if found is None:
            q: wq.Query = wq.Term("scope", scope)
            if organization_id is not None:
                q = wq.And([q, wq.Term("organization", str(organization_id))])
            found = set(q.docs(searcher))
            ixreader = searcher.reader()
            if ixreader.has_deletions():  # a query's docs() still lists documents replaced since the last merge
                found = {d for d in found if not ixreader.is_deleted(d)}
            with self._lock:
                if len(self._allowed) >= ALLOWED_CACHE:
                    self._allowed.clear()
                self._allowed[key] = found
        return found

    def forget(self) -> None:
        """Drop this thread's searcher (it is opened anew on the next lookup)."""
        searcher = getattr(self._local, "searcher", None)
        self._local.searcher = None
        if searcher is not None:
            try:
                searcher.close()
            except OSError:
                pass

    def close(self) -> None:
        self.ix.close()


class WhooshTickets(Following):
    def __init__(self, settings: Settings, mode: str = analysis.DEFAULT_MODE):
        Following.__init__(self)
        self.settings = settings
        self.mode = mode
        self.engine = make_engine(settings.effective_database_url, connections=2)
        self.store = IndexStore(settings.home_path / "index-tickets")
        self._reader: _Reader | None = None
        self._reader_lock = threading.Lock()

    # --- the live generation -------------------------------------------------------------------------
    def _usable(self, gen: Path | None) -> bool:
        meta = (self.store.meta(gen) if gen is not None else None) or {}
        return meta.get("schema") == documents.SCHEMA_VERSION and meta.get("mode") == self.mode \
            and "watermark" in meta

    def _current(self) -> _Reader | None:
        gen = self.store.current()
        if not self._usable(gen):
            return None
        with self._reader_lock:
            if self._reader is None or self._reader.gen != gen:
                previous, self._reader = self._reader, _Reader(gen)  # type: ignore[arg-type]
                if previous is not None:
                    previous.close()
            return self._reader

    def _watermark(self) -> dt.datetime | None:
        gen = self.store.current()
        if not self._usable(gen):
            return None
        return dt.datetime.fromisoformat((self.store.meta(gen) or {})["watermark"])  # type: ignore[arg-type]

    def _version(self) -> tuple[str, int] | None:
        """The live generation and its table of contents' generation (every commit of a writer moves it)."""
        reader = self._current()
        if reader is None:
            return None
        try:
            return reader.gen.name, reader.ix.latest_generation()
        except OSError:
            return None

    # --- writing -------------------------------------------------------------------------------------
    def _write(self, tickets: list[IndexedTicket], watermark: dt.datetime) -> None:
        gen = self.store.current()
        assert gen is not None
        with writing(gen, limitmb=WRITER_LIMIT_MB) as writer:
            for ticket in tickets:
                writer.update_document(**document(ticket))
        meta = self.store.meta(gen) or {}
        known = int(meta.get("tickets", 0))
        self.store.write_meta(gen, watermark=watermark.isoformat(), updated_at=time.time(),
                              tickets=max(known, self._count(gen)))

    @staticmethod
    def _count(gen: Path) -> int:
        ix = windex.open_dir(str(gen))
        try:
            return ix.doc_count()
        finally:
            ix.close()

    def _build(self, batches: Iterator[list[IndexedTicket]], watermark: dt.datetime, total: int,
               progress: Progress | None, started: float) -> dict[str, Any]:
        with self.store.building() as gen:
            ix = windex.create_in(str(gen), build_schema(self.mode))
            done = 0
            with writing(ix, limitmb=WRITER_LIMIT_MB, optimize=True) as writer:
                for batch in batches:
                    for ticket in batch:
                        writer.add_document(**document(ticket))
                    done += len(batch)
                    if progress:
                        progress(min(done, total), total)
            ix.close()
            self.store.write_meta(gen, watermark=watermark.isoformat(), schema=documents.SCHEMA_VERSION,
                                  mode=self.mode, tickets=done, built_at=time.time(),
                                  build_seconds=round(time.monotonic() - started, 3))
            with locks.shared(self.settings, WRITE_LOCK, timeout=WRITE_LOCK_TIMEOUT, what="Обновление индекса заявок"):
                self.store.swap(gen)
        return self._described(gen)

    # --- reading -------------------------------------------------------------------------------------
    def wanted(self, text: TicketText) -> Wanted:
        reader = self._current()
        if reader is None:
            return Wanted([], [])
        searcher = reader.searcher()
        return self._wanted(searcher, text)

    def _wanted(self, searcher, text: TicketText, exclude: str | None = None) -> Wanted:
        own = None
        docnum = self._live_docnum(searcher, exclude) if exclude is not None else None
        if docnum is not None:
            def own(kind: str, term: str) -> bool:
                return bool(_holding(searcher, kind, term, [docnum]))
        return documents.wanted(documents.analyse(text, self.mode), self._frequency(searcher), searcher.doc_count(),
                                own)

    @staticmethod
    def _live_docnum(searcher, ticket_id: str) -> int | None:
        """The live document of a ticket (its postings leave replaced copies out), or None when it is not indexed."""
        try:
            return next(iter(searcher.reader().postings("ticket_id", ticket_id).all_ids()), None)
        except TermNotFound:
            return None

    @staticmethod
    def _frequency(searcher):
        """How many live tickets hold a term. Whoosh's document frequency still counts a ticket's copies replaced by
        catch-ups until their segments merge — every ticket, right after a rebuild's closing catch-up — so a rare
        term (the ones that decide a lookup and its likeness) is counted through its postings, which leave them
        out; a common one is scaled by the live share (its idf hardly moves). PostgreSQL counts exactly: without
        this the backends' likeness parted by up to 0.13."""
        ixreader = searcher.reader()
        if not ixreader.has_deletions():
            return lambda kind, term: searcher.doc_frequency(_FIELDS[kind], term)
        live = searcher.doc_count() / max(1, searcher.doc_count_all())

        def frequency(kind: str, term: str) -> int:
            counted = searcher.doc_frequency(_FIELDS[kind], term)
            if counted == 0:
                return 0
            if counted <= EXACT_FREQUENCY:
                return sum(1 for _ in ixreader.postings(_FIELDS[kind], term).all_ids())
            return max(1, round(counted * live))

        return frequency

    def similar(self, text: TicketText, *, scope: str, organization_id: int | None = None,
                exclude: str | None = None, limit: int = 5) -> list[Match]:
        self._maybe_check()
        for attempt in range(OPEN_ATTEMPTS):
            try:
                return self._similar(text, scope=scope, organization_id=organization_id, exclude=exclude,
                                     limit=limit)
            except OSError:
                # A writer's commit removed the files of the version this searcher was opening (Whoosh deletes
                # a superseded table of contents at once): the next attempt opens the new one.
                if attempt == OPEN_ATTEMPTS - 1:
                    log.exception("the ticket index could not be read; no similar tickets this time")
                    return []
                self._forget_searcher()
                time.sleep(0.05 * (attempt + 1))
        return []

    def _forget_searcher(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.forget()

    def _similar(self, text: TicketText, *, scope: str, organization_id: int | None, exclude: str | None,
                 limit: int) -> list[Match]:
        reader = self._current()
        if reader is None:
            self.catch_up_later()  # no index yet: built in the background, the page does not wait
            return []
        searcher = reader.searcher()
        want = self._wanted(searcher, text, exclude)
        if want.empty:
            return []
        allowed = reader.allowed(searcher, scope, organization_id)
        if not allowed:
            return []
        candidates: set[int] = set()
        for seed in want.seeds():
            candidates.update(d for d in wq.Term(_FIELDS[seed.kind], seed.term).docs(searcher) if d in allowed)
        if not candidates:
            return []
        # The article search's BM25F scorer: each term walks its postings to the candidates only.
        likeness = wq.Or([wq.Term(_FIELDS[t.kind], t.term, boost=t.weight) for t in want.terms])
        best = [(score, d) for score, d in ranking.score(searcher, likeness, candidates, limit + 1)
                if searcher.stored_fields(d)["ticket_id"] != exclude][:limit]
        held = self._held(searcher, want, [d for _score, d in best])
        return [Match(searcher.stored_fields(d)["ticket_id"], round(float(score), 4), want.likeness(held[d]))
                for score, d in best]

    @staticmethod
    def _held(searcher, want: Wanted, docs: list[int]) -> dict[int, float]:
        """The summed weight of the lookup's telling terms each of ``docs`` holds (postings walked to them)."""
        held = dict.fromkeys(docs, 0.0)
        ordered = sorted(docs)
        for t in want.terms:
            if t.telling:
                for doc in _holding(searcher, t.kind, t.term, ordered):
                    held[doc] += t.weight
        return held

    def info(self) -> dict[str, Any]:
        gen = self.store.current()
        if gen is None:
            return {}
        return self._described(gen)

    def _described(self, gen: Path) -> dict[str, Any]:
        return {**(self.store.meta(gen) or {}), "backend": "whoosh", "where": str(gen)}

    def close(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        self.engine.dispose()
