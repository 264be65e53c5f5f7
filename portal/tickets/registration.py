"""Registering a ticket: the regulation's form validated, an ID from the year's counter, the SLA deadline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from portal import policy
from portal.accounts.models import Organization
from portal.config import Settings
from portal.db import utcnow
from portal.errors import Invalid
from portal import i18n
from portal.i18n import Joined, message
from portal.policy import Actor
from portal.tickets import info_request, sla
from portal.tickets.actions import apply_move
from portal.tickets.history import record_event
from portal.tickets.models import (
    Channel,
    Kind,
    Priority,
    ProductModule,
    ProductVersion,
    Status,
    Ticket,
    TicketCounter,
)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[0-9 ()\-]{5,40}$")
TEXT_MAX = 20_000


def _local(settings: Settings, moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(ZoneInfo(settings.timezone))


@dataclasses.dataclass
class TicketInput:
    """What a person fills in to register a ticket (the regulation's «Форма заявки»)."""

    kind: str | None = None
    module: str | None = None
    product_version: str | None = None
    summary: str | None = None
    description: str | None = None
    steps_to_reproduce: str | None = None
    priority: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    organization: str | None = None  # staff: the customer organisation's slug
    channel: str | None = None  # staff: email or phone

    def cleaned(self) -> CleanTicketInput:
        return CleanTicketInput(**{f.name: (getattr(self, f.name) or "").strip() for f in dataclasses.fields(self)})


@dataclasses.dataclass
class CleanTicketInput:
    """A ``TicketInput`` as registration checks it: every field stripped, an absent one empty."""

    kind: str
    module: str
    product_version: str
    summary: str
    description: str
    steps_to_reproduce: str
    priority: str
    contact_name: str
    contact_email: str
    contact_phone: str
    organization: str
    channel: str


def allocate_id(*, session: Session, settings: Settings, registered_at: dt.datetime) -> str:
    """The next ID of the registration year, from a counter row updated in the caller's transaction.

    The UPDATE takes the row's write lock (PostgreSQL) or runs in a BEGIN IMMEDIATE transaction
    (SQLite), so concurrent registrations queue on it; a rolled-back registration gives its number back.
    """
    year = _local(settings, registered_at).year
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(TicketCounter).values(year=year, last=0).on_conflict_do_nothing(index_elements=["year"]))
    number = session.execute(
        update(TicketCounter).where(TicketCounter.year == year).values(last=TicketCounter.last + 1)
        .returning(TicketCounter.last)
    ).scalar_one()
    return f"{settings.ticket_prefix}-{year}-{number:05d}"


def _organization_for(session: Session, actor: Actor, slug: str, errors: dict[str, str]) -> Organization | None:
    if actor.organization_id is not None:
        if slug:
            named = session.scalar(select(Organization.id).where(Organization.slug == slug))
            if named != actor.organization_id:
                policy.require(actor, "ticket.create_for_other_org")
        policy.require(actor, "ticket.create")
        return session.get(Organization, actor.organization_id)
    policy.require(actor, "ticket.create_for_other_org")
    if not slug:
        errors["organization"] = message("errors_tickets.organization_missing")
        return None
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        errors["organization"] = message("errors_tickets.organization_unknown", slug=slug)
    return org


def _validate(session: Session, data: CleanTicketInput, errors: dict[str, str]) -> ProductVersion | None:
    if data.kind not in Kind.__members__:
        errors["kind"] = message("errors_tickets.kind_missing")
    if not data.module:
        errors["module"] = message("errors_tickets.module_missing")
    elif not session.scalar(select(ProductModule.id).where(ProductModule.name == data.module)):
        errors["module"] = message("errors_tickets.module_unknown", module=data.module)
    version = None
    if not data.product_version:
        errors["product_version"] = message("errors_tickets.version_missing")
    else:
        version = session.scalar(select(ProductVersion).where(ProductVersion.name == data.product_version))
        if version is None:
            errors["product_version"] = message("errors_tickets.version_unknown", version=data.product_version)
    if not data.summary:
        errors["summary"] = message("errors_tickets.summary_missing")
    elif len(data.summary) > 200:
        errors["summary"] = message("errors_tickets.too_long", max=200)
    if not data.description:
        errors["description"] = message("errors_tickets.description_missing")
    if data.kind == Kind.problem and not data.steps_to_reproduce:
        errors["steps_to_reproduce"] = message("errors_tickets.steps_missing")
    if data.priority not in Priority.__members__:
        errors["priority"] = message("errors_tickets.priority_missing")
    if not data.contact_name:
        errors["contact.name"] = message("errors_tickets.contact_name_missing")
    if not data.contact_email and not data.contact_phone:
        errors["contact"] = message("errors_tickets.contact_missing")
    if data.contact_email and not EMAIL_RE.match(data.contact_email):
        errors["contact.email"] = message("error.input.email")
    if data.contact_phone and not PHONE_RE.match(data.contact_phone):
        errors["contact.phone"] = message("errors_tickets.phone_format")
    return version


def register(*, session: Session, settings: Settings, actor: Actor, data: TicketInput, channel: str | None = None,
             incomplete: bool = False, now: dt.datetime | None = None) -> Ticket:
    """Register a ticket: validate the regulation's fields, give it an ID and its SLA reaction deadline.

    ``channel`` overrides how the request came (e-mail intake says ``email`` for a customer's message);
    ``incomplete=True`` — e-mail intake — registers a request whose regulation fields are missing as
    awaiting information, the request listing what is missing, instead of refusing it.
    """
    now = now or utcnow()
    form = data.cleaned()
    errors: dict[str, str] = {}
    org = _organization_for(session, actor, form.organization, errors)
    customer_side = actor.organization_id is not None
    person = actor.person
    if customer_side:
        channel = channel or Channel.portal.value
        form.contact_name = form.contact_name or actor.display_name
        if not form.contact_phone:
            form.contact_email = form.contact_email or (person.email if person is not None else None) or ""
    else:
        channel = channel or form.channel
        if channel not in Channel.__members__:
            errors["channel"] = message("errors_tickets.channel_missing")
    version = _validate(session, form, errors)
    if org is None or (errors and not incomplete):
        raise Invalid.fields(errors)
    missing = _missing(errors)
    priority = form.priority if form.priority in Priority.__members__ else Priority.medium.value
    ticket = Ticket(
        id=allocate_id(session=session, settings=settings, registered_at=now),
        organization_id=org.id, requester_id=person.id if customer_side and person is not None else None,
        registered_by_id=person.id if person is not None else None, channel=channel, kind=form.kind,
        module=form.module[:120], product_version=form.product_version[:40],
        version_unsupported=version is not None and not version.supported,
        summary=form.summary[:200] or _no_subject(person), description=form.description,
        steps_to_reproduce=form.steps_to_reproduce, contact_name=form.contact_name[:200],
        contact_email=form.contact_email[:254], contact_phone=form.contact_phone[:40], priority=priority,
        status=Status.new.value, is_open=True, registered_at=now, updated_at=now,
        sla_reaction_due=sla.reaction_due(settings, registered_at=now, priority=priority),
        paused_seconds=0, paused_seconds_at_eta=0,
    )
    details: dict[str, Any] = {"priority": ticket.priority, "channel": channel, "kind": ticket.kind}
    if missing:
        request = info_request.text(missing)
        apply_move(ticket, Status.awaiting_info.value, settings=settings, now=now, comment=request)
        details["missing"] = missing
    else:
        details["version_unsupported"] = ticket.version_unsupported
    session.add(ticket)
    session.flush()
    record_event(session=session, ticket=ticket, actor=actor, kind="created", to_status=ticket.status,
                 details=details, now=now)
    return ticket


def _no_subject(person) -> str:
    """The summary of a request that came without one (an e-mail without a subject). Stored, so written once in
    its requester's language — as the words they would have typed: the same summary is what every reader, the
    search, the e-mails' subjects and the API see."""
    lang = getattr(person, "language", None) or i18n.DEFAULT_LANGUAGE
    return message("tickets_words.no_subject").in_language(lang)


def _missing(errors: dict[str, str]) -> list[str]:
    """What is missing, as the information request lists it: «label: message» per field."""
    if not errors:
        return []
    # Joined: kept in the history as Russian, read in each recipient's language by the registration e-mail
    return [Joined((e.get("label") or e["field"], ": ", e["message"])) for e in Invalid.fields(errors).errors or []]
