"""Deliveries: the hand-over of a published package to each entitled organisation, confirmed by second line.

    pending ──complete download──▶ downloaded ─┐
       │                                       ├─▶ acknowledged (customer) ─▶ confirmed (second line)
       └──hand-over by e-mail, media, remote───▶ delivered ──┘                      ▲
    second line may confirm from any earlier state on the customer's behalf, with a note ─┘

Pending deliveries older than ``PORTAL_DELIVERY_OVERDUE_DAYS`` are marked overdue (a flag, not a status).
Deliveries of a withdrawn package keep their history and accept no more changes.
"""

from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit, csvexport, policy
from portal.accounts.models import Organization, User
from portal.config import Settings
from portal.db import utcnow
from portal.errors import Conflict, Invalid, NotFound, not_found
from portal.i18n import Joined, Message, message
from portal.policy import Actor
from portal.releases import events, ledger
from portal.releases.models import Channel, Delivery, DeliveryStatus, Download, Package, PackageStatus
from portal.releases.service import packages_for_ticket, require
from portal.tickets import service as tickets

S = DeliveryStatus
NOTE_MAX = 5000
# What each step may start from.
CAN_DELIVER = frozenset({S.pending, S.downloaded})
CAN_ACKNOWLEDGE = frozenset({S.pending, S.downloaded, S.delivered})
CAN_CONFIRM = frozenset({S.pending, S.downloaded, S.delivered, S.acknowledged})
CHANNELS = {c.value for c in Channel}
# An organisation "has" a package (for the withdrawal notice) once anything but pending happened.
RECEIVED = frozenset({S.downloaded, S.delivered, S.acknowledged, S.confirmed, S.withdrawn_notified,
                      S.withdrawal_acknowledged})


def _name(actor: Actor) -> str:
    return actor.audit_name


def _audit(session: Session, actor, delivery: Delivery, action: str, **details) -> None:
    audit.record(session, actor=actor, action=f"delivery.{action}", object_type="delivery", object_id=delivery.id,
                 organization_id=delivery.organization_id,
                 details={"package": delivery.package_id, "status": delivery.status, **details})


def _note(note: str | None, *, required: bool = False, what: str = "note") -> str:
    note = (note or "").strip()
    if required and not note:
        raise Invalid.fields({what: message("errors_releases.note_missing")})
    if len(note) > NOTE_MAX:
        raise Invalid.fields({what: message("errors_releases.too_long", max=NOTE_MAX)})
    return note


def _open(delivery: Delivery) -> None:
    if delivery.package.status == PackageStatus.withdrawn:
        raise Conflict(message("errors_releases.delivery_of_withdrawn", id=delivery.package_id))


def get_delivery(*, session: Session, delivery_id: int, user, action: str = "delivery.view") -> Delivery:
    """The delivery if the reader may see it (customers: their organisation's only; others 404)."""
    require(user, action)  # an action the reader may never take answers 403 whether or not the delivery exists
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise not_found("delivery", delivery_id)
    require(user, "delivery.view", delivery, missing=not_found("delivery", delivery_id))
    require(user, action, delivery, missing=not_found("delivery", delivery_id))
    return delivery


def find_delivery(*, session: Session, package_id: str, organization_id: int) -> Delivery | None:
    return session.scalar(select(Delivery).where(Delivery.package_id == package_id,
                                                 Delivery.organization_id == organization_id))


def list_deliveries(*, session: Session, user, package: str | None = None, organization: str | None = None,
                    status: str | None = None, overdue: bool | None = None, since: dt.datetime | None = None,
                    until: dt.datetime | None = None) -> list[Delivery]:
    """Deliveries the reader may see, filtered; customers only their organisation's."""
    policy.require(user, "delivery.view")
    stmt = select(Delivery).join(Organization, Organization.id == Delivery.organization_id)
    if status:
        if status not in S.__members__:
            raise Invalid.fields({"status": message("errors_releases.allowed", values=", ".join(S))})
        stmt = stmt.where(Delivery.status == status)
    if package:
        stmt = stmt.where(Delivery.package_id == package)
    if organization:
        stmt = stmt.where(Organization.slug == organization)
    if overdue is not None:
        stmt = stmt.where(Delivery.overdue.is_(overdue))
    if since:
        stmt = stmt.where(Delivery.created_at >= since)
    if until:
        stmt = stmt.where(Delivery.created_at < until)
    if not user.is_staff:
        stmt = stmt.where(Delivery.organization_id == user.organization_id)
        stmt = stmt.join(Package, Package.id == Delivery.package_id).where(Package.status != PackageStatus.draft)
    stmt = stmt.order_by(Delivery.created_at.desc(), Delivery.package_id, Organization.name)
    return [d for d in session.scalars(stmt) if policy.allows(user, "delivery.view", d)]


def mark_downloaded(*, session: Session, package: Package, user: User, at: dt.datetime | None = None) -> Delivery | None:
    """A complete download by a user of an entitled organisation: pending → downloaded (who, when)."""
    if user.organization_id is None or package.status != PackageStatus.published:
        return None
    delivery = find_delivery(session=session, package_id=package.id, organization_id=user.organization_id)
    if delivery is None or delivery.status != S.pending:
        return delivery
    at = at or utcnow()
    delivery.status, delivery.downloaded_at, delivery.downloaded_by = S.downloaded.value, at, user.username
    delivery.overdue, delivery.updated_at = False, at
    _audit(session, user, delivery, "downloaded")
    ledger.append(session, package_id=package.id, organization_id=delivery.organization_id,
                  kind=ledger.Kind.downloaded, actor=user, at=at)
    session.flush()
    return delivery


def record_handover(*, session: Session, actor, package_id: str, organization: str, channel: str, note: str = "",
                    delivered_at: dt.datetime | None = None) -> Delivery:
    """Second line records a hand-over by another channel (e-mail, media, remote installation): → delivered."""
    require(actor, "delivery.record")  # customers are refused before any organisation is looked up
    org = session.scalar(select(Organization).where(Organization.slug == (organization or "").strip()))
    if org is None:
        raise Invalid.fields({"organization": message("errors_releases.organization_unknown", slug=organization)})
    require(actor, "delivery.record", org, missing=not_found("organization", organization))
    if channel not in CHANNELS:
        raise Invalid.fields({"channel": message("errors_releases.channel_allowed", values=", ".join(sorted(CHANNELS)))})
    note = _note(note)
    delivery = find_delivery(session=session, package_id=(package_id or "").strip(), organization_id=org.id)
    if delivery is None:
        raise NotFound(message("errors_releases.no_delivery", id=package_id, org=org.name))
    _open(delivery)
    if delivery.status not in CAN_DELIVER:
        raise Conflict(message("errors_releases.delivery_state_no_handover",
                                state=message(f"delivery_status.{delivery.status}")))
    now = utcnow()
    delivery.status, delivery.delivered_at, delivery.delivered_by = S.delivered.value, delivered_at or now, _name(actor)
    delivery.channel, delivery.delivery_note, delivery.overdue, delivery.updated_at = channel, note, False, now
    _audit(session, actor, delivery, "delivered", channel=channel, note=note)
    ledger.append(session, package_id=delivery.package_id, organization_id=org.id, kind=ledger.Kind.delivered,
                  actor=actor, at=now, details={"channel": channel, "delivered_at": delivery.delivered_at.isoformat(),
                                                "note": note})
    session.flush()
    events.delivery_handed_over(events.DeliveryHandedOver(session=session, package=delivery.package,
                                                          organization=org, channel=channel))
    return delivery


def acknowledge(*, session: Session, actor, delivery_id: int, note: str = "") -> Delivery:
    """The customer acknowledges receipt or installation from the package page: → acknowledged."""
    delivery = get_delivery(session=session, delivery_id=delivery_id, user=actor, action="delivery.acknowledge")
    note = _note(note)
    _open(delivery)
    if delivery.status not in CAN_ACKNOWLEDGE:
        raise Conflict(message("errors_releases.delivery_state", state=message(f"delivery_status.{delivery.status}")))
    now = utcnow()
    delivery.status, delivery.acknowledged_at, delivery.acknowledged_by = S.acknowledged.value, now, _name(actor)
    delivery.acknowledge_note, delivery.overdue, delivery.updated_at = note, False, now
    _audit(session, actor, delivery, "acknowledged", note=note)
    ledger.append(session, package_id=delivery.package_id, organization_id=delivery.organization_id,
                  kind=ledger.Kind.acknowledged, actor=actor, at=now, details={"note": note})
    session.flush()
    return delivery


def confirm(*, session: Session, actor, delivery_id: int, note: str = "") -> Delivery:
    """Second line confirms the delivery; without the customer's acknowledgement a note is required."""
    delivery = get_delivery(session=session, delivery_id=delivery_id, user=actor, action="delivery.confirm")
    _open(delivery)
    if delivery.status not in CAN_CONFIRM:
        raise Conflict(message("errors_releases.delivery_confirmed_already"))
    on_behalf = delivery.status != S.acknowledged
    note = _note(note, required=on_behalf)
    now = utcnow()
    delivery.status, delivery.confirmed_at, delivery.confirmed_by = S.confirmed.value, now, _name(actor)
    delivery.confirm_note, delivery.on_behalf, delivery.overdue, delivery.updated_at = note, on_behalf, False, now
    _audit(session, actor, delivery, "confirmed", note=note, on_behalf=on_behalf)
    ledger.append(session, package_id=delivery.package_id, organization_id=delivery.organization_id,
                  kind=ledger.Kind.confirmed, actor=actor, at=now, details=_confirmed_facts(delivery, note))
    _fix_delivered_events(session, delivery, actor)
    session.flush()
    return delivery


def _confirmed_facts(delivery: Delivery, note: str) -> dict:
    """What the receipt states, frozen in the ledger when the delivery is confirmed: the organisation and the
    package as they are named today, each file with its size and SHA-256."""
    package, org = delivery.package, delivery.organization
    return {"note": note, "on_behalf": delivery.on_behalf, "organization": {"slug": org.slug, "name": org.name},
            "package": {"title": package.title, "version": package.version},
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in package.files]}


def _fix_delivered_events(session: Session, delivery: Delivery, actor) -> None:
    """The regulation's last stage «Передача исправления Заказчику» on the organisation's linked tickets."""
    for ticket_id in delivery.package.ticket_ids:
        ticket = tickets.get_ticket_unchecked(session=session, ticket_id=ticket_id)
        if ticket.organization_id == delivery.organization_id:
            tickets.record_event(session=session, ticket=ticket, actor=actor, kind="fix_delivered",
                                 comment=f"Передача исправления подтверждена: пакет {delivery.package_id}",
                                 details={"package": delivery.package_id, "delivery": delivery.id})


def mark_overdue(*, session: Session, settings: Settings, now: dt.datetime | None = None) -> int:
    """Flag pending deliveries older than the configured number of days; the number flagged."""
    now = now or utcnow()
    actor = policy.SystemActor.job("releases.overdue")
    policy.require(actor, "delivery.mark_overdue")
    cutoff = now - dt.timedelta(days=settings.delivery_overdue_days)
    rows = session.scalars(select(Delivery).where(Delivery.status == S.pending.value, Delivery.overdue.is_(False),
                                                  Delivery.created_at <= cutoff))
    count = 0
    for delivery in rows:
        if delivery.package.status != PackageStatus.published:
            continue
        delivery.overdue, delivery.overdue_since, delivery.updated_at = True, now, now
        _audit(session, actor, delivery, "overdue", days=settings.delivery_overdue_days)
        count += 1
    session.flush()
    return count


def received_by(*, session: Session, package: Package) -> list[Delivery]:
    """Deliveries of organisations that already downloaded or received the package (whom to tell on withdrawal)."""
    downloaded_orgs = set(session.scalars(select(Download.organization_id).where(
        Download.package_id == package.id, Download.organization_id.is_not(None), Download.bytes_sent > 0)))
    deliveries = session.scalars(select(Delivery).where(Delivery.package_id == package.id))
    return [d for d in deliveries if d.status in RECEIVED or d.organization_id in downloaded_orgs]


def close_blocker(*, session: Session, ticket) -> str | None:
    """Tickets' CLOSE_GUARDS: a published fix not yet delivered and confirmed to the ticket's organisation."""
    waiting: list[Message] = []
    for package in packages_for_ticket(session=session, ticket_id=ticket.id):
        delivery = find_delivery(session=session, package_id=package.id, organization_id=ticket.organization_id)
        if delivery is not None and delivery.status != S.confirmed:
            # What is missing and who does it next, for the delivery's step: handing over, then confirming.
            step = "hand_over" if delivery.status == S.pending else "confirm"
            waiting.append(message(f"errors_releases.close_blocked.{step}", package=package.id,
                                   state=message(f"delivery_status.{delivery.status}")))
    if not waiting:
        return None
    return Joined(waiting, " ")


CSV_COLUMNS = ("delivery_id", "package", "package_title", "organization", "organization_name", "status", "overdue",
               "published_at", "downloaded_at", "downloaded_by", "delivered_at", "delivered_by", "channel",
               "acknowledged_at", "acknowledged_by", "confirmed_at", "confirmed_by", "on_behalf", "note")


def export_csv(deliveries: list[Delivery]) -> str:
    """Deliveries as CSV (UTF-8), one row each, dates in ISO 8601 UTC."""
    out = io.StringIO()
    writer = csvexport.writer(out)
    writer.writerow(CSV_COLUMNS)

    def iso(value):
        return value.isoformat() if value else ""

    for d in deliveries:
        writer.writerow([d.id, d.package_id, d.package.title, d.organization.slug, d.organization.name, d.status,
                         "yes" if d.overdue else "", iso(d.package.published_at), iso(d.downloaded_at),
                         d.downloaded_by, iso(d.delivered_at), d.delivered_by, d.channel, iso(d.acknowledged_at),
                         d.acknowledged_by, iso(d.confirmed_at), d.confirmed_by, "yes" if d.on_behalf else "",
                         " / ".join(n for n in (d.delivery_note, d.acknowledge_note, d.confirm_note) if n)])
    return out.getvalue()
