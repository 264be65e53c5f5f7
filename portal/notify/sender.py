"""The outbox sender: claims due messages, sends them over SMTP, marks them sent, or retries with backoff.

Delivery is at least once. Each message is claimed with one conditional UPDATE (committed) before it is
sent, so two senders never send the same message; it is marked sent in its own short transaction right
after the server accepted it. Only a crash between the server's "250 OK" and that commit can send it
twice: the claim then expires and the message goes again — with the same ``Message-ID``, so receivers
(and their mail clients) can drop the copy.

``PORTAL_SMTP_URL``: ``smtp://user:pass@host:587`` speaks STARTTLS (required when a password is given,
otherwise used when offered); ``smtps://user:pass@host:465`` is TLS from the first byte.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, Protocol, cast
from urllib.parse import unquote, urlsplit

from sqlalchemy import CursorResult, and_, or_, select, update

from portal import i18n
from portal.config import Settings
from portal.db import Database
from portal.notify.models import OutboxMessage, OutboxStatus

CLAIM = dt.timedelta(minutes=10)  # a sender that holds a message longer is presumed dead
BATCH = 200
MAX_BACKOFF = dt.timedelta(hours=6)
DEFAULT_FROM_NAME = "Техническая поддержка PrimoART"


class MailTransport(Protocol):
    """Where messages go: a real SMTP server here; another transport (an API) could replace it."""

    def open(self) -> None: ...

    def send(self, message: EmailMessage) -> None: ...

    def close(self) -> None: ...


def tls_context(settings: Settings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(settings.mail_ca_file) if settings.mail_ca_file else None)


class SmtpTransport:
    """One SMTP connection per batch of messages (STARTTLS or implicit TLS, AUTH when a user is given)."""

    def __init__(self, settings: Settings):
        url = urlsplit(settings.smtp_url)
        self.settings = settings
        self.implicit_tls = url.scheme == "smtps"
        self.host = url.hostname or "localhost"
        self.port = url.port or (465 if self.implicit_tls else 587)
        self.username = unquote(url.username) if url.username else None
        self.password = unquote(url.password) if url.password else None
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        timeout, context = self.settings.mail_timeout_seconds, tls_context(self.settings)
        if self.implicit_tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
        try:
            smtp.ehlo()
            if not self.implicit_tls:
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                elif self.password:
                    raise smtplib.SMTPException(
                        f"{self.host}:{self.port} does not offer STARTTLS; refusing to send the password in clear "
                        "(use smtps:// or a server with STARTTLS)")
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self.smtp = smtp

    def send(self, message: EmailMessage) -> None:
        assert self.smtp is not None
        self.smtp.send_message(message)

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


def from_address(settings: Settings) -> str:
    if settings.mail_from:
        return settings.mail_from
    return formataddr((DEFAULT_FROM_NAME, parseaddr(settings.support_address)[1]))


def build_email(settings: Settings, row: OutboxMessage) -> EmailMessage:
    """The e-mail of an outbox row: text and HTML alternatives, its own stable Message-ID, threading headers."""
    message = EmailMessage()
    message["From"] = from_address(settings)
    message["To"] = row.recipient
    message["Reply-To"] = settings.support_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = row.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders must not answer
    message["X-PrimoART-Kind"] = row.kind
    if row.ticket_id:
        message["X-PrimoART-Ticket"] = row.ticket_id
    for name, value in (row.headers or {}).items():
        message[name] = value
    message.set_content(row.body_text)
    message.add_alternative(row.body_html, subtype="html")
    return message


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt: 1, 2, 4 … minutes after the 1st, 2nd, 3rd … failure, at most 6 hours."""
    return min(dt.timedelta(minutes=2 ** max(0, attempts - 1)), MAX_BACKOFF)


@dataclasses.dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> i18n.Message:
        return i18n.message("notify.job_report.sent", sent=self.sent, retrying=self.retrying, failed=self.failed)


def _due(now: dt.datetime):
    return or_(
        and_(OutboxMessage.status == OutboxStatus.pending.value, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.sending.value, OutboxMessage.claimed_until < now),
    )


def claim(db: Database, message_id: int, *, owner: str, now: dt.datetime) -> bool:
    """Take one due message for sending (committed at once); False when someone else has it or it is done."""
    with db.session_scope() as session:
        result = cast(CursorResult[Any], session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id, _due(now))
            .values(status=OutboxStatus.sending.value, claimed_by=owner, claimed_until=now + CLAIM,
                    attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False)))
        return result.rowcount == 1


def _finish(db: Database, message_id: int, *, owner: str, now: dt.datetime, error: str | None,
            settings: Settings) -> str:
    with db.session_scope() as session:
        row = session.get(OutboxMessage, message_id)
        if row is None or row.status != OutboxStatus.sending or row.claimed_by != owner:
            return "lost"  # our claim expired and another sender took it
        row.claimed_by = row.claimed_until = None
        if error is None:
            row.status, row.sent_at = OutboxStatus.sent.value, now
            return "sent"
        row.last_error, row.last_error_at = error[:4000], now
        if row.attempts >= settings.mail_max_attempts:
            row.status = OutboxStatus.failed.value
            return "failed"
        row.status, row.next_attempt_at = OutboxStatus.pending.value, now + backoff(row.attempts)
        return "retrying"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{who}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                         for who, (code, msg) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{type(exc).__name__}: {exc.smtp_code} {msg}"
    return f"{type(exc).__name__}: {exc}"


def deliver_due(*, settings: Settings, db: Database, owner: str, now: dt.datetime,
                transport: MailTransport | None = None, limit: int = BATCH) -> SendReport:
    """Send every due message once: claim → send → mark sent, or schedule the next attempt with backoff."""
    report = SendReport()
    if transport is None and not settings.smtp_url:
        return report
    with db.session_scope(write=False) as session:
        ids = list(session.scalars(select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.id).limit(limit)))
    if not ids:
        return report
    transport = transport or SmtpTransport(settings)
    connected = False
    try:
        for message_id in ids:
            if not claim(db, message_id, owner=owner, now=now):
                continue
            error, unreachable = None, False
            try:
                if not connected:
                    try:
                        transport.open()
                    except (smtplib.SMTPException, OSError):
                        unreachable = True
                        raise
                    connected = True
                with db.session_scope(write=False) as session:
                    # there: this sender has just claimed it, and outbox rows are never deleted
                    email = build_email(settings, session.get_one(OutboxMessage, message_id))
                transport.send(email)
            except (smtplib.SMTPException, OSError) as exc:
                error = _describe(exc)
                if not isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)) and connected:
                    # The connection is unusable (dropped, timed out): reconnect for the next message.
                    transport.close()
                    connected = False
            outcome = _finish(db, message_id, owner=owner, now=now, error=error, settings=settings)
            if outcome == "sent":
                report.sent += 1
            elif outcome == "retrying":
                report.retrying += 1
            elif outcome == "failed":
                report.failed += 1
            if error and error not in report.errors:
                report.errors.append(error)
            if unreachable:
                # The server is down: the rest keep their turn (and their attempts) for the next run.
                break
    finally:
        if connected:
            transport.close()
    return report
