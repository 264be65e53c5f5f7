"""Readers' feedback on articles: «Помогла ли статья?» votes and the searches that led readers to an article.

Articles live in git; a vote belongs to one version of an article (the commit that last changed it when the
reader voted), so a rewritten article starts its count afresh while the old votes stay for the writer.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.db import Base, UTCDateTime, utcnow


class ArticleVote(Base):
    """One reader's answer to «Помогла ли статья?» on one version of an article (a second answer replaces it)."""

    __tablename__ = "kb_article_votes"
    __table_args__ = (UniqueConstraint("slug", "version", "user_id", name="uq_kb_article_votes_reader"),
                      Index("ix_kb_article_votes_slug", "slug", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80))
    version: Mapped[str] = mapped_column(String(40))  # the article's commit the reader read
    title: Mapped[str] = mapped_column(String(300), default="")  # as the reader saw it, for lists of votes
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    reader: Mapped[User] = relationship(lazy="joined", viewonly=True)  # who to ask about a comment


class ArticleSearch(Base):
    """A reader opened this article from a search (the site's search box): which query led there."""

    __tablename__ = "kb_article_searches"
    __table_args__ = (Index("ix_kb_article_searches_slug", "slug", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    slug: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(500))
    normalized: Mapped[str] = mapped_column(String(500))  # lower case, spaces collapsed: counts group by it
    role: Mapped[str] = mapped_column(String(20))
