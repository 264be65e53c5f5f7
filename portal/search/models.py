"""The search log: what people looked for, how much they found, in which role and when."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime, utcnow


class SearchLogEntry(Base):
    __tablename__ = "search_log"
    __table_args__ = (Index("ix_search_log_zero", "hits", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    query: Mapped[str] = mapped_column(String(500))
    # Lower case, spaces collapsed: the same question typed differently counts once.
    normalized: Mapped[str] = mapped_column(String(500), index=True)
    hits: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(20))
