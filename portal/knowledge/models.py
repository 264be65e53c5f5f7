"""Knowledge base tables. Articles themselves live in git; the database keeps only the site builds' state."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime, utcnow


class SiteBuild(Base):
    """One attempt to build one edition of the site from one commit of the content repository."""

    __tablename__ = "kb_site_builds"
    __table_args__ = (Index("ix_kb_site_builds_edition_id", "edition", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition: Mapped[str] = mapped_column(String(20))  # staff | customers | public
    commit: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10))  # building | built | failed | cancelled
    trigger: Mapped[str] = mapped_column(String(40), default="job")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
