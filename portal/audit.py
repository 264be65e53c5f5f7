"""The audit log: one row per state change, written in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base, UTCDateTime, utcnow
from portal.policy import Audited


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_object", "object_type", "object_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Kept as text too, so the entry stays readable whatever happens to the account.
    actor: Mapped[str] = mapped_column(String(150))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def record(
    session: Session,
    *,
    actor: Audited,
    action: str,
    object_type: str,
    object_id: Any,
    details: dict[str, Any] | None = None,
    organization_id: int | None = None,
) -> AuditEntry:
    """Add an audit entry to the session; it commits (or rolls back) with the change it describes.

    ``actor`` is a signed-in User or a ``policy.SystemActor`` (``cli:root``, ``job:notify.outbox``, ``intake``),
    or for a failed login the ``policy.Visitor`` named by what was typed.
    """
    if not hasattr(actor, "audit_name"):  # a bare string or None would hide who made the change
        raise TypeError(f"audit.record needs a User or a SystemActor, not {actor!r}")
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor.id,
        actor=actor.audit_name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        organization_id=organization_id,
        details=_jsonable(details or {}),
    )
    session.add(entry)
    return entry


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def query(
    session: Session,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[AuditEntry]:
    """Entries newest first, filtered; ``actor`` is a name, or a prefix such as ``cli`` or ``job``."""
    stmt = select(AuditEntry)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    if actor:  # "cli" or "job" also finds every "cli:…" or "job:…" actor
        stmt = stmt.where(or_(AuditEntry.actor == actor, AuditEntry.actor.startswith(actor + ":", autoescape=True)))
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEntry.object_id == object_id)
    stmt = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))
