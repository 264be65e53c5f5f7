"""Tickets, their history and attachments, the per-year ID counter, and the product catalogue."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal import storage
from portal.accounts.models import Organization, User
from portal.db import Base, UTCDateTime, utcnow
from portal.i18n import message
from portal.tickets.info_request import in_language as info_request_in


class Kind(enum.StrEnum):
    """The regulation's four grounds for a request («Основаниями для обращения …»)."""

    consultation = "consultation"
    problem = "problem"
    access = "access"
    suggestion = "suggestion"


class Priority(enum.StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


class Status(enum.StrEnum):
    new = "new"
    in_analysis = "in_analysis"
    awaiting_info = "awaiting_info"
    escalated = "escalated"
    in_verification = "in_verification"
    resolved = "resolved"
    closed = "closed"
    suspended = "suspended"
    deferred = "deferred"


class Channel(enum.StrEnum):
    portal = "portal"
    email = "email"
    phone = "phone"


class DeferReason(enum.StrEnum):
    """The regulation's reasons a resolution may be deferred («Ограничения поддержки»)."""

    cannot_reproduce = "cannot_reproduce"
    no_information = "no_information"
    out_of_scope = "out_of_scope"
    incorrect_question = "incorrect_question"
    unsupported_version = "unsupported_version"


OPEN_STATUSES = frozenset(s.value for s in Status) - {Status.resolved.value, Status.closed.value,
                                                      Status.deferred.value}
PAUSED_STATUSES = frozenset({Status.awaiting_info.value, Status.suspended.value})


class ProductModule(Base):
    """A module of the product (RUM agent, synthetic monitoring, …) a ticket is filed against."""

    __tablename__ = "product_modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProductVersion(Base):
    """A version of the product; tickets on an unsupported one are accepted and flagged."""

    __tablename__ = "product_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    supported: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketCounter(Base):
    """The last sequence number given out in a year; updated in the registering transaction."""

    __tablename__ = "ticket_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # Queue (open, in order of arrival), a customer's list, everybody's list newest first.
        Index("ix_tickets_open_registered", "is_open", "registered_at", "id"),
        Index("ix_tickets_org_registered", "organization_id", "registered_at", "id"),
        Index("ix_tickets_registered", "registered_at", "id"),
        # Covers the queue summary (open tickets by priority, breached, unassigned) without reading rows.
        Index("ix_tickets_open_summary", "is_open", "priority", "sla_met", "reacted_at", "sla_reaction_due",
              "assignee_id"),
        Index("ix_tickets_status", "status"),
        # A person's tickets; with the open ones' status and ID in it, «awaiting my answer» reads no ticket row.
        Index("ix_tickets_assignee_open", "assignee_id", "is_open", "status", "id"),
        # Second line's «awaiting a reaction», nearest deadline first: only the unreacted new tickets are in it, so
        # the home page reads the first few instead of every new ticket (16,000 of a million in the benchmark).
        Index("ix_tickets_awaiting_reaction", "sla_reaction_due", "id",
              postgresql_where=text("status = 'new' AND reacted_at IS NULL"),
              sqlite_where=text("status = 'new' AND reacted_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # PRM-2026-00042
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(10), default=Channel.portal.value)
    kind: Mapped[str] = mapped_column(String(20))
    module: Mapped[str] = mapped_column(String(120))
    product_version: Mapped[str] = mapped_column(String(40))
    version_unsupported: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    steps_to_reproduce: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    priority: Mapped[str] = mapped_column(String(10), index=True)
    status: Mapped[str] = mapped_column(String(20), default=Status.new.value)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # SLA reaction clock.
    sla_reaction_due: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reacted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sla_met: Mapped[bool | None] = mapped_column(Boolean)
    # Paused time (awaiting the customer, suspended for an adjacent service): stored, never recomputed.
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    paused_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status_before_suspension: Mapped[str | None] = mapped_column(String(20))
    suspend_reason: Mapped[str] = mapped_column(Text, default="")
    defer_reason: Mapped[str | None] = mapped_column(String(30))
    # Awaiting information: what was asked, when, and when to remind.
    info_request: Mapped[str] = mapped_column(Text, default="")
    info_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    info_reminder_on: Mapped[dt.date | None] = mapped_column(Date)
    # The plan: ETA set by the developers, and the result measured against it.
    eta: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    eta_set_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paused_seconds_at_eta: Mapped[int] = mapped_column(Integer, default=0)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    eta_met: Mapped[bool | None] = mapped_column(Boolean)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution_cause: Mapped[str] = mapped_column(Text, default="")
    resolution_solution: Mapped[str] = mapped_column(Text, default="")
    resolution_workaround: Mapped[str] = mapped_column(Text, default="")
    # A duplicate merged into another ticket (``portal.tickets.merge``): closed, its comments, files and contacts
    # moved there; a reply to its e-mail thread lands on that ticket.
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)

    organization: Mapped[Organization] = relationship(lazy="joined")
    requester: Mapped[User | None] = relationship(foreign_keys=[requester_id], lazy="select")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="select")
    events: Mapped[list["TicketEvent"]] = relationship(back_populates="ticket", order_by="TicketEvent.id",
                                                       lazy="select")
    attachments: Mapped[list["TicketAttachment"]] = relationship(order_by="TicketAttachment.id", lazy="select")

    def paused_total(self, now: dt.datetime | None = None) -> dt.timedelta:
        """Paused time so far, including a pause still running."""
        seconds = self.paused_seconds or 0
        if self.paused_since is not None:
            seconds += max(0, int(((now or utcnow()) - self.paused_since).total_seconds()))
        return dt.timedelta(seconds=seconds)

    def info_request_for(self, lang: str) -> str:
        """The information request in ``lang``: the portal's own request reworded (``info_request.in_language``)."""
        return info_request_in(self.info_request, lang)


class TicketEvent(Base):
    """One entry of a ticket's history: who, when, what (from → to), a public or internal comment."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        Index("ix_ticket_events_ticket", "ticket_id", "id"),
        # A ticket's last public comment from the index alone (second line's «awaiting my answer»).
        Index("ix_ticket_events_comments", "ticket_id", "kind", "public", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events", lazy="select")


class TicketContact(Base):
    """Another person the ticket's messages go to: the contact of a duplicate merged into it (the ticket's own
    contact stays in its columns)."""

    __tablename__ = "ticket_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    from_ticket_id: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketAttachment(Base):
    """A file attached to a ticket; the bytes live in the blob store under their SHA-256."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_by_name: Mapped[str] = mapped_column(String(200), default="")


def _attachments(session: Session):
    for a in session.scalars(select(TicketAttachment).order_by(TicketAttachment.id)):
        yield message("errors_core.blob_of_attachment", id=a.id, ticket=a.ticket_id, name=a.filename), a.sha256


# The attachment's bytes are a blob: the sweep keeps them, the audit report names an attachment whose blob is gone.
BLOB_REFERENCE = storage.BlobReference("tickets.attachments", TicketAttachment.sha256, _attachments)
