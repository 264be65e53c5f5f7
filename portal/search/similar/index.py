"""A ticket index: its protocol, the catch-up from the tickets table, and the backend ``PORTAL_SEARCH_BACKEND`` names.

The index follows the ``tickets`` table through ``updated_at`` (every ticket event sets it, in the event's
transaction). It keeps a watermark — the greatest ``updated_at`` it has read — and a catch-up re-indexes the
tickets updated since the watermark less ``SLACK`` (a transaction that committed late with an earlier time is
still read; re-indexing a ticket twice changes nothing). A process that died before it indexed what it wrote
leaves nothing behind: the next catch-up, of any process, reads it. With no index, or one of another schema
or analyzer, the catch-up turns into a full rebuild. Writers take turns on one lock (``locks.shared``: the data
home's file lock, or PostgreSQL's advisory lock every node sees).
"""

from __future__ import annotations

import abc
import datetime as dt
import logging
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal import locks
from portal.config import Settings
from portal.errors import Conflict
from portal.search.index.background import Coalescing
from portal.search.index.protocol import Progress
from portal.search.similar.documents import TicketText, Wanted
from portal.tickets.models import Ticket

log = logging.getLogger("portal.search.tickets")

WRITE_LOCK = "search-tickets"
REBUILD_LOCK = "search-tickets-rebuild"
WRITE_LOCK_TIMEOUT = 60.0
REBUILD_LOCK_TIMEOUT = 30 * 60.0
SLACK = dt.timedelta(minutes=2)
CHECK_SECONDS = 60.0  # a lookup starts a catch-up when none ran for this long (events start one at once)
BATCH = 1000  # tickets read and written per round of a rebuild or a catch-up


@dataclass(frozen=True)
class IndexedTicket:
    """A ticket as the index receives it."""

    ticket_id: str
    organization_id: int
    status: str
    is_open: bool
    updated_at: dt.datetime
    text: TicketText
    merged: bool = False  # a duplicate merged into another ticket: never offered as solved or open


@dataclass(frozen=True)
class Match:
    """A ticket found. ``score`` orders the matches of one lookup and means nothing across backends (Whoosh's BM25F,
    PostgreSQL's sum of term weights); ``likeness`` is the same on both: the share of the lookup's term weight
    (``documents.Wanted``) the ticket holds, 0–1, what the panel's minimum is set on."""

    ticket_id: str
    score: float
    likeness: float = 0.0


class TicketIndex(Protocol):
    """What a ticket index answers; ``similar`` filters inside the query (a ticket outside the scope or the
    organisation is never scored, counted or returned)."""

    def similar(self, text: TicketText, *, scope: str, organization_id: int | None = None,
                exclude: str | None = None, limit: int = 5) -> list[Match]: ...
    def wanted(self, text: TicketText) -> Wanted: ...
    def catch_up(self, *, wait: bool) -> int | None: ...
    def catch_up_later(self) -> None: ...
    def version(self) -> Hashable | None:
        """A value that changes whenever the live index does (any process, any node); None: no usable index."""
    def rebuild(self, *, progress: Progress | None = None) -> dict[str, Any]: ...
    def info(self) -> dict[str, Any]: ...
    def settle(self, timeout: float | None = None) -> None: ...


_COLUMNS = (Ticket.id, Ticket.organization_id, Ticket.status, Ticket.is_open, Ticket.updated_at, Ticket.summary,
            Ticket.description, Ticket.steps_to_reproduce, Ticket.module, Ticket.product_version,
            Ticket.resolution_cause, Ticket.resolution_solution, Ticket.resolution_workaround, Ticket.merged_into_id)


def _indexed(row) -> IndexedTicket:
    return IndexedTicket(ticket_id=row[0], organization_id=row[1], status=row[2], is_open=bool(row[3]),
                         updated_at=row[4], text=TicketText(summary=row[5] or "", description=row[6] or "",
                                                            steps=row[7] or "", module=row[8] or "",
                                                            version=row[9] or "", cause=row[10] or "",
                                                            solution=row[11] or "", workaround=row[12] or ""),
                         merged=row[13] is not None)


class Following(abc.ABC):
    """The catch-up and rebuild every backend shares; the backend writes and keeps the watermark."""

    settings: Settings
    engine: Engine

    def __init__(self) -> None:
        self._runner = Coalescing("portal-search-tickets")
        self._checked = 0.0

    # --- what a backend supplies ------------------------------------------------------------------
    @abc.abstractmethod
    def _watermark(self) -> dt.datetime | None:
        """How far the live index has read the table; None when there is no usable index."""

    @abc.abstractmethod
    def _write(self, tickets: list[IndexedTicket], watermark: dt.datetime) -> None:
        """Index (or re-index) these tickets in the live index and move its watermark; under the write lock."""

    @abc.abstractmethod
    def _build(self, batches: Iterator[list[IndexedTicket]], watermark: dt.datetime, total: int,
               progress: Progress | None, started: float) -> dict[str, Any]:
        """Write a new index of every ticket and make it the live one (readers keep the old one meanwhile)."""

    # --- reading the table ------------------------------------------------------------------------
    def _batches(self, since: dt.datetime | None) -> Iterator[list[IndexedTicket]]:
        """Tickets updated at or after ``since`` (all without it), in batches, in keyset order of their ID."""
        after = ""
        while True:
            with Session(self.engine) as session:
                stmt = select(*_COLUMNS).where(Ticket.id > after).order_by(Ticket.id).limit(BATCH)
                if since is not None:
                    stmt = stmt.where(Ticket.updated_at >= since)
                rows = session.execute(stmt).all()
            if not rows:
                return
            yield [_indexed(r) for r in rows]
            after = rows[-1][0]

    def _table_mark(self) -> tuple[int, dt.datetime | None]:
        with Session(self.engine) as session:
            count, latest = session.execute(select(func.count(Ticket.id), func.max(Ticket.updated_at))).one()
        return int(count), latest

    # --- following --------------------------------------------------------------------------------
    def catch_up(self, *, wait: bool) -> int | None:
        """Re-index the tickets updated since the watermark (a rebuild when there is no usable index). Returns
        how many were re-indexed, or None when ``wait`` is false and another writer is busy."""
        self._checked = time.monotonic()
        try:
            with locks.shared(self.settings, WRITE_LOCK, timeout=WRITE_LOCK_TIMEOUT if wait else 0.0,
                              what="Обновление индекса заявок"):
                mark = self._watermark()
                if mark is not None:
                    done = 0
                    latest = mark
                    for batch in self._batches(mark - SLACK):
                        latest = max([latest, *(t.updated_at for t in batch)])
                        self._write(batch, latest)
                        done += len(batch)
                    return done
        except Conflict:
            if wait:
                raise
            return None
        return int(self.rebuild()["tickets"])

    def catch_up_later(self) -> None:
        """A catch-up in this index's background runner (one running, one pending: a burst of ticket events
        costs two catch-ups, and the second reads what the first missed)."""
        self._runner.request(self._catch_up_behind)

    def _catch_up_behind(self) -> None:
        try:
            self.catch_up(wait=True)
        except Conflict:
            # a rebuild holds the index: its closing catch-up reads what this one would have
            log.info("ticket index busy (a rebuild); this catch-up is left to it")

    def version(self) -> Hashable | None:
        """What ``TicketIndex.version`` says; a cached lookup still keeps the lookups' safety-net catch-up."""
        self._maybe_check()
        return self._version()

    @abc.abstractmethod
    def _version(self) -> Hashable | None: ...

    def _maybe_check(self) -> None:
        """A lookup's safety net: a catch-up now and then even when no event of this process asked for one."""
        if time.monotonic() - self._checked > CHECK_SECONDS:
            self._checked = time.monotonic()
            self.catch_up_later()

    def settle(self, timeout: float | None = None) -> None:
        """Wait for this process's background catch-up (the command line, tests)."""
        self._runner.settle(timeout)

    @property
    def runner(self) -> Coalescing:
        return self._runner

    def rebuild(self, *, progress: Progress | None = None) -> dict[str, Any]:
        """Index every ticket anew; lookups keep answering from the old index until the new one is live."""
        with locks.shared(self.settings, REBUILD_LOCK, timeout=REBUILD_LOCK_TIMEOUT,
                          what="Перестроение индекса заявок"):
            started = time.monotonic()
            total, latest = self._table_mark()
            watermark = latest or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            info = self._build(self._batches(None), watermark, total, progress, started)
            log.info("ticket index rebuilt: %d tickets in %.1f s", info.get("tickets", 0), time.monotonic() - started)
        # What was written while the rebuild read the table is caught up from the watermark it took.
        self.catch_up(wait=True)
        return info


Backends = Callable[[Settings], TicketIndex]
