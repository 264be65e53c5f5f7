"""Replies without a ticket number: which ticket an e-mail continues, and what to offer second line otherwise.

A customer who answers one of the portal's e-mails but deletes the ``[PRM-…]`` from the subject (or whose mail
client rewrites it) still sends ``In-Reply-To`` and ``References``. Those name the Message-IDs of the portal's
own messages: every outbox row keeps the Message-ID it is sent with and the ticket it is about
(``outbox_messages.message_id`` is unique, so the lookup is one index probe), and every ticket message also
carries the ticket's thread reference ``<ticket.prm-2026-00042@domain>`` in ``References``. Outbox rows are
never deleted, so an answer to a message of any age is found. A merged duplicate's thread leads to the ticket
it was merged into (``tickets.merge.final_ticket``).

Finding the ticket changes nothing about who may write to it: intake's usual sender/organisation check applies
(a reply from outside the ticket's organisation is held). For a held message, second line is offered the most
similar open ticket of the sender's organisation (the ticket index's ``similar_open``), with «Добавить к PRM-…».
"""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import Organization, Role, User
from portal.config import Settings
from portal.notify.models import IntakeMessage, OutboxMessage
from portal.notify.service import mail_domain
from portal.search.similar import service as similar
from portal.search.similar.documents import TicketText
from portal.tickets.models import Ticket

MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
MAX_REFERENCES = 50  # a long thread's References; the newest are the ones that matter


def references_in(in_reply_to: str, references: str) -> tuple[str, ...]:
    """The Message-IDs a reply answers, the closest first: In-Reply-To, then References from the newest."""
    found: list[str] = []
    for candidate in [*MESSAGE_ID.findall(in_reply_to or ""), *reversed(MESSAGE_ID.findall(references or ""))]:
        if candidate not in found:
            found.append(candidate)
    return tuple(found[:MAX_REFERENCES])


def _thread_reference(settings: Settings) -> re.Pattern[str]:
    """The per-ticket thread reference the sender puts in every ticket message's References (our domain only)."""
    return re.compile(rf"^<ticket\.({re.escape(settings.ticket_prefix.lower())}-\d{{4}}-\d{{5}})@"
                      rf"{re.escape(mail_domain(settings).lower())}>$")


def ticket_of_thread(*, session: Session, settings: Settings, references: tuple[str, ...]) -> str | None:
    """The ticket an e-mail answers by its threading headers: the closest of the portal's own messages it names
    (its Message-ID in the outbox), else a ticket's thread reference; None when it names none of ours."""
    if not references:
        return None
    sent = {message_id: ticket_id for message_id, ticket_id in session.execute(
        select(OutboxMessage.message_id, OutboxMessage.ticket_id).where(
            OutboxMessage.message_id.in_(references), OutboxMessage.ticket_id.is_not(None)))}
    for reference in references:
        if sent.get(reference):
            return sent[reference]
    pattern = _thread_reference(settings)
    for reference in references:
        match = pattern.match(reference.lower())
        if match:
            return match.group(1).upper()
    return None


# --- held messages: the sender's organisation and its most similar open ticket -------------------------------

def sender_organization(*, session: Session, address: str) -> Organization | None:
    """The organisation a sender belongs to: theirs when they are a customer user (of one organisation only);
    otherwise the one organisation whose customer users write from the same domain — a colleague without an
    account. None when unknown or ambiguous (a public mail domain shared by several organisations)."""
    address = (address or "").strip().lower()
    if "@" not in address:
        return None
    known = list(session.scalars(select(User).where(func.lower(User.email) == address,
                                                    User.role == Role.customer.value, User.is_active.is_(True))))
    orgs = {u.organization_id for u in known}
    if not orgs:
        domain = address.rpartition("@")[2].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        orgs = set(session.scalars(select(User.organization_id).where(
            func.lower(User.email).like(f"%@{domain}", escape="\\"),
            User.role == Role.customer.value, User.is_active.is_(True)).distinct()))
        orgs.discard(None)
    if len(orgs) != 1:
        return None
    return session.get(Organization, next(iter(orgs)))


@dataclasses.dataclass(frozen=True)
class Suggestion:
    """What the held message's page offers: the sender's organisation and its most similar open ticket."""

    organization: Organization
    ticket: Ticket | None


def suggestion(*, session: Session, settings: Settings, record: IntakeMessage, body: str) -> Suggestion | None:
    """For a held message: the sender's organisation and its open ticket most like the message (None when the
    organisation is not known). Only that organisation's tickets are ever looked at."""
    organization = sender_organization(session=session, address=record.sender)
    if organization is None:
        return None
    found = similar.similar_open(session=session, settings=settings, organization_id=organization.id,
                                 text=TicketText(summary=record.subject or "", description=body or ""), limit=1)
    return Suggestion(organization=organization, ticket=found[0] if found else None)
