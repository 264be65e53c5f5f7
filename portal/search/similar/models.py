"""The PostgreSQL ticket index's tables (``pg_tickets``). On SQLite they exist and stay empty."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime

_TSVECTOR = Text().with_variant(TSVECTOR(), "postgresql")
_TERMS = Text().with_variant(ARRAY(Text()), "postgresql")


class SearchTicket(Base):
    """One ticket as the index holds it: the scope it is looked up in and its analysed words."""

    __tablename__ = "search_tickets"
    __table_args__ = (
        Index("ix_search_tickets_scope", "scope", "organization_id"),
        Index("ix_search_tickets_words", "words", postgresql_using="gin"),
    )

    ticket_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(10))  # solved | open | other (documents.scope)
    # The terms of analysis.py (words, their families, codes marked with documents.CODE_MARK) as tsvector
    # literals; weight A marks the summary's.
    words: Mapped[str] = mapped_column(_TSVECTOR)
    terms: Mapped[list[str]] = mapped_column(_TERMS)  # the distinct terms, for search_ticket_terms' counts
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SearchTicketTerm(Base):
    """How many indexed tickets hold a term: the idf that picks a lookup's most telling words."""

    __tablename__ = "search_ticket_terms"

    term: Mapped[str] = mapped_column(String(300), primary_key=True)
    docs: Mapped[int] = mapped_column(Integer)


class SearchTicketState(Base):
    """The one row saying how far the index has followed the tickets table (``watermark``: the greatest
    ``updated_at`` read) and how it was built."""

    __tablename__ = "search_ticket_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    watermark: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    tickets: Mapped[int] = mapped_column(Integer, default=0)
    mode: Mapped[str] = mapped_column(String(10))
    schema_version: Mapped[int] = mapped_column(Integer)
    built_at: Mapped[float] = mapped_column(Float, default=0.0)
    build_seconds: Mapped[float] = mapped_column(Float, default=0.0)
