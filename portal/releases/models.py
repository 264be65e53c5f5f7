"""Fix packages, their files, entitlements, deliveries and the download log."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import storage
from portal.accounts.models import Organization
from portal.db import Base, UTCDateTime, utcnow


class PackageStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    withdrawn = "withdrawn"


class DeliveryStatus(enum.StrEnum):
    pending = "pending"  # published, nothing handed over yet
    downloaded = "downloaded"  # a complete download by the organisation
    delivered = "delivered"  # second line handed it over by another channel
    acknowledged = "acknowledged"  # the customer confirmed receipt or installation
    confirmed = "confirmed"  # second line confirmed the delivery
    # The package was withdrawn after the organisation received it: told (``releases.notices``), then it said so.
    withdrawn_notified = "withdrawn_notified"
    withdrawal_acknowledged = "withdrawal_acknowledged"


class Channel(enum.StrEnum):
    """How second line handed a package over, besides a download from the portal."""

    email = "email"
    media = "media"
    remote = "remote"  # remote installation by support
    other = "other"


class _Everyone(frozenset):
    """The entitlement of a package for all customers: every organisation is in it."""

    def __contains__(self, item) -> bool:
        return item is not None


EVERYONE = _Everyone()


class Package(Base):
    """A fix package: files tied to tickets, offered to entitled organisations."""

    __tablename__ = "packages"
    __table_args__ = (Index("ix_packages_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # primoart-5.2.1-hf3
    title: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(40))
    product_versions: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    modules: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    all_customers: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")  # release notes, Markdown, Russian
    status: Mapped[str] = mapped_column(String(12), default=PackageStatus.draft.value)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150), default="")
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[str] = mapped_column(String(150), default="")
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str] = mapped_column(String(150), default="")
    withdraw_reason: Mapped[str] = mapped_column(Text, default="")
    manifest_commit: Mapped[str] = mapped_column(String(40), default="")
    # The package this one replaces (``releases.notices``: its holders are told when this one is published).
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("packages.id"), index=True)

    files: Mapped[list["PackageFile"]] = relationship(order_by="PackageFile.id", lazy="selectin",
                                                      back_populates="package")
    tickets: Mapped[list["PackageTicket"]] = relationship(order_by="PackageTicket.ticket_id", lazy="selectin")
    organizations: Mapped[list["PackageOrganization"]] = relationship(lazy="selectin")

    @property
    def ticket_ids(self) -> list[str]:
        return [t.ticket_id for t in self.tickets]

    @property
    def product_version_list(self) -> list[str]:
        return [v for v in self.product_versions.split(",") if v]

    @property
    def module_list(self) -> list[str]:
        return [m for m in self.modules.split(",") if m]

    @property
    def entitled_organization_ids(self) -> frozenset:
        """What ``policy`` reads: the organisations of the tickets, those named, or everyone.

        A draft is offered to nobody yet: customers learn of a package when it is published.
        """
        if self.status == PackageStatus.draft:
            return frozenset()
        if self.all_customers:
            return EVERYONE
        return frozenset(o.organization_id for o in self.organizations)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


class PackageFile(Base):
    """One file of a package; the bytes live in the blob store under their SHA-256 and never change."""

    __tablename__ = "package_files"
    __table_args__ = (UniqueConstraint("package_id", "name", name="uq_package_files_package_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    signature: Mapped[str] = mapped_column(String(100))  # Ed25519 over "<sha256>  <name>\n", base64
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by: Mapped[str] = mapped_column(String(150), default="")
    # The stored file's (inode, size, mtime, ctime) when its bytes last hashed right; a changed stat means
    # re-hash before serving. ``corrupt_at`` set: the bytes no longer match and the file is never served.
    verified_stat: Mapped[str] = mapped_column(String(120), default="")
    corrupt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    package: Mapped[Package] = relationship(back_populates="files", lazy="select")

    @property
    def checksum_line(self) -> str:
        """The signed statement, in the format of ``sha256sum``."""
        return f"{self.sha256}  {self.name}\n"


class PackageTicket(Base):
    __tablename__ = "package_tickets"

    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), primary_key=True, index=True)


class PackageOrganization(Base):
    """An organisation entitled to a package: through a linked ticket, or named."""

    __tablename__ = "package_organizations"

    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True, index=True)
    source: Mapped[str] = mapped_column(String(10), default="named")  # ticket | named

    organization: Mapped[Organization] = relationship(lazy="joined")


class Delivery(Base):
    """The hand-over of one published package to one entitled organisation."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("package_id", "organization_id", name="uq_deliveries_package_org"),
        Index("ix_deliveries_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), default=DeliveryStatus.pending.value)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    downloaded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    downloaded_by: Mapped[str] = mapped_column(String(150), default="")
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_by: Mapped[str] = mapped_column(String(150), default="")
    channel: Mapped[str] = mapped_column(String(10), default="")
    delivery_note: Mapped[str] = mapped_column(Text, default="")
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str] = mapped_column(String(150), default="")
    acknowledge_note: Mapped[str] = mapped_column(Text, default="")
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[str] = mapped_column(String(150), default="")
    confirm_note: Mapped[str] = mapped_column(Text, default="")
    on_behalf: Mapped[bool] = mapped_column(Boolean, default=False)  # confirmed without the customer's word

    package: Mapped[Package] = relationship(lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined")


class Download(Base):
    """Every download of a package file: who, which organisation, bytes sent, complete or not."""

    __tablename__ = "package_downloads"
    __table_args__ = (Index("ix_package_downloads_package", "package_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    file_id: Mapped[int] = mapped_column(ForeignKey("package_files.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(150))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    range_start: Mapped[int] = mapped_column(BigInteger, default=0)
    range_end: Mapped[int] = mapped_column(BigInteger, default=0)  # inclusive; -1 for an empty answer
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int] = mapped_column(Integer, default=200)


# A package file's bytes are a blob; `portal package verify` re-hashes them itself, so no description here.
BLOB_REFERENCE = storage.BlobReference("releases.package_files", PackageFile.sha256)


class NoticeKind(enum.StrEnum):
    withdrawn = "withdrawn"  # the package was withdrawn: stop installing it, acknowledge the notice
    superseded = "superseded"  # a newer package replaces it


class PackageNotice(Base):
    """One notice to one organisation that downloaded or was handed a package, about that package.

    Created exactly once per package, organisation and kind (the unique constraint), in the transaction that
    withdrew the package or published its replacement. A withdrawal notice is open until a customer of the
    organisation acknowledges it; until then second line is reminded every few working days.
    """

    __tablename__ = "package_notices"
    __table_args__ = (
        UniqueConstraint("package_id", "organization_id", "kind", name="uq_package_notices_package_org_kind"),
        Index("ix_package_notices_open", "kind", "acknowledged_at", "next_reminder_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(Text, default="")  # the withdrawal's reason, as second line wrote it
    replacement_id: Mapped[str | None] = mapped_column(ForeignKey("packages.id"))  # what to install instead
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str] = mapped_column(String(150), default="")
    # Withdrawal notices not yet acknowledged: the day second line is next reminded, and how often it was.
    next_reminder_on: Mapped[dt.date | None] = mapped_column(Date)
    reminders: Mapped[int] = mapped_column(Integer, default=0)

    package: Mapped[Package] = relationship(foreign_keys=[package_id], lazy="joined")
    replacement: Mapped[Package | None] = relationship(foreign_keys=[replacement_id], lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined")

    @property
    def open(self) -> bool:
        return self.acknowledged_at is None
