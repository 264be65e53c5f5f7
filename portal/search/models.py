"""The search log: what people looked for, how much they found, in which role and when."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
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


# --- the PostgreSQL search backend's index (portal.search.index.pg_backend) ----------------------------
#
# The same cache of git as the Whoosh index, kept in the database every node shares. On SQLite the tables
# exist and stay empty (PORTAL_SEARCH_BACKEND=postgresql requires PostgreSQL); on PostgreSQL the word
# columns are tsvectors with GIN indexes and the term maps jsonb.
_TSVECTOR = Text().with_variant(TSVECTOR(), "postgresql")
_JSONB = JSON().with_variant(JSONB(), "postgresql")
_TEXTS = JSON().with_variant(ARRAY(Text()), "postgresql")


class SearchGeneration(Base):
    """One build of the index: ``building`` while it is written, then ``live`` (the one searched), then
    ``retired`` until the next swap drops it. ``stamp`` grows with every incremental update, so each
    node's caches of a generation know when they are stale."""

    __tablename__ = "search_generations"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(10), index=True)
    commit: Mapped[str] = mapped_column(String(40))
    stamp: Mapped[int] = mapped_column(Integer, default=0)
    schema_version: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(10))
    articles: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[int] = mapped_column(Integer, default=0)
    # Tokens of every document per scored field ({"text": …, "codes": …}), for BM25's average length.
    lengths: Mapped[dict] = mapped_column(_JSONB)
    built_at: Mapped[float] = mapped_column(Float, default=0.0)
    build_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[float] = mapped_column(Float, default=0.0)
    # Every row written with its pairs_vec (built since migration 0020): only then are phrases answered from it.
    pairs: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SearchDocument(Base):
    """One published article in one generation: filters, stored fields and its analysed words."""

    __tablename__ = "search_documents"
    __table_args__ = (
        UniqueConstraint("generation", "path", name="uq_search_documents_generation_path"),
        Index("ix_search_documents_text", "text_vec", postgresql_using="gin"),
        Index("ix_search_documents_codes", "codes_vec", postgresql_using="gin"),
        Index("ix_search_documents_title", "title_vec", postgresql_using="gin"),
        Index("ix_search_documents_words", "words_vec", postgresql_using="gin"),
        Index("ix_search_documents_pairs", "pairs_vec", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(500))
    slug: Mapped[str] = mapped_column(String(200))
    visibility: Mapped[str] = mapped_column(String(20))
    module: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(50))
    versions: Mapped[list[str]] = mapped_column(_TEXTS)
    tags: Mapped[list[str]] = mapped_column(_TEXTS)
    updated: Mapped[int] = mapped_column(BigInteger)
    meta: Mapped[dict] = mapped_column(_JSONB)
    body: Mapped[str] = mapped_column(Text)
    # Indexed terms (analysis.py) with positions; weights A/B/D mark title, summary and body.
    text_vec: Mapped[str] = mapped_column(_TSVECTOR)
    codes_vec: Mapped[str] = mapped_column(_TSVECTOR)
    title_vec: Mapped[str] = mapped_column(_TSVECTOR)  # the title's terms: which matches hold a word in the title
    words_vec: Mapped[str] = mapped_column(_TSVECTOR)  # the title's words as written: completion
    # The text's terms at neighbouring positions, a lexeme "first second" each: phrases (NULL in rows of a
    # generation built before migration 0020).
    pairs_vec: Mapped[str | None] = mapped_column(_TSVECTOR, nullable=True)
    # Per scored field, term → its weighted frequency (a title word counts four, a summary word two in
    # ``text``): BM25F's tf; and the field's length in tokens.
    tf: Mapped[dict] = mapped_column(_JSONB)
    lengths: Mapped[dict] = mapped_column(_JSONB)


class SearchTerm(Base):
    """Per generation and field, how many documents hold a term (a scored field: BM25's idf), or how often
    a word occurs in the articles of one visibility (``spell:<visibility>``: the "did you mean" dictionary)."""

    __tablename__ = "search_terms"

    generation: Mapped[int] = mapped_column(Integer, primary_key=True)
    field: Mapped[str] = mapped_column(String(20), primary_key=True)
    term: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
