"""Merging a duplicate ticket into the original one (second line; issue #15).

What a merge does, in one transaction:

* the duplicate's comments and attachments *move* to the original (their rows are re-pointed, each comment
  keeping its author, time and visibility, marked with the duplicate it came from). Moving rather than
  linking: the original becomes the one complete record — its page, the API, the customer's e-mail thread,
  the similar-ticket index and a later reply all read one ticket, with no query anywhere having to know
  that other tickets' history belongs to it;
* the duplicate's contact (and its requester, and contacts it had itself gathered) are added to the
  original's ``ticket_contacts``, so they keep getting its messages;
* the duplicate's summary, description and steps become the original's «merged» event, so nothing the
  customer wrote is lost; the duplicate closes (``merged_into_id`` links it), and its «merged into» event
  stays in its history;
* both events are audited (``ticket.merged_into`` on the duplicate, ``ticket.merged`` on the original), and
  the notification listener tells the customers of the original — which now include the duplicate's
  contacts — in one e-mail each.

Refused: a ticket into itself, into a ticket that is not open (closed, resolved, deferred) or was itself merged,
a duplicate already merged or whose closing another domain objects to; a ticket of another organisation is
«not found», worded exactly like a number that does not exist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import policy
from portal.config import Settings
from portal.db import utcnow
from portal.errors import Conflict, Invalid, not_found
from portal.i18n import Joined, message
from portal.policy import Actor
from portal.tickets import actions, workflow
from portal.tickets.history import record_event
from portal.tickets.labels import STATUS_NAMES
from portal.tickets.models import Status, Ticket, TicketAttachment, TicketContact, TicketEvent

MOVED_EVENT_KINDS = ("comment", "attachment")
CHOICES_LIMIT = 30


@dataclasses.dataclass(frozen=True)
class Contact:
    name: str
    email: str
    phone: str

    def describe(self) -> str:
        return " · ".join(part for part in (self.name, self.email, self.phone) if part)


@dataclasses.dataclass(frozen=True)
class MergePlan:
    """What merging ``duplicate`` into ``original`` will do; shown on the confirmation page before it is done."""

    duplicate: Ticket
    original: Ticket
    comments: int
    attachments: tuple[str, ...]
    contacts: tuple[Contact, ...]


def _original_of(session: Session, duplicate: Ticket, original_id: str) -> Ticket:
    """The ticket to merge into, among the duplicate's organisation's tickets only: another organisation's
    ticket is «not found», with the same words as a number that does not exist."""
    typed = (original_id or "").strip().upper()
    # populate_existing: read as it is now (after merge's row locks), not as this session first loaded it
    found = session.scalar(select(Ticket).where(Ticket.id == typed, Ticket.organization_id == duplicate.organization_id)
                           .execution_options(populate_existing=True))
    if found is None:
        raise not_found("ticket", typed, hint=message("errors_merge.same_organization",
                                                      organization=duplicate.organization.name))
    return found


def _contacts_of(ticket: Ticket, session: Session) -> list[Contact]:
    """Everyone the ticket's messages go to by its own record: its contact, its requester, contacts it gathered."""
    found = [Contact(ticket.contact_name, ticket.contact_email, ticket.contact_phone)]
    requester = ticket.requester
    if requester is not None and requester.email:
        found.append(Contact(requester.display_name, requester.email, ""))
    for extra in session.scalars(select(TicketContact).where(TicketContact.ticket_id == ticket.id)
                                 .order_by(TicketContact.id)):
        found.append(Contact(extra.name, extra.email, extra.phone))
    return [c for c in found if c.email or c.phone]


def _key(contact: Contact) -> str:
    return (contact.email or contact.phone).strip().lower()


def _new_contacts(session: Session, duplicate: Ticket, original: Ticket) -> list[Contact]:
    """The duplicate's contacts the original does not have yet (by address, or phone when there is none)."""
    known = {_key(c) for c in _contacts_of(original, session)}
    out = []
    for contact in _contacts_of(duplicate, session):
        if _key(contact) not in known:
            known.add(_key(contact))
            out.append(contact)
    return out


def plan(*, session: Session, duplicate: Ticket, original_id: str, actor: Actor) -> MergePlan:
    """Check that ``duplicate`` may be merged into the ticket ``original_id`` and say what would move."""
    policy.require(actor, "ticket.merge", duplicate)
    typed = (original_id or "").strip().upper()
    if not typed:
        raise Invalid.fields({"into": message("errors_merge.original_missing", id=duplicate.id)})
    if typed == duplicate.id:
        raise Invalid.fields({"into": message("errors_merge.into_itself", id=duplicate.id)})
    if duplicate.merged_into_id:
        raise Conflict(message("errors_merge.already_merged", id=duplicate.id, into=duplicate.merged_into_id),
                       extra={"merged_into": duplicate.merged_into_id})
    original = _original_of(session, duplicate, typed)
    policy.require(actor, "ticket.merge", original)
    if original.merged_into_id:
        raise Conflict(message("errors_merge.original_merged", id=original.id, into=original.merged_into_id),
                       extra={"merged_into": original.merged_into_id})
    if not original.is_open:
        raise Conflict(message("errors_merge.original_closed", id=original.id,
                               status=STATUS_NAMES[original.status]), extra={"status": original.status})
    if duplicate.status != Status.closed:
        blockers = workflow.close_blockers(session=session, ticket=duplicate)
        if blockers:
            raise Conflict(message("errors_merge.duplicate_blocked", id=duplicate.id,
                                   blockers=Joined(blockers, " ")), extra={"blockers": blockers})
    count = session.scalar(select(func.count()).select_from(TicketEvent).where(
        TicketEvent.ticket_id == duplicate.id, TicketEvent.kind == "comment")) or 0
    files = tuple(session.scalars(select(TicketAttachment.filename).where(TicketAttachment.ticket_id == duplicate.id)
                                  .order_by(TicketAttachment.id)))
    return MergePlan(duplicate=duplicate, original=original, comments=count, attachments=files,
                     contacts=tuple(_new_contacts(session, duplicate, original)))


def _lock(session: Session, *ticket_ids: str) -> None:
    """Lock both rows (in one order, so two merges never wait for each other in a circle) and read them afresh:
    two people merging A into B and B into A at once must not both succeed."""
    session.execute(select(Ticket.id).where(Ticket.id.in_(sorted(ticket_ids))).order_by(Ticket.id)
                    .with_for_update())


def _duplicate_text(duplicate: Ticket, comment: str) -> str:
    """What the customer wrote in the duplicate, kept in the original's history (with the merger's comment)."""
    parts = [comment] if comment else []
    parts.append(f"{duplicate.id} — {duplicate.summary}")
    if duplicate.description.strip():
        parts.append(duplicate.description.strip())
    if duplicate.steps_to_reproduce.strip():
        parts.append(duplicate.steps_to_reproduce.strip())
    return "\n\n".join(parts)


def merge(*, session: Session, settings: Settings, duplicate: Ticket, original_id: str, actor: Actor,
          comment: str = "", now: dt.datetime | None = None) -> MergePlan:
    """Merge ``duplicate`` into the ticket ``original_id`` (see the module's docstring); the plan carried out."""
    now = now or utcnow()
    comment = (comment or "").strip()
    _lock(session, duplicate.id, (original_id or "").strip().upper())
    session.refresh(duplicate)
    done = plan(session=session, duplicate=duplicate, original_id=original_id, actor=actor)
    original = done.original
    session.refresh(original)
    moved = list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == duplicate.id,
                                                           TicketEvent.kind.in_(MOVED_EVENT_KINDS))
                                 .order_by(TicketEvent.id)))
    for event in moved:
        event.ticket_id = original.id
        event.details = {**(event.details or {}), "merged_from": duplicate.id}
    for attachment in session.scalars(select(TicketAttachment).where(TicketAttachment.ticket_id == duplicate.id)):
        attachment.ticket_id = original.id
    for contact in done.contacts:
        session.add(TicketContact(ticket_id=original.id, name=contact.name[:200], email=contact.email[:254],
                                  phone=contact.phone[:40], from_ticket_id=duplicate.id, added_at=now))
    session.flush()
    session.expire(duplicate, ["attachments", "events"])
    session.expire(original, ["attachments", "events"])
    details = {"comments": done.comments, "attachments": list(done.attachments),
               "contacts": [c.describe() for c in done.contacts]}
    source = duplicate.status
    duplicate.merged_into_id = original.id
    if source != Status.closed:
        actions.apply_move(duplicate, Status.closed.value, settings=settings, now=now)
    record_event(session=session, ticket=duplicate, actor=actor, kind="merged_into", comment=comment,
                 from_status=source, to_status=duplicate.status, details={"original": original.id, **details},
                 now=now)
    record_event(session=session, ticket=original, actor=actor, kind="merged",
                 comment=_duplicate_text(duplicate, comment), details={"duplicate": duplicate.id, **details}, now=now)
    return done


def merged_from(*, session: Session, ticket: Ticket) -> list[str]:
    """The duplicates merged into ``ticket``, oldest first."""
    return list(session.scalars(select(Ticket.id).where(Ticket.merged_into_id == ticket.id)
                                .order_by(Ticket.registered_at, Ticket.id)))


def final_ticket(*, session: Session, ticket: Ticket) -> Ticket:
    """Where the ticket's conversation goes on: the ticket it was merged into (and that one's, in turn)."""
    seen = {ticket.id}
    while ticket.merged_into_id and ticket.merged_into_id not in seen:
        following = session.get(Ticket, ticket.merged_into_id)
        if following is None:
            break
        seen.add(following.id)
        ticket = following
    return ticket


def extra_contacts(*, session: Session, ticket: Ticket) -> list[TicketContact]:
    """The contacts merged duplicates brought to ``ticket``."""
    return list(session.scalars(select(TicketContact).where(TicketContact.ticket_id == ticket.id)
                                .order_by(TicketContact.id)))


def candidates(*, session: Session, duplicate: Ticket) -> list[Ticket]:
    """Open tickets of the duplicate's organisation it could be merged into, newest first (the form's list)."""
    return list(session.scalars(select(Ticket).where(
        Ticket.organization_id == duplicate.organization_id, Ticket.is_open.is_(True), Ticket.id != duplicate.id,
        Ticket.merged_into_id.is_(None)).order_by(Ticket.registered_at.desc(), Ticket.id.desc())
        .limit(CHOICES_LIMIT)))
