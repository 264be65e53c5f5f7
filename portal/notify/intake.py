"""E-mail intake: the support mailbox, read over IMAP with TLS, turned into tickets and comments.

Why IMAP polling rather than an inbound SMTP listener: the mailbox keeps every message while the portal
is down or being upgraded (nothing bounces, nothing is lost), the organisation's mail server keeps doing
spam filtering and archiving, and no MX record has to change and no port has to be opened to the internet.

Each message:

* is recorded by its ``Message-ID`` (``intake_messages``), so it is processed once even if the mailbox
  flag below is lost; the whole message is kept in the blob store;
* automatic mail (bounces, out-of-office: RFC 3834 ``Auto-Submitted``, ``Precedence``) and our own
  messages are ignored, so the portal never talks to an autoresponder;
* with a ticket ID in the subject — or, without one, answering one of the portal's own messages by its
  ``In-Reply-To``/``References`` (``portal.notify.threads``) — from a user of that ticket's organisation → a
  comment on the ticket (on the ticket a merged duplicate was merged into);
* from a customer user → a new ticket of their organisation (channel e-mail); when the regulation's
  fields (module and version, description and steps, contacts) are missing it is registered as awaiting
  information and the automatic answer — the «registered» message, which gives the ticket ID — lists
  what is missing;
* from anyone else (or a reply from outside the ticket's organisation) → held for second line, who
  register it for an organisation or dismiss it.

Processed messages get the IMAP keyword ``$PortalProcessed`` and stay in the mailbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import hashlib
import html
import imaplib
import io
import logging
import re
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import audit, blobs, i18n, policy
from portal.accounts import service as accounts
from portal.accounts.models import Organization, Role, User
from portal.config import Settings
from portal.db import Database, utcnow
from portal.errors import Conflict, Invalid, NotFound, PortalError
from portal.notify import threads
from portal.notify.models import IntakeMessage, IntakeStatus
from portal.notify.sender import from_address, tls_context
from portal.policy import INTAKE_RIGHTS, Actor, SystemActor
from portal.tickets import actions, merge, queue, registration
from portal.tickets.attachments import add_attachment
from portal.tickets.models import Channel, Kind, Priority, ProductModule

log = logging.getLogger("portal.notify.intake")
PROCESSED_FLAG = "$PortalProcessed"
INTAKE_SLOT = "notify.intake"  # session.info key: what the «registered» message should add (missing, reply-to)


# --- reading a message ------------------------------------------------------------------------------

@dataclasses.dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclasses.dataclass
class ParsedMessage:
    message_id: str
    sender: str
    sender_name: str
    subject: str
    body: str
    attachments: list[Attachment]
    automatic: bool
    # the Message-IDs it answers, the closest first (In-Reply-To, then References): portal.notify.threads
    references: tuple[str, ...] = ()


def _text_of_html(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style).*?</\1>", "", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def _is_automatic(msg: EmailMessage, sender: str) -> bool:
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(msg.get("Precedence", "")).strip().lower()
    local = sender.partition("@")[0].lower()
    return (auto != "no" or precedence in ("bulk", "junk", "list", "auto_reply")
            or msg.get("X-Autoreply") is not None or msg.get("X-PrimoART-Kind") is not None
            or local in ("mailer-daemon", "postmaster") or str(msg.get("Return-Path", "")).strip() == "<>")


def parse_message(raw: bytes) -> ParsedMessage:
    """Sender, subject, the text of the body, attachments, and whether it is automatic mail."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    name, address = parseaddr(str(msg.get("From", "")))
    if not address:
        addresses = getaddresses([str(msg.get("Sender", ""))])
        name, address = addresses[0] if addresses else ("", "")
    message_id = str(msg.get("Message-ID", "")).strip()
    if not message_id:
        message_id = f"<sha256.{hashlib.sha256(raw).hexdigest()}@intake.invalid>"
    body = ""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is not None:
        try:
            content = part.get_content()
        except (LookupError, ValueError):  # an unknown charset: decode leniently
            payload = part.get_payload(decode=True)  # bytes, or None for an empty part
            content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
        body = _text_of_html(content) if part.get_content_type() == "text/html" else content
    attachments: list[Attachment] = []
    for item in msg.iter_attachments():
        data = item.get_payload(decode=True)
        if not isinstance(data, bytes) or not data:  # None for a multipart or attached message
            continue
        filename = item.get_filename() or f"attachment-{len(attachments) + 1}"
        attachments.append(Attachment(_safe_filename(filename), item.get_content_type(), data))
    return ParsedMessage(
        message_id=message_id[:300], sender=address.strip()[:254], sender_name=(name or "").strip()[:200],
        subject=" ".join(str(msg.get("Subject", "")).split())[:300], body=body.replace("\r\n", "\n").strip(),
        attachments=attachments, automatic=_is_automatic(msg, address),
        references=threads.references_in(str(msg.get("In-Reply-To", "")), str(msg.get("References", ""))),
    )


def _safe_filename(name: str) -> str:
    name = re.sub(r"[\x00-\x1f\x7f/\\]", "_", name).strip() or "attachment"
    return name[-200:]


QUOTE_START = re.compile(
    r"^(-{2,}\s*(original message|исходное сообщение|пересылаемое сообщение)\s*-{2,}"
    r"|on .+ wrote:|.+ (пишет|написал|написала)\s*:|from:\s.+|от:\s.+)\s*$", re.IGNORECASE)


def strip_quoted(text: str) -> str:
    """The new part of a reply: up to the quoted original, without ``>`` lines."""
    out = []
    for line in text.splitlines():
        if QUOTE_START.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        out.append(line)
    return "\n".join(out).strip()


# --- the regulation's fields in a free-form message -------------------------------------------------

FIELD_NAMES = {
    "module": ("модуль", "module", "модуль продукта"),
    "version": ("версия", "version", "версия продукта", "версия платформы"),
    "steps": ("шаги", "шаги воспроизведения", "steps", "steps to reproduce", "как воспроизвести"),
    "description": ("описание", "описание проблемы", "description"),
    "phone": ("телефон", "phone", "тел"),
    "contact": ("контакт", "контактное лицо", "contact"),
    "priority": ("приоритет", "priority"),
}
MULTILINE = frozenset({"steps", "description"})
FIELD_LINE = re.compile(r"^\s*[*•\-]?\s*([A-Za-zА-Яа-яЁё ]{2,40}?)\s*[:：]\s*(.*)$")
PRIORITY_WORDS = {
    "критический": "critical", "критичный": "critical", "critical": "critical", "высокий": "high", "high": "high",
    "средний": "medium", "medium": "medium", "низкий": "low", "low": "low",
}


@dataclasses.dataclass
class Fields:
    module: str = ""
    version: str = ""
    steps: str = ""
    description: str = ""
    phone: str = ""
    contact: str = ""
    priority: str = ""
    rest: str = ""  # the text that is not one of the fields


def _field_of(label: str) -> str | None:
    label = " ".join(label.lower().replace("ё", "е").split())
    for field, names in FIELD_NAMES.items():
        if label in (n.replace("ё", "е") for n in names):
            return field
    return None


def parse_fields(text: str) -> Fields:
    """«Модуль: …», «Версия: …», «Шаги: …» (several lines, up to a blank line or the next field) and the rest.

    Lenient: any case, optional bullets, Russian or English names, «Шаги воспроизведения» as well as «Шаги».
    """
    found = Fields()
    values: dict[str, list[str]] = {}
    rest: list[str] = []
    current: str | None = None
    for line in text.splitlines():
        match = FIELD_LINE.match(line)
        field = _field_of(match.group(1)) if match else None
        if match is not None and field is not None:
            current = field if field in MULTILINE else None
            values.setdefault(field, [])
            if match.group(2).strip():
                values[field].append(match.group(2).strip())
            continue
        if current is not None:
            if not line.strip():
                if values[current]:
                    current = None
                continue
            values[current].append(line.rstrip())
            continue
        rest.append(line.rstrip())
    for field, lines in values.items():
        setattr(found, field, "\n".join(lines).strip())
    found.rest = "\n".join(rest).strip()
    found.priority = PRIORITY_WORDS.get(found.priority.strip().lower().rstrip("."), "")
    found.version = found.version.strip().lstrip("vV").split()[0] if found.version.strip() else ""
    return found


def _catalogue_module(session: Session, name: str) -> str:
    """The catalogue's spelling of a module named in a message (any case, or a unique partial match)."""
    name = name.strip()
    if not name:
        return ""
    modules = list(session.scalars(select(ProductModule.name)))
    for known in modules:
        if known.lower() == name.lower():
            return known
    partial = [m for m in modules if name.lower() in m.lower() or m.lower() in name.lower()]
    return partial[0] if len(partial) == 1 else name


# --- turning messages into tickets ------------------------------------------------------------------

def ticket_id_in(subject: str, settings: Settings) -> str | None:
    match = re.search(rf"\b({re.escape(settings.ticket_prefix)}-\d{{4}}-\d{{5}})\b", subject, re.IGNORECASE)
    return match.group(1).upper() if match else None


def _customer_for(session: Session, address: str) -> User | None:
    """The active customer user with this address; None when unknown or ambiguous across organisations."""
    if not address:
        return None
    users = list(session.scalars(select(User).where(func.lower(User.email) == address.lower(),
                                                    User.role == Role.customer.value, User.is_active.is_(True))))
    if len({u.organization_id for u in users}) != 1:
        return None
    return users[0]


def register_from_email(*, session: Session, settings: Settings, actor: Actor, organization: Organization,
                        parsed: ParsedMessage, in_reply_to: str | None = None, now: dt.datetime | None = None):
    """Register the message as a ticket of ``organization``; incomplete → awaiting information, listing what is missing.

    ``actor`` is intake acting for the customer who wrote (their own organisation) or second line assigning a
    held message; either way through ``tickets.register``, the one registration path.
    """
    fields = parse_fields(parsed.body)
    summary = parsed.subject or next((line.strip() for line in fields.rest.splitlines() if line.strip()), "")
    data = registration.TicketInput(
        kind=Kind.problem.value, module=_catalogue_module(session, fields.module), product_version=fields.version,
        summary=summary[:200], description=fields.description or fields.rest, steps_to_reproduce=fields.steps,
        priority=fields.priority or Priority.medium.value,
        contact_name=fields.contact or parsed.sender_name or (actor.display_name if actor.organization_id else
                                                               parsed.sender),
        contact_email=parsed.sender, contact_phone=fields.phone, organization=organization.slug,
        channel=Channel.email.value,
    )
    session.info[INTAKE_SLOT] = {"in_reply_to": in_reply_to}
    try:
        return registration.register(session=session, settings=settings, actor=actor, data=data,
                                     channel=Channel.email.value, incomplete=True, now=now or utcnow())
    finally:
        session.info.pop(INTAKE_SLOT, None)


def _attach(session: Session, settings: Settings, ticket, actor: Actor, parsed: ParsedMessage) -> list[str]:
    """Keep the message's attachments on the ticket; the problems of those that could not be kept."""
    problems = []
    for item in parsed.attachments:
        try:
            with session.begin_nested():
                add_attachment(session=session, settings=settings, ticket=ticket, actor=actor,
                               filename=item.filename, stream=io.BytesIO(item.data), content_type=item.content_type)
        except PortalError as exc:
            problems.append(f"{item.filename}: {exc.detail}")
    return problems


def _ticket_answered(session: Session, settings: Settings, parsed: ParsedMessage):
    """The ticket a message continues: the ID in its subject, else the portal message it answers (In-Reply-To,
    References); a merged duplicate's conversation goes on in the ticket it was merged into. None: a new request."""
    for ticket_id in (ticket_id_in(parsed.subject, settings),
                      threads.ticket_of_thread(session=session, settings=settings, references=parsed.references)):
        if not ticket_id:
            continue
        try:
            ticket = queue.get_ticket_unchecked(session=session, ticket_id=ticket_id)
        except NotFound:
            continue
        return merge.final_ticket(session=session, ticket=ticket)
    return None


def _stored(key: str, **values) -> str:
    """Why a message was held or ignored, as stored: Russian, whoever's language is current; the intake pages read
    it in their reader's language (``IntakeMessage.reason_in``)."""
    return i18n.translate(key, i18n.DEFAULT_LANGUAGE, **values)


def _no_text(user: User | None) -> str:
    """The comment of a message without text. Stored, so written once in its sender's language — as the words
    they would have written: every reader of the ticket sees the same comment."""
    lang = user.language if user is not None and user.language in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE
    return i18n.translate("intake_words.no_text", lang)


def process(*, session: Session, settings: Settings, raw: bytes, now: dt.datetime | None = None) -> IntakeMessage:
    """Handle one message from the mailbox (once: a known Message-ID returns its earlier record)."""
    now = now or utcnow()
    intake = SystemActor.intake()
    policy.require(intake, "intake.hold")
    parsed = parse_message(raw)
    known = session.scalar(select(IntakeMessage).where(IntakeMessage.message_id == parsed.message_id))
    if known is not None:
        return known
    stored = blobs.blob_store(settings).put(io.BytesIO(raw))
    record = IntakeMessage(message_id=parsed.message_id, received_at=now, sender=parsed.sender,
                           sender_name=parsed.sender_name, subject=parsed.subject, raw_sha256=stored.sha256,
                           raw_size=stored.size, status=IntakeStatus.held.value, reason="")
    session.add(record)
    ours = {parseaddr(settings.support_address)[1].lower(), parseaddr(from_address(settings))[1].lower()}
    if parsed.automatic or parsed.sender.lower() in ours or not parsed.sender:
        record.status, record.reason = IntakeStatus.ignored.value, _stored("intake_words.automatic")
        session.flush()
        return record
    user = _customer_for(session, parsed.sender)
    ticket = _ticket_answered(session, settings, parsed)
    if ticket is not None:
        if user is None or user.organization_id != ticket.organization_id:
            record.reason = _stored("intake_words.reply_from_stranger", id=ticket.id)
            record.ticket_id = None
            session.flush()
            return record
        body = strip_quoted(parsed.body) or _no_text(user)
        writer = SystemActor.intake(on_behalf_of=user)
        actions.add_comment(session=session, settings=settings, ticket=ticket, actor=writer, body=body, now=now)
        problems = _attach(session, settings, ticket, writer, parsed)
        record.status, record.ticket_id, record.organization_id = IntakeStatus.comment.value, ticket.id, ticket.organization_id
        record.reason = "; ".join(problems)
        session.flush()
        return record
    if user is None or user.organization is None:  # a customer always has one (accounts.create_user)
        record.reason = _stored("intake_words.unknown_sender")
        session.flush()
        return record
    writer = SystemActor.intake(on_behalf_of=user)
    ticket = register_from_email(session=session, settings=settings, actor=writer, organization=user.organization,
                                 parsed=parsed, in_reply_to=parsed.message_id, now=now)
    problems = _attach(session, settings, ticket, writer, parsed)
    record.status, record.ticket_id, record.organization_id = IntakeStatus.ticket.value, ticket.id, ticket.organization_id
    record.reason = "; ".join(problems)
    session.flush()
    return record


# --- held messages: second line decides -------------------------------------------------------------

def list_intake(*, session: Session, user, status: str | None = IntakeStatus.held.value,
                limit: int = 100) -> list[IntakeMessage]:
    """Messages read from the mailbox, newest first (held ones by default)."""
    policy.require(user, "intake.assign")
    stmt = select(IntakeMessage)
    if status:
        if status not in IntakeStatus.__members__:
            raise Invalid.fields({"status": i18n.message("errors_notify.allowed", values=", ".join(IntakeStatus))})
        stmt = stmt.where(IntakeMessage.status == status)
    return list(session.scalars(stmt.order_by(IntakeMessage.received_at.desc(), IntakeMessage.id.desc())
                                .limit(limit)))


def count_held(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(IntakeMessage)
                          .where(IntakeMessage.status == IntakeStatus.held.value)) or 0


def get_intake(*, session: Session, user, intake_id: int) -> IntakeMessage:
    policy.require(user, "intake.assign")
    record = session.get(IntakeMessage, intake_id)
    if record is None:
        raise NotFound(i18n.message("errors_notify.intake_missing", id=intake_id))
    return record


def read_original(*, settings: Settings, record: IntakeMessage) -> ParsedMessage:
    with blobs.blob_store(settings).open(record.raw_sha256) as stream:
        return parse_message(stream.read())


def _held(session: Session, user, intake_id: int) -> IntakeMessage:
    record = get_intake(session=session, user=user, intake_id=intake_id)
    if record.status != IntakeStatus.held:
        raise Conflict(i18n.message("errors_notify.intake_done", id=record.id,
                                    status=i18n.message(f"notify.intake.status_{record.status}")),
                       extra={"status": record.status})
    return record


def assign_held(*, session: Session, settings: Settings, actor: User, intake_id: int, organization: str,
                now: dt.datetime | None = None):
    """Second line registers a held message as a ticket of the chosen organisation; the sender gets its ID."""
    now = now or utcnow()
    record = _held(session, actor, intake_id)
    org = accounts.get_organization(session=session, slug=organization)
    parsed = read_original(settings=settings, record=record)
    ticket = register_from_email(session=session, settings=settings, actor=actor, organization=org, parsed=parsed,
                                 in_reply_to=record.message_id, now=now)
    problems = _attach(session, settings, ticket, actor, parsed)
    record.status, record.ticket_id, record.organization_id = IntakeStatus.assigned.value, ticket.id, org.id
    record.handled_by_id, record.handled_at = actor.id, now
    if problems:
        record.reason = "; ".join(problems)
    session.flush()
    audit.record(session, actor=actor, action="intake.assign", object_type="intake_message", object_id=record.id,
                 organization_id=org.id, details={"sender": record.sender, "ticket": ticket.id})
    return ticket


def add_held_to_ticket(*, session: Session, settings: Settings, actor: User, intake_id: int, ticket_id: str,
                       now: dt.datetime | None = None):
    """Second line adds a held message to an open ticket of the sender's organisation (the page offers the most
    similar one) as a comment, with its files. The comment is the sender's words, not second line's: it is
    written as intake for a customer of that organisation, so it counts as the customer's reply and sends the
    customers no «support replied» echo."""
    now = now or utcnow()
    record = _held(session, actor, intake_id)
    organization = threads.sender_organization(session=session, address=record.sender)
    if organization is None:
        raise Conflict(i18n.message("errors_merge.intake_no_organization", sender=record.sender))
    ticket = merge.final_ticket(session=session, ticket=queue.get_ticket_unchecked(session=session,
                                                                                    ticket_id=ticket_id))
    if ticket.organization_id != organization.id:
        raise Conflict(i18n.message("errors_merge.intake_other_organization", id=ticket.id, sender=record.sender))
    user = _customer_for(session, record.sender)
    writer = SystemActor.intake(on_behalf_of=user) if user is not None and user.organization_id == organization.id \
        else SystemActor("intake", "intake", Role.customer.value, rights=INTAKE_RIGHTS, organization_id=organization.id)
    parsed = read_original(settings=settings, record=record)
    said = i18n.message("intake_thread.comment_from",
                        sender=f"{record.sender_name} <{record.sender}>" if record.sender_name else record.sender)
    text = strip_quoted(parsed.body) or _no_text(user)
    actions.add_comment(session=session, settings=settings, ticket=ticket, actor=writer, body=f"{said}\n\n{text}",
                        now=now)
    problems = _attach(session, settings, ticket, writer, parsed)
    record.status, record.ticket_id, record.organization_id = IntakeStatus.comment.value, ticket.id, organization.id
    record.handled_by_id, record.handled_at = actor.id, now
    if problems:
        record.reason = "; ".join(problems)
    session.flush()
    audit.record(session, actor=actor, action="intake.add_to_ticket", object_type="intake_message",
                 object_id=record.id, organization_id=organization.id,
                 details={"sender": record.sender, "ticket": ticket.id})
    return ticket


def dismiss_held(*, session: Session, actor: User, intake_id: int, reason: str = "",
                 now: dt.datetime | None = None) -> IntakeMessage:
    """Second line throws a held message away (spam, not a request); it stays recorded."""
    record = _held(session, actor, intake_id)
    record.status, record.handled_by_id, record.handled_at = IntakeStatus.dismissed.value, actor.id, now or utcnow()
    record.reason = (reason or "").strip() or record.reason
    session.flush()
    audit.record(session, actor=actor, action="intake.dismiss", object_type="intake_message", object_id=record.id,
                 details={"sender": record.sender, "reason": record.reason})
    return record


# --- the mailbox ------------------------------------------------------------------------------------

@dataclasses.dataclass
class PollReport:
    seen: int = 0
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    errors: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "nothing new"
        return f"read {self.seen}: {parts}" + (f"; errors: {'; '.join(self.errors)}" if self.errors else "")


def _mailbox(settings: Settings) -> tuple[str, int, str, str, str]:
    url = urlsplit(settings.imap_url)
    mailbox = unquote(url.path.lstrip("/")) or "INBOX"
    return (url.hostname or "localhost", url.port or 993, unquote(url.username or ""), unquote(url.password or ""),
            mailbox)


def poll(*, settings: Settings, db: Database, now: dt.datetime | None = None) -> PollReport:
    """Read every message not yet processed, each in its own transaction, then flag it processed."""
    host, port, username, password, mailbox = _mailbox(settings)
    report = PollReport()
    imap = imaplib.IMAP4_SSL(host, port, ssl_context=tls_context(settings), timeout=settings.mail_timeout_seconds)
    try:
        imap.login(username, password)
        status, _ = imap.select(f'"{mailbox}"')
        if status != "OK":
            raise RuntimeError(f"mailbox {mailbox!r} cannot be opened on {host}")
        # typeshed types every argument as str; None is imaplib's "no CHARSET" and is left out of the command
        status, data = imap.uid("SEARCH", None, "UNKEYWORD", PROCESSED_FLAG)  # type: ignore[arg-type]
        uids = data[0].split() if status == "OK" and data and data[0] else []
        for uid in uids:
            status, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts or [] if isinstance(p, tuple)), None)
            if status != "OK" or raw is None:
                continue
            report.seen += 1
            try:
                with db.session_scope() as session:
                    record = process(session=session, settings=settings, raw=raw, now=now)
                    outcome = record.status
            except Exception as exc:  # one bad message must not stop the others; it is tried again next time
                log.exception("intake of message UID %s failed", uid.decode())
                report.errors.append(f"UID {uid.decode()}: {type(exc).__name__}: {exc}")
                continue
            report.counts[outcome] = report.counts.get(outcome, 0) + 1
            imap.uid("STORE", uid, "+FLAGS.SILENT", f"({PROCESSED_FLAG})")
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return report
