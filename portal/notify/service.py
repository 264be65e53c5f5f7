"""Notifications: who gets which message, the outbox rows written in the caller's transaction, preferences.

The ticket listener (``on_ticket_event``) runs inside ``tickets.service.record_event``: every message it
decides on is rendered and added to the same session, so it commits or rolls back with the change it
reports, and nothing is lost while the mail server is down. Plain functions, keyword-only, session first;
they flush and never commit.

Isolation: a customer message is built from one ticket (or one package and one organisation) and goes
only to that ticket's contact and to users of that ticket's organisation; internal events and internal
comments never produce a customer message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit, i18n, policy
from portal.accounts.models import Organization, Role, User
from portal.config import Settings
from portal.db import utcnow
from portal.errors import Conflict, Invalid, NotFound
from portal.notify import templates
from portal.notify.models import NotificationPreference, NotifyMark, OutboxMessage, OutboxStatus
from portal.tickets import service as tickets
from portal.tickets import merge, sla
from portal.tickets.info_request import Asked
from portal.tickets.models import Status, Ticket

CATEGORIES = ("ticket_updates", "organization_tickets", "packages", "staff_alerts")
STAFF_ALERT_ROLES = (Role.support.value,)


def _settings(session: Session) -> Settings:
    """The settings the session's database was opened with (``Database`` puts them in ``session.info``)."""
    settings = session.info.get("settings")
    return settings if settings is not None else Settings()


def mail_domain(settings: Settings) -> str:
    address = parseaddr(settings.support_address)[1]
    return address.rpartition("@")[2] or "primoart.invalid"


def new_message_id(settings: Settings) -> str:
    return f"<{uuid.uuid4().hex}@{mail_domain(settings)}>"


def ticket_thread_id(settings: Settings, ticket_id: str) -> str:
    """A stable Message-ID-like reference that threads every message of one ticket in mail clients."""
    return f"<ticket.{ticket_id.lower()}@{mail_domain(settings)}>"


def _same_address(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return a.strip().lower() == b.strip().lower()


# --- preferences ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Preferences:
    ticket_updates: bool = True
    organization_tickets: bool = False
    packages: bool = True
    staff_alerts: bool = True


def get_preferences(*, session: Session, user: User) -> Preferences:
    """The user's notification preferences (the defaults when never saved)."""
    row = session.get(NotificationPreference, user.id)
    if row is None:
        return Preferences()
    return Preferences(**{c: getattr(row, c) for c in CATEGORIES})


def set_preferences(*, session: Session, actor: User, user: User, **choices: bool) -> Preferences:
    """Save a user's preferences; a user changes only their own (an admin anyone's)."""
    if actor.id != user.id:
        policy.require(actor, "user.manage")
    unknown = set(choices) - set(CATEGORIES)
    if unknown:
        raise Invalid.fields({name: i18n.message("errors_notify.unknown_setting") for name in sorted(unknown)})
    row = session.get(NotificationPreference, user.id)
    if row is None:
        row = NotificationPreference(user_id=user.id, **dataclasses.asdict(Preferences()))
        session.add(row)
    before = {c: getattr(row, c) for c in CATEGORIES}
    for name, value in choices.items():
        setattr(row, name, bool(value))
    row.updated_at = utcnow()
    session.flush()
    after = {c: getattr(row, c) for c in CATEGORIES}
    if after != before:
        audit.record(session, actor=actor, action="notify.preferences", object_type="user", object_id=user.username,
                     organization_id=user.organization_id,
                     details={k: v for k, v in after.items() if before[k] != v})
    return get_preferences(session=session, user=user)


def _wants(session: Session, user: User | None, category: str) -> bool:
    if user is None:
        return True
    return getattr(get_preferences(session=session, user=user), category)


# --- the outbox -------------------------------------------------------------------------------------

def enqueue(*, session: Session, settings: Settings, kind: str, recipient: str, context: dict[str, Any],
            organization_id: int | None, ticket_id: str | None = None, user: User | None = None,
            in_reply_to: str | None = None, now: dt.datetime | None = None) -> OutboxMessage | None:
    """Render one message and add it to the outbox in the caller's transaction; None when nobody to send to."""
    address = parseaddr(recipient or "")[1].strip()
    if "@" not in address or _same_address(address, parseaddr(settings.support_address)[1]):
        return None  # no address, or our own mailbox (intake would read it back)
    now = now or utcnow()
    name = (user.display_name if user is not None else context.get("recipient_name")) or ""
    # a person with an account reads their account's language; an address without one (a contact) Russian
    lang = user.language if user is not None and user.language in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE
    rendered = templates.render(kind, settings=settings, context={**context, "recipient_name": name}, lang=lang)
    headers: dict[str, str] = {}
    references = []
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
        references.append(in_reply_to)
    if ticket_id:
        references.append(ticket_thread_id(settings, ticket_id))
    if references:
        headers["References"] = " ".join(references)
    message = OutboxMessage(
        created_at=now, kind=kind, recipient=address[:254], recipient_user_id=user.id if user else None,
        organization_id=organization_id, ticket_id=ticket_id, subject=rendered.subject, body_text=rendered.text,
        body_html=rendered.html, headers=headers, message_id=new_message_id(settings),
        status=OutboxStatus.pending.value, attempts=0, next_attempt_at=now, last_error="",
    )
    session.add(message)
    session.flush()
    return message


def list_outbox(*, session: Session, status: str | None = None, limit: int = 100,
                offset: int = 0) -> list[OutboxMessage]:
    """Outbox messages newest first, optionally of one status."""
    stmt = select(OutboxMessage)
    if status:
        if status not in OutboxStatus.__members__:
            raise Invalid.fields({"status": i18n.message("errors_notify.allowed", values=", ".join(OutboxStatus))})
        stmt = stmt.where(OutboxMessage.status == status)
    return list(session.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(limit).offset(offset)))


def outbox_counts(*, session: Session) -> dict[str, int]:
    rows = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    return {s.value: rows.get(s.value, 0) for s in OutboxStatus}


def get_message(*, session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(i18n.message("errors_notify.outbox_missing", id=message_id))
    return message


def retry(*, session: Session, actor, message_id: int, now: dt.datetime | None = None) -> OutboxMessage:
    """Send a failed (or waiting) message again at once, with a fresh count of attempts."""
    policy.require(actor, "outbox.manage")
    message = get_message(session=session, message_id=message_id)
    if message.status not in (OutboxStatus.failed, OutboxStatus.pending):
        raise Conflict(i18n.message("errors_notify.retry_only_unsent", id=message.id,
                                    status=i18n.message(f"notify.status.{message.status}")),
                       extra={"status": message.status})
    before = message.status
    message.status, message.attempts = OutboxStatus.pending.value, 0
    message.next_attempt_at = now or utcnow()
    message.claimed_by = message.claimed_until = None
    session.flush()
    audit.record(session, actor=actor, action="outbox.retry", object_type="outbox_message", object_id=message.id,
                 organization_id=message.organization_id,
                 details={"from": before, "recipient": message.recipient, "kind": message.kind,
                          "last_error": message.last_error})
    return message


def retry_all_failed(*, session: Session, actor, now: dt.datetime | None = None) -> int:
    """Retry every failed message; the number retried."""
    policy.require(actor, "outbox.manage")
    ids = list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.failed.value)))
    for message_id in ids:
        retry(session=session, actor=actor, message_id=message_id, now=now)
    return len(ids)


def mark_once(*, session: Session, key: str, now: dt.datetime | None = None) -> bool:
    """True the first time ``key`` is marked (in the caller's transaction); False ever after."""
    if session.get(NotifyMark, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(NotifyMark(key=key, created_at=now or utcnow()))
    except IntegrityError:  # another process marked it first
        return False
    return True


# --- recipients -------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Recipient:
    address: str
    user: User | None
    name: str = ""


def _add(found: dict[str, Recipient], address: str | None, user: User | None, name: str = "") -> None:
    address = (address or "").strip()
    if "@" not in address:
        return
    key = address.lower()
    if key not in found or (found[key].user is None and user is not None):
        found[key] = Recipient(address, user, name or (user.display_name if user else ""))


def ticket_recipients(*, session: Session, ticket) -> list[Recipient]:
    """The ticket's contact, its requester, and users of its organisation who follow all its tickets.

    Everyone is of the ticket's organisation (the contact address is the ticket's own); a user who
    switched ticket messages off is left out, also when their address is the ticket's contact.
    """
    org_users = list(session.scalars(select(User).where(
        User.organization_id == ticket.organization_id, User.is_active == true(), User.role == Role.customer.value)
        .order_by(User.id)))
    found: dict[str, Recipient] = {}
    own = {u.id for u in org_users if u.id == ticket.requester_id or _same_address(u.email, ticket.contact_email)}
    contact_user = next((u for u in org_users if _same_address(u.email, ticket.contact_email)), None)
    _add(found, ticket.contact_email, contact_user, ticket.contact_name)
    # the contacts merged duplicates brought along (portal.tickets.merge): theirs was the same organisation
    for extra in merge.extra_contacts(session=session, ticket=ticket):
        extra_user = next((u for u in org_users if _same_address(u.email, extra.email)), None)
        if extra_user is not None:
            own.add(extra_user.id)
        _add(found, extra.email, extra_user, extra.name)
    for user in org_users:
        if not user.email:
            continue
        category = "ticket_updates" if user.id in own else "organization_tickets"
        if _wants(session, user, category):
            _add(found, user.email, user)
    return [r for r in found.values() if r.user is None or _wants(
        session, r.user, "ticket_updates" if r.user.id in own else "organization_tickets")]


def organization_recipients(*, session: Session, organization_id: int, category: str = "packages") -> list[Recipient]:
    """Active customer users of one organisation who want ``category`` messages."""
    users = session.scalars(select(User).where(
        User.organization_id == organization_id, User.is_active == true(), User.role == Role.customer.value)
        .order_by(User.id))
    found: dict[str, Recipient] = {}
    for user in users:
        if user.email and _wants(session, user, category):
            _add(found, user.email, user)
    return list(found.values())


def staff_recipients(*, session: Session) -> list[Recipient]:
    """Second line (role support) who want staff alerts."""
    users = session.scalars(select(User).where(User.role.in_(STAFF_ALERT_ROLES), User.is_active == true())
                            .order_by(User.id))
    found: dict[str, Recipient] = {}
    for user in users:
        if user.email and _wants(session, user, "staff_alerts"):
            _add(found, user.email, user)
    return list(found.values())


# --- ticket messages --------------------------------------------------------------------------------

def ticket_link(settings: Settings, ticket_id: str) -> str:
    return f"{settings.base_url.rstrip('/')}/tickets/{ticket_id}"


def _ticket_context(settings: Settings, ticket) -> dict[str, Any]:
    org = ticket.organization
    return {"ticket": ticket, "link": ticket_link(settings, ticket.id), "organization_name": org.name if org else ""}


def notify_ticket_customers(*, session: Session, settings: Settings, ticket, kind: str,
                            context: dict[str, Any] | None = None, in_reply_to: str | None = None,
                            now: dt.datetime | None = None) -> list[OutboxMessage]:
    """One message of ``kind`` about ``ticket`` to each of the ticket's customer recipients."""
    ctx = {**_ticket_context(settings, ticket), **(context or {})}
    out = []
    for r in ticket_recipients(session=session, ticket=ticket):
        message = enqueue(session=session, settings=settings, kind=kind, recipient=r.address,
                          context={**ctx, "recipient_name": r.name}, organization_id=ticket.organization_id,
                          ticket_id=ticket.id, user=r.user, in_reply_to=in_reply_to, now=now)
        if message is not None:
            out.append(message)
    return out


def notify_staff(*, session: Session, settings: Settings, ticket, kind: str, context: dict[str, Any] | None = None,
                 now: dt.datetime | None = None) -> list[OutboxMessage]:
    """A staff alert about ``ticket`` to second line."""
    ctx = {**_ticket_context(settings, ticket), "staff": True, **(context or {})}
    out = []
    for r in staff_recipients(session=session):
        message = enqueue(session=session, settings=settings, kind=kind, recipient=r.address, context=ctx,
                          organization_id=ticket.organization_id, ticket_id=ticket.id, user=r.user, now=now)
        if message is not None:
            out.append(message)
    return out


def _articles_citing(settings: Settings, ticket_id: str) -> list[dict[str, str]]:
    """Published articles a customer may read that cite the ticket, with their knowledge-base links."""
    # Lazy: knowledge's service loads GitPython and the content repository (~0.25 s), which every ``portal``
    # command would pay for at start through the notify commands; only a mail about a ticket needs it.
    from portal.knowledge import audiences
    from portal.knowledge import service as knowledge

    if not (settings.content_path / ".git").exists():
        return []
    out = []
    for entry in knowledge.articles_for_ticket(settings=settings, ticket_id=ticket_id):
        # the customers edition carries it: the link opens (articles_for_ticket lists only valid articles)
        if entry.meta is not None and audiences.customers_read(entry.visibility):
            out.append({"title": entry.meta.title, "url": settings.base_url.rstrip("/") + entry.url})
    return out


def _intake_context(session: Session) -> dict[str, Any]:
    """What e-mail intake left for the listener about the ticket it is registering (missing fields, reply-to)."""
    return session.info.get("notify.intake") or {}


def on_ticket_event(*, session: Session, ticket, event) -> None:
    """Tickets' event listener: the regulation's messages for this event, in the event's transaction."""
    settings = _settings(session)
    now = event.at
    staff_actor = bool(event.actor_is_staff)
    kind, details = event.kind, event.details or {}
    if kind == "created":
        intake = _intake_context(session)
        notify_ticket_customers(session=session, settings=settings, ticket=ticket, kind="ticket_registered",
                                context={"missing": details.get("missing", [])},
                                in_reply_to=intake.get("in_reply_to"), now=now)
        if ticket.priority == "critical":
            notify_staff(session=session, settings=settings, ticket=ticket, kind="critical_ticket",
                         context={"corrected": False}, now=now)
        return
    if kind == "priority":
        notify_ticket_customers(session=session, settings=settings, ticket=ticket, kind="priority_corrected",
                                context={"previous": details.get("from", ""), "reason": details.get("reason", "")},
                                now=now)
        if ticket.priority == "critical":
            notify_staff(session=session, settings=settings, ticket=ticket, kind="critical_ticket",
                         context={"corrected": True}, now=now)
        return
    if not event.public:
        return  # internal comments and internal events never reach the customer
    if kind == "merged":  # one message about the whole merge, to the original's people and the duplicate's
        notify_ticket_customers(session=session, settings=settings, ticket=ticket, kind="ticket_merged",
                                context={"duplicate_id": details.get("duplicate", ""),
                                         "comments": details.get("comments", 0),
                                         "attachments": details.get("attachments", [])},
                                in_reply_to=ticket_thread_id(settings, details.get("duplicate") or ticket.id),
                                now=now)
        return
    if kind == "status":
        target = event.to_status
        if target == "awaiting_info":
            notify_ticket_customers(session=session, settings=settings, ticket=ticket, kind="info_requested",
                                    context={"request": Asked(ticket.info_request or event.comment or "")}, now=now)
        elif target == "suspended":
            notify_ticket_customers(session=session, settings=settings, ticket=ticket, kind="ticket_suspended",
                                    context={"reason": ticket.suspend_reason or event.comment}, now=now)
        elif target == "deferred":
            code = details.get("reason", "")
            # the regulation's words for the reason, in each recipient's language
            reason = i18n.message(f"defer.{code}") if f"defer.{code}" in i18n.catalogue(i18n.DEFAULT_LANGUAGE) \
                else details.get("reason_text") or code
            comment = event.comment if event.comment != details.get("reason") else ""
            notify_ticket_customers(session=session, settings=settings, ticket=ticket, kind="ticket_deferred",
                                    context={"reason": reason, "comment": comment}, now=now)
        elif target == "resolved":
            notify_ticket_customers(session=session, settings=settings, ticket=ticket, kind="ticket_resolved",
                                    context={"solution": ticket.resolution_solution,
                                             "workaround": ticket.resolution_workaround,
                                             "articles": _articles_citing(settings, ticket.id)}, now=now)
    elif kind == "eta":
        previous = details.get("previous")
        notify_ticket_customers(session=session, settings=settings, ticket=ticket, kind="eta_set",
                                context={"previous": dt.datetime.fromisoformat(previous) if previous else None,
                                         "comment": event.comment}, now=now)
    elif kind == "comment" and staff_actor:
        notify_ticket_customers(session=session, settings=settings, ticket=ticket, kind="support_reply",
                                context={"comment": event.comment, "author": event.actor_name}, now=now)
    elif kind == INFO_REMINDER:
        notify_ticket_customers(session=session, settings=settings, ticket=ticket, kind="info_reminder",
                                context={"request": Asked(ticket.info_request),  # in each recipient's language
                                         "requested_at": ticket.info_requested_at or now}, now=now)


INFO_REMINDER = "info_reminder"


# --- fix packages and deliveries (called by the releases domain) ------------------------------------

def _package_context(settings: Settings, package, organization, link: str | None) -> dict[str, Any]:
    ticket_ids = sorted(getattr(package, "ticket_ids", None) or [])
    files = [{"name": getattr(f, "name", ""), "sha256": getattr(f, "sha256", "")}
             for f in getattr(package, "files", None) or []]
    if not files and getattr(package, "sha256", None):
        files = [{"name": "", "sha256": package.sha256}]
    package_id = getattr(package, "id", "") or ""
    return {
        "package": {"name": getattr(package, "name", "") or package_id, "title": getattr(package, "title", "") or "",
                    "version": getattr(package, "version", "") or "", "files": files},
        "ticket_ids": ticket_ids, "organization_name": organization.name,
        "link": link or f"{settings.base_url.rstrip('/')}/packages/{package_id}",
    }


def _own_ticket_ids(session: Session, ticket_ids: list[str], organization_id: int) -> list[str]:
    """Of the package's tickets, only those of this organisation (a package may fix several customers' tickets)."""
    if not ticket_ids:
        return []
    return sorted(session.scalars(select(Ticket.id).where(Ticket.id.in_(ticket_ids),
                                                          Ticket.organization_id == organization_id)))


def _to_organization(*, session: Session, settings: Settings, kind: str, package, organization: Organization,
                     context: dict[str, Any], recipients: list[Recipient] | None,
                     now: dt.datetime | None) -> list[OutboxMessage]:
    """One package message to an organisation's users — once per package, organisation and kind."""
    package_id = getattr(package, "id", "") or context["package"]["name"]
    if not mark_once(session=session, key=f"{kind}:{package_id}:{organization.id}", now=now):
        return []
    context["ticket_ids"] = _own_ticket_ids(session, context["ticket_ids"], organization.id)
    out = []
    for r in recipients if recipients is not None else organization_recipients(session=session,
                                                                               organization_id=organization.id):
        message = enqueue(session=session, settings=settings, kind=kind, recipient=r.address, context=context,
                          organization_id=organization.id, user=r.user, now=now)
        if message is not None:
            out.append(message)
    return out


def package_available(*, session: Session, package, organization: Organization, settings: Settings | None = None,
                      link: str | None = None, recipients: list[Recipient] | None = None,
                      now: dt.datetime | None = None) -> list[OutboxMessage]:
    """«Доступен пакет исправлений» to an entitled organisation's users who want package messages (once).

    ``package`` is a releases ``Package`` (``id``, ``title``, ``version``, ``files``, ``ticket_ids``) or
    anything shaped like it; only the organisation's own tickets are named in the message.
    """
    settings = settings or _settings(session)
    return _to_organization(session=session, settings=settings, kind="package_available", package=package,
                            organization=organization, context=_package_context(settings, package, organization, link),
                            recipients=recipients, now=now)


def on_package_published(event) -> None:
    """Releases' PACKAGE_PUBLISHED listener: «Доступен пакет исправлений» to each entitled organisation, naming
    only its own tickets, in the transaction that published the package."""
    for org in event.organizations:
        package_available(session=event.session, settings=event.settings, package=event.package, organization=org,
                          now=event.at)


def delivery_awaiting_acknowledgement(*, session: Session, package, organization: Organization,
                                      settings: Settings | None = None, link: str | None = None, channel: str = "",
                                      recipients: list[Recipient] | None = None,
                                      now: dt.datetime | None = None) -> list[OutboxMessage]:
    """«Подтвердите получение пакета» to the organisation's users after second line records a hand-over (once)."""
    settings = settings or _settings(session)
    context = {**_package_context(settings, package, organization, link), "channel": channel}
    return _to_organization(session=session, settings=settings, kind="delivery_awaiting_acknowledgement",
                            package=package, organization=organization, context=context, recipients=recipients,
                            now=now)


def on_delivery_handed_over(event) -> None:
    """Releases' DELIVERY_HANDED_OVER listener: the organisation is asked to acknowledge the hand-over."""
    delivery_awaiting_acknowledgement(session=event.session, package=event.package, organization=event.organization,
                                      channel=event.channel)


# --- scheduled messages: reminders and SLA alerts ---------------------------------------------------

def send_reminders(*, session: Session, settings: Settings, now: dt.datetime | None = None) -> int:
    """Remind the customer of requested information on each ticket whose reminder date has come.

    The reminder is an event in the ticket's history («Напоминать клиенту …»), so the customer sees it on
    the portal too; the next reminder is PORTAL_INFO_REMINDER_DAYS working days later, until answered.
    """
    from zoneinfo import ZoneInfo

    now = now or utcnow()
    actor = policy.SystemActor.job("notify.reminders")
    policy.require(actor, "ticket.remind")
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    due = list(session.scalars(select(Ticket).where(Ticket.status == Status.awaiting_info.value,
                                                    Ticket.info_reminder_on <= today).order_by(Ticket.id)))
    for ticket in due:
        reminder_on = ticket.info_reminder_on
        ticket.info_reminder_on = sla.next_reminder(settings, since=now)
        tickets.record_event(session=session, ticket=ticket, actor=actor, kind=INFO_REMINDER,
                             comment=str(i18n.message("history.reminder_sent")),  # stored in Russian
                             details={"reminder_on": reminder_on, "next_reminder_on": ticket.info_reminder_on},
                             now=now)
    return len(due)


def scan_sla(*, session: Session, settings: Settings, now: dt.datetime | None = None) -> dict[str, int]:
    """Alert second line, once per ticket and deadline, when a reaction deadline approaches and when it passes."""
    now = now or utcnow()
    warning = dt.timedelta(hours=settings.sla_warning_hours)
    counts = {"sla_approaching": 0, "sla_breached": 0}
    candidates = session.scalars(select(Ticket).where(
        Ticket.is_open == true(), Ticket.reacted_at.is_(None), Ticket.sla_reaction_due <= now + warning)
        .order_by(Ticket.sla_reaction_due, Ticket.id))
    for ticket in candidates:
        kind = "sla_breached" if ticket.sla_reaction_due <= now else "sla_approaching"
        key = f"{kind}:{ticket.id}:{ticket.sla_reaction_due.astimezone(dt.UTC).isoformat()}"
        if not mark_once(session=session, key=key, now=now):
            continue
        notify_staff(session=session, settings=settings, ticket=ticket, kind=kind,
                     context={"left": max(ticket.sla_reaction_due - now, dt.timedelta(0))}, now=now)
        counts[kind] += 1
    return counts
