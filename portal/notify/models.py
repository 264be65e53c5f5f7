"""The outbox, per-user notification preferences, once-only markers, and messages read from the support mailbox."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal import storage
from portal.db import Base, UTCDateTime, utcnow
from portal import i18n
from portal.i18n import message


class OutboxStatus(enum.StrEnum):
    pending = "pending"  # waits for its next attempt
    sending = "sending"  # claimed by a sender; a stale claim (crashed sender) is taken over
    sent = "sent"
    failed = "failed"  # gave up after PORTAL_MAIL_MAX_ATTEMPTS; an admin may retry


class OutboxMessage(Base):
    """One e-mail to one recipient, rendered and stored in the transaction of the change it reports."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        Index("ix_outbox_messages_ticket", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))  # the template's name
    recipient: Mapped[str] = mapped_column(String(254))
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The customer organisation whose data the message carries; None for staff alerts across organisations.
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"),
                                                        index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # In-Reply-To, References
    message_id: Mapped[str] = mapped_column(String(250), unique=True)  # the same on every attempt
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class NotificationPreference(Base):
    """What a user wants by e-mail; a user without a row has the defaults."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    ticket_updates: Mapped[bool] = mapped_column(Boolean, default=True)  # tickets I filed or am the contact of
    organization_tickets: Mapped[bool] = mapped_column(Boolean, default=False)  # every ticket of my organisation
    packages: Mapped[bool] = mapped_column(Boolean, default=True)  # fix packages and deliveries
    staff_alerts: Mapped[bool] = mapped_column(Boolean, default=True)  # SLA and critical-ticket alerts (staff)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotifyMark(Base):
    """A notification that must go out once only (an SLA alert for one deadline of one ticket)."""

    __tablename__ = "notify_marks"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntakeStatus(enum.StrEnum):
    ticket = "ticket"  # registered a new ticket
    comment = "comment"  # added to an existing ticket
    held = "held"  # waits for second line: unknown sender, or a reply from outside the ticket's organisation
    assigned = "assigned"  # a held message second line registered for an organisation
    dismissed = "dismissed"  # a held message second line threw away (spam, not a request)
    ignored = "ignored"  # automatic mail (bounces, out-of-office), or our own


class IntakeMessage(Base):
    """A message read from the support mailbox; its Message-ID makes sure it is processed once."""

    __tablename__ = "intake_messages"
    __table_args__ = (Index("ix_intake_messages_status", "status", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sender: Mapped[str] = mapped_column(String(254))
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    raw_sha256: Mapped[str] = mapped_column(String(64))  # the whole message, in the blob store
    raw_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")  # why it was held or ignored
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def reason_in(self, lang: str) -> str:
        """Why it was held or ignored, in ``lang``: the reason is stored in Russian (the portal's own words from
        intake_words.yml, older rows worded the same); what a file's refusal said is as it was."""
        return i18n.reword(self.reason, lang, ("intake_words.",))


def _intake_messages(session: Session):
    for m in session.scalars(select(IntakeMessage).order_by(IntakeMessage.id)):
        yield message("errors_core.blob_of_intake", id=m.id, subject=m.subject[:60]), m.raw_sha256


# The whole message read from the mailbox is a blob, kept for as long as its row.
BLOB_REFERENCE = storage.BlobReference("notify.intake_messages", IntakeMessage.raw_sha256, _intake_messages)
