"""The delivery ledger's tables: chained events per package and each chain's head (``portal.releases.ledger``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime


class LedgerEvent(Base):
    """One happening of the delivery ledger, chained per package: ``hash`` is the SHA-256 of the event's canonical
    content, which includes ``prev_hash`` (the previous event's ``hash`` of the same package). Written only through
    ``portal.releases.ledger.append``; an edited or deleted row breaks the chain (``portal package verify``)."""

    __tablename__ = "ledger_events"
    __table_args__ = (UniqueConstraint("package_id", "seq", name="uq_ledger_events_package_seq"),
                      Index("ix_ledger_events_organization", "organization_id", "package_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, … within the package's chain
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(150))  # the audit name (login, job:…)
    actor_name: Mapped[str] = mapped_column(String(200))  # the person's name as it was then
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))  # "" for the first event of a package
    hash: Mapped[str] = mapped_column(String(64))


class LedgerHead(Base):
    """The last event of each package's chain: a deleted last event is seen by its absence."""

    __tablename__ = "ledger_heads"

    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
