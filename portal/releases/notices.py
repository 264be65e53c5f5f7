"""Notices of a withdrawal or a replacement, to exactly the organisations that received the package.

Whom: an organisation «has» a package once the delivery ledger shows it downloaded (any bytes of a file) or
handed over by another channel (``deliveries.received_by``). Organisations that were entitled but never received
it are told nothing beyond the package's withdrawn status.

* **Withdrawal** (the intent effect ``package.withdrawal_notices``, applied in the transaction that withdraws the
  package — by ``finish`` or, after a crash between the git commit and the database, by the reconciliation;
  either way once): each receiving organisation gets a notice with the reason and what to install instead (the
  package's newest published replacement, if any), e-mail to its users who want package messages, and its
  delivery moves to ``withdrawn_notified``. A customer of that organisation acknowledges the notice
  (→ ``withdrawal_acknowledged``); until then second line is reminded every ``PORTAL_INFO_REMINDER_DAYS``
  working days of the SLA calendar (the job ``releases.notice_reminders``).
* **Replacement** (``package.replacement_notices``, when a package that supersedes another is published): the
  holders of the old package that the new one is offered to are told of it (another holder learns nothing of a
  package it is not entitled to). A withdrawal notice of the old package still open names
  the new package as what to install instead.

Every notice and every acknowledgement is an audit row and a ledger event of the package's chain. E-mail is
notify's: this domain publishes ``NoticeSent`` and ``NoticeReminder`` and ``portal.wiring`` adds the listeners.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit, intents, policy
from portal.config import Settings
from portal.db import utcnow
from portal.errors import not_found
from portal.registry import Registry
from portal.releases import deliveries, ledger, supersede
from portal.releases.models import Delivery, DeliveryStatus, NoticeKind, Package, PackageNotice, PackageStatus
from portal.tickets import sla

log = logging.getLogger("portal.releases.notices")

S = DeliveryStatus


class LedgerKind:
    """The ledger events of notices (kinds of ``ledger.append``)."""

    withdrawal_notified = "withdrawal_notified"
    withdrawal_acknowledged = "withdrawal_acknowledged"
    replacement_notified = "replacement_notified"
    replacement_acknowledged = "replacement_acknowledged"


# --- what notify listens to -------------------------------------------------------------------------------

@dataclass(frozen=True)
class NoticeSent:
    """A notice was created for one organisation (told in the transaction that created it)."""

    session: Session
    settings: Settings
    notice: PackageNotice
    at: dt.datetime


@dataclass(frozen=True)
class NoticeReminder:
    """A withdrawal notice is still not acknowledged: second line is reminded (once per reminder day)."""

    session: Session
    settings: Settings
    notice: PackageNotice
    at: dt.datetime


class NoticeSentListener(Protocol):
    def __call__(self, event: NoticeSent) -> None: ...


class NoticeReminderListener(Protocol):
    def __call__(self, event: NoticeReminder) -> None: ...


NOTICE_SENT: Registry[NoticeSentListener] = Registry("releases.notice_sent")
NOTICE_REMINDER: Registry[NoticeReminderListener] = Registry("releases.notice_reminder")


# --- creating notices (intent effects) ----------------------------------------------------------------------

def _audit(session: Session, actor, notice: PackageNotice, action: str, **details) -> None:
    audit.record(session, actor=actor, action=f"notice.{action}", object_type="package_notice", object_id=notice.id,
                 organization_id=notice.organization_id,
                 details={"package": notice.package_id, "kind": notice.kind, **details})


def _create(session: Session, settings: Settings, *, package: Package, delivery: Delivery, kind: NoticeKind,
            actor, at: dt.datetime, reason: str = "", replacement: Package | None = None,
            recovered: bool = False) -> PackageNotice | None:
    """One notice to the delivery's organisation, unless it has one of this kind for this package already."""
    existing = session.scalar(select(PackageNotice).where(
        PackageNotice.package_id == package.id, PackageNotice.organization_id == delivery.organization_id,
        PackageNotice.kind == kind.value))
    if existing is not None:
        return None
    notice = PackageNotice(package_id=package.id, organization_id=delivery.organization_id, kind=kind.value,
                           reason=reason, replacement_id=replacement.id if replacement else None, created_at=at,
                           acknowledged_by="", reminders=0,
                           next_reminder_on=sla.next_reminder(settings, since=at) if kind == NoticeKind.withdrawn
                           else None)
    session.add(notice)
    session.flush()
    details = {"replacement": notice.replacement_id, **({"recovered": True} if recovered else {})}
    _audit(session, actor, notice, "sent", **details)
    ledger_kind = LedgerKind.withdrawal_notified if kind == NoticeKind.withdrawn else LedgerKind.replacement_notified
    ledger.append(session, package_id=package.id, organization_id=notice.organization_id, kind=ledger_kind,
                  actor=actor, at=at, details={"notice": notice.id, "reason": reason,
                                               "replacement": notice.replacement_id})
    return notice


def _entitled(package: Package, organization_id: int) -> bool:
    return organization_id in package.entitled_organization_ids


def _tell(session: Session, settings: Settings, notices: list[PackageNotice], at: dt.datetime) -> None:
    for notice in notices:
        for listener in NOTICE_SENT:
            listener(NoticeSent(session=session, settings=settings, notice=notice, at=at))


def _apply_withdrawal_notices(session: Session, ctx: intents.EffectContext, eff: dict) -> None:
    """After ``package.withdraw`` in the same intent: a notice to each organisation that received the package."""
    package = session.get(Package, eff["package"])
    # The withdrawal effect before this one was applied by this very intent only if the manifest commit is ours.
    if package is None or package.status != PackageStatus.withdrawn or package.manifest_commit != ctx.commit:
        log.warning("withdrawal notices of %s not sent: the withdrawal was not applied", eff["package"])
        return
    at = package.withdrawn_at or utcnow()
    replacement = supersede.current_replacement(session, package=package)
    sent = []
    for delivery in deliveries.received_by(session=session, package=package):
        # A replacement the organisation is not entitled to is not named to it (nor could it download it).
        instead = replacement if replacement is not None and _entitled(replacement, delivery.organization_id) else None
        notice = _create(session, ctx.settings, package=package, delivery=delivery, kind=NoticeKind.withdrawn,
                         actor=ctx.actor, at=at, reason=package.withdraw_reason, replacement=instead,
                         recovered=ctx.recovered)
        if notice is None:
            continue
        delivery.status, delivery.overdue, delivery.updated_at = S.withdrawn_notified.value, False, at
        sent.append(notice)
    session.flush()
    _tell(session, ctx.settings, sent, at)


def _apply_replacement_notices(session: Session, ctx: intents.EffectContext, eff: dict) -> None:
    """After ``package.publish`` in the same intent: the holders of the package it supersedes are told."""
    package = session.get(Package, eff["package"])
    if package is None or package.status != PackageStatus.published or package.manifest_commit != ctx.commit:
        return
    if not package.supersedes_id:
        return
    old = session.get(Package, package.supersedes_id)
    if old is None:
        return
    at = package.published_at or utcnow()
    sent = []
    for delivery in deliveries.received_by(session=session, package=old):
        if not _entitled(package, delivery.organization_id):
            continue  # a holder the new package is not offered to learns nothing of it
        notice = _create(session, ctx.settings, package=old, delivery=delivery, kind=NoticeKind.superseded,
                         actor=ctx.actor, at=at, replacement=package, recovered=ctx.recovered)
        if notice is not None:
            sent.append(notice)
    # A withdrawal notice of the old package still open now says what to install instead.
    for notice in session.scalars(select(PackageNotice).where(
            PackageNotice.package_id == old.id, PackageNotice.kind == NoticeKind.withdrawn.value,
            PackageNotice.replacement_id.is_(None))):
        if _entitled(package, notice.organization_id):
            notice.replacement_id = package.id
    session.flush()
    _tell(session, ctx.settings, sent, at)


# Added to portal.intents.EFFECTS by portal.wiring (service.py names them in the withdrawal's and the publication's
# intents, after the effect that changes the package).
EFFECTS = (intents.Effect("package.withdrawal_notices", _apply_withdrawal_notices),
           intents.Effect("package.replacement_notices", _apply_replacement_notices))


# --- reading and acknowledging ------------------------------------------------------------------------------

def get_notice(*, session: Session, user, notice_id: int, action: str = "notice.view") -> PackageNotice:
    """The notice if the reader may see it (customers: their organisation's); another's answers as missing."""
    policy.require(user, action)
    notice = session.get(PackageNotice, notice_id)
    if notice is None:
        raise not_found("notice", notice_id)
    policy.require(user, "notice.view", notice, missing=not_found("notice", notice_id))
    policy.require(user, action, notice, missing=not_found("notice", notice_id))
    return notice


def list_notices(*, session: Session, user, open_only: bool = False, kind: str | None = None,
                 package_id: str | None = None) -> list[PackageNotice]:
    """Notices the reader may see, open ones first, newest first; customers only their organisation's."""
    policy.require(user, "notice.view")
    stmt = select(PackageNotice)
    if not user.is_staff:
        stmt = stmt.where(PackageNotice.organization_id == user.organization_id)
    if open_only:
        stmt = stmt.where(PackageNotice.acknowledged_at.is_(None))
    if kind:
        stmt = stmt.where(PackageNotice.kind == kind)
    if package_id:
        stmt = stmt.where(PackageNotice.package_id == package_id)
    rows = session.scalars(stmt.order_by(PackageNotice.created_at.desc(), PackageNotice.id.desc()))
    notices = [n for n in rows if policy.allows(user, "notice.view", n)]
    return sorted(notices, key=lambda n: not n.open)  # stable: open first, each group newest first


def unacknowledged_withdrawals(*, session: Session, user) -> list[PackageNotice]:
    """Second line's list: withdrawal notices no customer of the organisation has acknowledged yet, oldest first."""
    policy.require(user, "delivery.record")
    return sorted(list_notices(session=session, user=user, open_only=True, kind=NoticeKind.withdrawn.value),
                  key=lambda n: (n.created_at, n.id))


def shown(rows: list[PackageNotice]) -> list[PackageNotice]:
    """The notices to show: a replacement notice is left out where the same organisation has the package's
    withdrawal notice, which names the replacement too (and acknowledging it acknowledges both)."""
    withdrawn = {(n.package_id, n.organization_id) for n in rows if n.kind == NoticeKind.withdrawn}
    return [n for n in rows if n.kind == NoticeKind.withdrawn or (n.package_id, n.organization_id) not in withdrawn]


def acknowledge(*, session: Session, actor, notice_id: int) -> PackageNotice:
    """A customer of the organisation says it read the notice; the withdrawn delivery moves on. A withdrawal
    notice's acknowledgement covers the same package's replacement notice too. Asked again, the notice stays as
    first acknowledged."""
    notice = get_notice(session=session, user=actor, notice_id=notice_id, action="notice.acknowledge")
    if not notice.open:
        return notice
    _acknowledge(session, actor, notice)
    if notice.kind == NoticeKind.withdrawn:
        replaced = session.scalar(select(PackageNotice).where(
            PackageNotice.package_id == notice.package_id, PackageNotice.organization_id == notice.organization_id,
            PackageNotice.kind == NoticeKind.superseded.value, PackageNotice.acknowledged_at.is_(None)))
        if replaced is not None:
            _acknowledge(session, actor, replaced)
    return notice


def _acknowledge(session: Session, actor, notice: PackageNotice) -> None:
    now = utcnow()
    notice.acknowledged_at, notice.acknowledged_by, notice.next_reminder_on = now, actor.audit_name, None
    if notice.kind == NoticeKind.withdrawn:
        delivery = deliveries.find_delivery(session=session, package_id=notice.package_id,
                                            organization_id=notice.organization_id)
        if delivery is not None and delivery.status == S.withdrawn_notified:
            delivery.status, delivery.updated_at = S.withdrawal_acknowledged.value, now
    session.flush()
    _audit(session, actor, notice, "acknowledged")
    kind = LedgerKind.withdrawal_acknowledged if notice.kind == NoticeKind.withdrawn \
        else LedgerKind.replacement_acknowledged
    ledger.append(session, package_id=notice.package_id, organization_id=notice.organization_id, kind=kind,
                  actor=actor, at=now, details={"notice": notice.id})
    session.flush()


# --- reminders on the SLA calendar ----------------------------------------------------------------------------

def remind(*, session: Session, settings: Settings, now: dt.datetime | None = None) -> int:
    """Remind second line of each withdrawal notice not acknowledged whose reminder day has come; the next one is
    ``PORTAL_INFO_REMINDER_DAYS`` working days later. Each reminder is an audit row and a message to second line."""
    now = now or utcnow()
    actor = policy.SystemActor.job("releases.notice_reminders")
    policy.require(actor, "notice.remind")
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    due = list(session.scalars(select(PackageNotice).where(
        PackageNotice.kind == NoticeKind.withdrawn.value, PackageNotice.acknowledged_at.is_(None),
        PackageNotice.next_reminder_on <= today).order_by(PackageNotice.next_reminder_on, PackageNotice.id)))
    for notice in due:
        reminder_on = notice.next_reminder_on
        notice.reminders += 1
        notice.next_reminder_on = sla.next_reminder(settings, since=now)
        _audit(session, actor, notice, "reminded", reminder_on=reminder_on.isoformat() if reminder_on else None,
               next_reminder_on=notice.next_reminder_on.isoformat(), reminders=notice.reminders)
        for listener in NOTICE_REMINDER:
            listener(NoticeReminder(session=session, settings=settings, notice=notice, at=now))
    session.flush()
    return len(due)
