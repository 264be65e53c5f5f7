"""The ticket index as the rest of the portal uses it: plain functions, keyword-only, session first.

* ``similar_solved`` — second line's similar solved tickets beside a ticket (staff only: ``ticket.queue``);
* ``similar_open`` — open tickets of ONE organisation like a text: the duplicate warning of the new-ticket form
  (``duplicates_for``: the customer's own organisation) and e-mail intake's suggestion for a held message.
  The organisation is a condition of the index query itself, so another organisation's ticket is never scored,
  counted or returned; the rows loaded afterwards are checked again;
* ``on_ticket_event`` — tickets' event listener (added by the wiring): after the event's transaction commits,
  this process's thread catches the index up; the request never waits for it;
* ``rebuild`` / ``info`` — ``portal search rebuild --tickets`` and ``portal search status``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import policy
from portal.config import Settings
from portal.knowledge import service as knowledge
from portal.registry import Registry
from portal.search.index.protocol import Progress
from portal.search.similar.documents import TicketText
from portal.search.similar.index import Match, TicketIndex
from portal.search.similar.pg_tickets import PgTickets
from portal.search.similar.whoosh_tickets import WhooshTickets
from portal.tickets import service as tickets
from portal.tickets.models import OPEN_STATUSES, Ticket

SOLVED_LIMIT = 5
OPEN_LIMIT = 3
MAX_LIMIT = 10
# The least likeness (index.Match: the share of the weight of a lookup's most telling terms a ticket holds, alike on
# both backends) a solved ticket needs to be offered. Chosen on the labelled set (tests/similar/test_threshold.py,
# docs/search.md «Похожие заявки»): in the middle of the range 0.14–0.18 where the panel still shows the answer to
# 56 of 60 new tickets; it shows 84–88 weak matches to the 60 lookups whose answer is not there instead of 300.
MIN_LIKENESS = 0.16


class TicketPackages(Protocol):
    """The fix packages that contain a ticket (releases' ``packages_for_ticket``; added by the wiring)."""

    def __call__(self, *, session: Session, ticket_id: str) -> list: ...


# Releases sit above search in the layers: the wiring tells search which packages contain a ticket.
TICKET_PACKAGES: Registry[TicketPackages] = Registry("search.similar.ticket_packages")

_BACKENDS: dict[tuple[str, str, str], TicketIndex] = {}
_BACKENDS_LOCK = threading.Lock()
MAX_BACKENDS = 8


def backend(settings: Settings) -> TicketIndex:
    """The process's ticket index for this data home and database, as ``PORTAL_SEARCH_BACKEND`` chooses."""
    key = (settings.search_backend, settings.effective_database_url, str(settings.home_path))
    with _BACKENDS_LOCK:
        found = _BACKENDS.pop(key, None)
        if found is None:
            found = PgTickets(settings) if settings.search_backend == "postgresql" else WhooshTickets(settings)
        _BACKENDS[key] = found
        while len(_BACKENDS) > MAX_BACKENDS:
            old = _BACKENDS.pop(next(iter(_BACKENDS)))
            PANEL_CACHE.forget(old)
            close = getattr(old, "close", None)
            if close is not None:
                close()
        return found


# --- similar solved tickets (staff) ---------------------------------------------------------------------

class PanelCache:
    """The matches of the staff ticket page's lookup, per (ticket, its text, limit), for the index version they were
    found in — kept in this process, the least recently used dropped past ``size``. Every staff view of a ticket
    asked the index again though neither the ticket nor the index had changed; the key holds the ticket's text,
    and an index that advanced (a ticket event, on any node: ``TicketIndex.version``) empties its entries. The
    matches only: the rows, articles and packages are still loaded, and permissions checked, on every view."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._lock = threading.Lock()
        self._by_index: dict[int, tuple[object, OrderedDict[tuple, list[Match]]]] = {}
        self.hits = self.misses = 0

    def get(self, index: TicketIndex, version: object, key: tuple) -> list[Match] | None:
        if version is None:
            return None
        with self._lock:
            kept = self._by_index.get(id(index))
            if kept is None or kept[0] != version or key not in kept[1]:
                self.misses += 1
                return None
            kept[1].move_to_end(key)
            self.hits += 1
            return kept[1][key]

    def put(self, index: TicketIndex, version: object, key: tuple, matches: list[Match]) -> None:
        if version is None:
            return
        with self._lock:
            kept = self._by_index.get(id(index))
            if kept is None or kept[0] != version:  # the index advanced: what was found before may be wrong now
                kept = self._by_index[id(index)] = (version, OrderedDict())
            kept[1][key] = matches
            while len(kept[1]) > self.size:
                kept[1].popitem(last=False)

    def forget(self, index: TicketIndex) -> None:
        with self._lock:
            self._by_index.pop(id(index), None)


PANEL_CACHE = PanelCache()


@dataclass
class SolvedTicket:
    ticket: Ticket
    score: float
    likeness: float
    articles: list[Any] = field(default_factory=list)  # knowledge store entries the reader may read
    packages: list[Any] = field(default_factory=list)  # fix packages the reader may see


def _loaded(session: Session, ids: list[str]) -> dict[str, Ticket]:
    if not ids:
        return {}
    return {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))}


def similar_solved(*, session: Session, settings: Settings, user, ticket_id: str,
                   limit: int = SOLVED_LIMIT) -> list[SolvedTicket]:
    """Up to ``limit`` resolved or closed tickets most like this one — none less alike than ``MIN_LIKENESS`` — each
    with the articles that cite it and the fix packages that contain it. Staff only (403 to a customer, 404 for a
    ticket the reader may not see)."""
    policy.require(user, "ticket.queue")
    ticket = tickets.get_ticket(session=session, ticket_id=ticket_id, user=user)
    limit = max(1, min(limit, MAX_LIMIT))
    index = backend(settings)
    text = TicketText.of(ticket)
    version = index.version()
    key = (ticket.id, text, limit)
    matches = PANEL_CACHE.get(index, version, key)
    if matches is None:
        matches = [m for m in index.similar(text, scope="solved", exclude=ticket.id, limit=limit)
                   if m.likeness >= MIN_LIKENESS]
        PANEL_CACHE.put(index, version, key, matches)
    rows = _loaded(session, [m.ticket_id for m in matches])
    found = []
    for match in matches:
        solved = rows.get(match.ticket_id)
        if solved is None or solved.status not in ("resolved", "closed"):
            continue  # the index is behind the table for a moment: the table has the last word
        found.append(SolvedTicket(ticket=solved, score=match.score, likeness=match.likeness,
                                  articles=_articles(settings, user, solved.id),
                                  packages=_packages(session, user, solved.id)))
    return found


def _articles(settings: Settings, user, ticket_id: str) -> list[Any]:
    return [e for e in knowledge.articles_for_ticket(settings=settings, ticket_id=ticket_id)
            if e.meta is not None and policy.allows(user, "article.read", e)]


def _packages(session: Session, user, ticket_id: str) -> list[Any]:
    packages: list[Any] = []
    for lookup in TICKET_PACKAGES:
        packages.extend(p for p in lookup(session=session, ticket_id=ticket_id) if policy.allows(user, "package.view", p))
    return packages


# --- open tickets of one organisation -----------------------------------------------------------------

def similar_open(*, session: Session, settings: Settings, organization_id: int, text: TicketText,
                 limit: int = OPEN_LIMIT, exclude: str | None = None) -> list[Ticket]:
    """Open tickets of organisation ``organization_id`` most like ``text``, best first (for held e-mail: the
    sender's organisation; for the new-ticket form: the customer's own). Never a ticket of another organisation:
    the organisation is a condition of the index query, and each loaded row is checked again."""
    if text.empty:
        return []
    limit = max(1, min(limit, MAX_LIMIT))
    matches = backend(settings).similar(text, scope="open", organization_id=organization_id, exclude=exclude,
                                        limit=limit)
    rows = _loaded(session, [m.ticket_id for m in matches])
    return [rows[m.ticket_id] for m in matches if m.ticket_id in rows
            and rows[m.ticket_id].organization_id == organization_id and rows[m.ticket_id].status in OPEN_STATUSES]


def duplicates_for(*, session: Session, settings: Settings, user, text: TicketText,
                   limit: int = OPEN_LIMIT) -> list[Ticket]:
    """The duplicate warning of the new-ticket form: open tickets of the reader's own organisation like what they
    are typing. Staff filing for a customer get none here (their form names the organisation after the text)."""
    policy.require(user, "ticket.create")
    organization_id = getattr(user, "organization_id", None)
    if organization_id is None:
        return []
    return similar_open(session=session, settings=settings, organization_id=organization_id, text=text, limit=limit)


# --- following the tickets table ------------------------------------------------------------------------

_CATCH_UP_SLOT = "search.similar.catch_up"


def on_ticket_event(*, session: Session, ticket, event) -> None:
    """Tickets' event listener: once the event's transaction commits, the index catches up in a thread."""
    session.info[_CATCH_UP_SLOT] = True
    if not sa_event.contains(session, "after_commit", _after_commit):
        sa_event.listen(session, "after_commit", _after_commit)


def _after_commit(session: Session) -> None:
    # A rolled-back event leaves the flag for the session's next commit: one catch-up too many, never one missed.
    settings = session.info.get("settings")
    if session.info.pop(_CATCH_UP_SLOT, False) and settings is not None:
        backend(settings).catch_up_later()


def rebuild(*, settings: Settings, progress: Progress | None = None) -> dict[str, Any]:
    return backend(settings).rebuild(progress=progress)


def catch_up(*, settings: Settings) -> int | None:
    return backend(settings).catch_up(wait=True)


def info(*, settings: Settings) -> dict[str, Any]:
    return backend(settings).info()
