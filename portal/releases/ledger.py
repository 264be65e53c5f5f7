"""The delivery ledger's tamper-evident record: every happening of a package's deliveries, chained per package.

Every ledger change goes through ``append``: a download recorded, a hand-over, an acknowledgement, a
confirmation, and the notices of a withdrawn or replaced package. Each event stores the SHA-256 of its own
canonical content, and that content includes the previous event's hash (``prev_hash``) — so a row edited in
the database no longer matches its hash, and a row deleted leaves a gap in ``seq`` and a ``prev_hash`` that
points at nothing. ``ledger_heads`` keeps each chain's last ``seq`` and hash, so deleting the last event shows
too. ``verify`` walks every chain; ``portal package verify`` prints what it finds.

Two events of one package at once must not both read the same last event and fork the chain: ``append`` takes
the package's chain lock inside the write transaction before it reads the head — on SQLite the transaction is
already the only writer (``BEGIN IMMEDIATE``), on PostgreSQL a transaction-scoped advisory lock per package
(``pg_advisory_xact_lock``, released by the commit or rollback, whichever ends the transaction).

The canonical form is frozen (``CANONICAL_VERSION``): chains written years ago must still verify. Migration
0017 computes it for the backfilled history with its own copy of ``canonical``; change neither.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portal import locks
from portal.db import utcnow
from portal.i18n import Message, message
from portal.releases.ledger_models import LedgerEvent, LedgerHead

CANONICAL_VERSION = 1


class Kind:
    """The kinds of ledger events this module's callers write (other domains' kinds are plain strings too)."""

    downloaded = "downloaded"  # a complete download by a user of the organisation
    delivered = "delivered"  # second line handed the package over by another channel
    acknowledged = "acknowledged"  # the customer acknowledged receipt or installation
    confirmed = "confirmed"  # second line confirmed the delivery (the receipt is made from this event)


def canonical_details(details: dict[str, Any] | None) -> str:
    """The details as stored: JSON with sorted keys, no spaces, UTF-8 text as is."""
    return json.dumps(details or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical(*, package_id: str, seq: int, organization_id: int | None, kind: str, actor: str, actor_name: str,
              at: dt.datetime, details: str, prev_hash: str) -> bytes:
    """The bytes an event's hash is taken of. ``details`` is the stored JSON text, read back as data so that
    only a change of meaning (not of the database's text representation) changes the hash."""
    return json.dumps({
        "v": CANONICAL_VERSION, "package": package_id, "seq": seq, "organization": organization_id, "kind": kind,
        "actor": actor, "actor_name": actor_name, "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "details": json.loads(details), "prev": prev_hash,
    }, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_hash(event: LedgerEvent) -> str:
    """The SHA-256 of the event's canonical content as the row holds it now."""
    try:
        content = canonical(package_id=event.package_id, seq=event.seq, organization_id=event.organization_id,
                            kind=event.kind, actor=event.actor, actor_name=event.actor_name, at=event.at,
                            details=event.details, prev_hash=event.prev_hash)
    except (ValueError, TypeError, AttributeError):  # details no longer JSON, a date gone: not what was hashed
        return ""
    return hashlib.sha256(content).hexdigest()


def _lock_chain(session: Session, package_id: str) -> None:
    """Serialise appends to one package's chain until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": locks.advisory_key(f"releases.ledger:{package_id}")})
    # SQLite: a write transaction began with BEGIN IMMEDIATE and is the database's only writer already.


def append(session: Session, *, package_id: str, organization_id: int | None, kind: str, actor,
           details: dict[str, Any] | None = None, at: dt.datetime | None = None) -> LedgerEvent:
    """Record one ledger event of ``package_id`` (for ``organization_id``, or None for the package as a whole)
    at the end of the package's chain, in the caller's write transaction, and return it.

    ``actor`` is who did it (a ``User`` or a ``policy.SystemActor``): the event keeps their audit name and the
    person's name as it is now, so a receipt shows the name of the day. ``details``: JSON-serialisable facts
    of the event (a channel, a note, the files delivered). The caller commits; a rollback takes the event
    with it, and the chain lock is held until then.
    """
    _lock_chain(session, package_id)
    session.flush()  # this transaction's own earlier events are part of the chain it extends
    head = session.get(LedgerHead, package_id, populate_existing=True)
    seq, prev_hash = (head.seq + 1, head.hash) if head is not None else (1, "")
    event = LedgerEvent(package_id=package_id, seq=seq, organization_id=organization_id, kind=kind,
                        actor=actor.audit_name, actor_name=actor.display_name,
                        at=(at or utcnow()).astimezone(dt.UTC), details=canonical_details(details),
                        prev_hash=prev_hash)
    event.hash = event_hash(event)
    session.add(event)
    if head is None:
        session.add(LedgerHead(package_id=package_id, seq=seq, hash=event.hash))
    else:
        head.seq, head.hash = seq, event.hash
    session.flush()
    return event


def events_of(session: Session, *, package_id: str, organization_id: int | None = None) -> list[LedgerEvent]:
    """A package's events in chain order; with ``organization_id``, that organisation's only."""
    stmt = select(LedgerEvent).where(LedgerEvent.package_id == package_id)
    if organization_id is not None:
        stmt = stmt.where(LedgerEvent.organization_id == organization_id)
    return list(session.scalars(stmt.order_by(LedgerEvent.seq)))


@dataclasses.dataclass(frozen=True)
class Break:
    """The first place a package's chain does not hold: which event (None: the chain's end) and what differs."""

    package_id: str
    event_id: int | None
    seq: int | None
    what: Message

    def __str__(self) -> str:
        return str(self.said)

    @property
    def said(self) -> Message:
        where = (message("ledger.where_event", event_id=self.event_id, seq=self.seq) if self.event_id is not None
                 else message("ledger.where_end"))
        return message("ledger.break", package=self.package_id, where=where, what=self.what)


def _check_chain(package_id: str, events: Iterable[LedgerEvent], head: LedgerHead | None) -> Break | None:
    prev_hash, expected_seq = "", 1
    for event in events:
        if event.seq != expected_seq:
            what = (message("ledger.seq_missing", first=expected_seq, last=event.seq - 1)
                    if event.seq > expected_seq else message("ledger.seq_unexpected", seq=event.seq,
                                                             expected=expected_seq))
            return Break(package_id, event.id, event.seq, what)
        if event.prev_hash != prev_hash:
            return Break(package_id, event.id, event.seq,
                         message("ledger.prev_differs", prev=event.prev_hash[:12], expected=prev_hash[:12])
                         if prev_hash else message("ledger.prev_on_first", prev=event.prev_hash[:12]))
        computed = event_hash(event)
        if computed != event.hash:
            return Break(package_id, event.id, event.seq, message(
                "ledger.edited", kind=event.kind, actor=event.actor, at=f"{event.at:%Y-%m-%d %H:%M:%S}",
                stored=event.hash[:12], computed=computed[:12] or "—"))
        prev_hash, expected_seq = event.hash, expected_seq + 1
    last_seq = expected_seq - 1
    if head is None:
        return Break(package_id, None, last_seq, message("ledger.no_head")) if last_seq else None
    if head.seq != last_seq or head.hash != prev_hash:
        return Break(package_id, None, last_seq, message("ledger.head_differs", seq=last_seq, head_seq=head.seq,
                                                         head_hash=head.hash[:12]))
    return None


def verify(session: Session) -> Iterator[Break]:
    """Walk every package's chain; yield the first break of each broken one (none: every chain holds)."""
    heads = {h.package_id: h for h in session.scalars(select(LedgerHead))}
    package_ids = sorted(set(heads) | set(session.scalars(select(LedgerEvent.package_id).distinct())))
    for package_id in package_ids:
        found = _check_chain(package_id, events_of(session, package_id=package_id), heads.get(package_id))
        if found is not None:
            yield found


def event_count(session: Session) -> int:
    """How many events the ledger holds (for the verifier's summary)."""
    return session.scalar(select(func.count()).select_from(LedgerEvent)) or 0
