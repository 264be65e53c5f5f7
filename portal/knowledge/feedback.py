"""Readers' side of an article on /kb/: «Помогла ли статья?», «Исправлено в пакете …», the searches that led there.

The built pages of an edition are the same files for all its readers, so whatever depends on the reader comes
from here through the portal's JSON API (``feedback_api.py``), fetched by the theme's script
(``theme/assets/javascripts/portal/article.js``):

* a vote belongs to one version of the article (the commit that last changed it): one per reader per
  version — voting again on that version replaces the answer — recorded in the audit log;
* «Исправлено в пакете …» names only the published packages the reader's organisation is entitled to (the
  releases domain answers through ``fixed_in.READABLE_PACKAGES``, asking the policy — the same question
  search asks for its hits), so the customers' and public editions' static HTML never has to name a package;
* a reader who opens an article from the site's search box leaves the query here: writers see which
  searches led to an article beside its votes and comments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal import audit, policy
from portal.config import Settings
from portal.db import utcnow
from portal.errors import Invalid, NotFound, not_found
from portal.i18n import message
from portal.knowledge import articles, service
from portal.knowledge.articles import Article
from portal.knowledge.feedback_models import ArticleSearch, ArticleVote
from portal.knowledge.fixed_in import readable_packages

COMMENT_MAX = 2000
QUERY_MAX = 500
ARTICLE_SEARCHES_SHOWN = 20
UNHELPFUL_DAYS = 90


def _published_for(settings: Settings, reader, slug: str) -> Article:
    """The published article ``slug`` if the reader may read it; a missing, unpublished or hidden one is 404."""
    missing = not_found("article", slug)
    try:
        articles.check_name(slug, what="slug")
        article = service.get_article(settings=settings, slug=slug)
    except (Invalid, NotFound):
        raise missing from None
    if article.meta.status != "published":
        raise missing
    policy.require(reader, "article.read", article, missing=missing)
    return article


def fixed_in_for(session: Session, reader, article: Article) -> list[dict[str, str]]:
    """The packages fixing the article's tickets that this reader may see (entitled organisation, or staff)."""
    return readable_packages(session, reader, list(article.meta.fixed_in or []))


@dataclass
class ReaderView:
    """What one reader's copy of an article page adds to the static page."""

    slug: str
    version: str
    can_vote: bool
    vote: ArticleVote | None
    fixed_in: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        vote = None if self.vote is None else {"helpful": self.vote.helpful, "comment": self.vote.comment or ""}
        return {"slug": self.slug, "version": self.version, "can_vote": self.can_vote, "vote": vote,
                "fixed_in": self.fixed_in}


def reader_view(*, session: Session, settings: Settings, reader, slug: str) -> ReaderView:
    article = _published_for(settings, reader, slug)
    can_vote = policy.allows(reader, "article.vote", article)
    vote = _vote_of(session, reader, slug, article.commit) if can_vote else None
    return ReaderView(slug=slug, version=article.commit, can_vote=can_vote, vote=vote,
                      fixed_in=fixed_in_for(session, reader, article))


def _vote_of(session: Session, reader, slug: str, version: str) -> ArticleVote | None:
    return session.scalar(select(ArticleVote).where(ArticleVote.slug == slug, ArticleVote.version == version,
                                                    ArticleVote.user_id == reader.id))


def vote(*, session: Session, settings: Settings, actor, slug: str, helpful: bool,
         comment: str | None = None) -> ReaderView:
    """Record the reader's answer for the article's current version; a second answer replaces the first.

    The article is read from git before the first statement, so the write transaction (and the write gate)
    is not held while git works; the answer is the reader's view of the article after the vote."""
    article = _published_for(settings, actor, slug)
    policy.require(actor, "article.vote", article)
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        raise Invalid.fields({"comment": message("kbr.comment_too_long", max=COMMENT_MAX, length=len(text))})
    row = _vote_of(session, actor, slug, article.commit)
    replaced = row is not None
    if row is None:
        row = ArticleVote(slug=slug, version=article.commit, user_id=actor.id,
                          organization_id=actor.organization_id, created_at=utcnow())
        session.add(row)
    row.title = article.title[:300]
    row.helpful = helpful
    row.comment = text or None
    row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor=actor, action="article.vote", object_type="article", object_id=slug,
                 organization_id=actor.organization_id,
                 details={"version": article.commit, "helpful": helpful, "comment": bool(text),
                          "replaced": replaced})
    return ReaderView(slug=slug, version=article.commit, can_vote=True, vote=row,
                      fixed_in=fixed_in_for(session, actor, article))


def normalized_query(text: str) -> str:
    return " ".join((text or "").lower().split())[:QUERY_MAX]


def record_search(*, session: Session, settings: Settings, reader, slug: str, query: str) -> None:
    """The reader opened ``slug`` from a search for ``query`` (a log, as search's own: no audit row)."""
    text = " ".join((query or "").split())
    if not text:
        raise Invalid.fields({"query": message("kbr.query_empty")})
    if len(text) > QUERY_MAX:
        raise Invalid.fields({"query": message("kbr.query_too_long", max=QUERY_MAX)})
    _published_for(settings, reader, slug)
    role = str(getattr(reader.role, "value", reader.role))
    session.add(ArticleSearch(slug=slug, query=text, normalized=normalized_query(text), role=role, at=utcnow()))


# --- what writers see -----------------------------------------------------------------------------

@dataclass
class VersionVotes:
    version: str
    helpful: int
    unhelpful: int
    first: dt.datetime
    last: dt.datetime


@dataclass
class ArticleFeedback:
    slug: str
    title: str
    current_version: str
    versions: list[VersionVotes]
    comments: list[ArticleVote]
    searches: list[tuple[str, int]]  # (query as typed most recently, times), most frequent first

    @property
    def helpful(self) -> int:
        return sum(v.helpful for v in self.versions)

    @property
    def unhelpful(self) -> int:
        return sum(v.unhelpful for v in self.versions)


def article_feedback(*, session: Session, settings: Settings, actor, slug: str) -> ArticleFeedback:
    """Votes by version, the comments (newest first) and the searches that led readers to the article."""
    policy.require(actor, "article.feedback")
    try:
        articles.check_name(slug, what="slug")
        article = service.get_article(settings=settings, slug=slug)
    except Invalid:
        raise not_found("article", slug) from None
    policy.require(actor, "article.read", article, missing=not_found("article", slug))
    no = case((ArticleVote.helpful.is_(False), 1), else_=0)
    rows = session.execute(
        select(ArticleVote.version, func.count() - func.sum(no), func.sum(no), func.min(ArticleVote.created_at),
               func.max(ArticleVote.updated_at))
        .where(ArticleVote.slug == slug).group_by(ArticleVote.version)
        .order_by(func.max(ArticleVote.updated_at).desc()))
    versions = [VersionVotes(version, int(yes), int(n), first, last) for version, yes, n, first, last in rows]
    comments = list(session.scalars(select(ArticleVote).where(ArticleVote.slug == slug,
                                                              ArticleVote.comment.is_not(None))
                                    .order_by(ArticleVote.updated_at.desc()).limit(100)))
    searches = session.execute(
        select(func.max(ArticleSearch.query), func.count()).where(ArticleSearch.slug == slug)
        .group_by(ArticleSearch.normalized).order_by(func.count().desc(), func.max(ArticleSearch.at).desc())
        .limit(ARTICLE_SEARCHES_SHOWN))
    return ArticleFeedback(slug=slug, title=article.title, current_version=article.commit, versions=versions,
                           comments=comments, searches=[(q, int(n)) for q, n in searches])


@dataclass
class Unhelpful:
    slug: str
    title: str
    unhelpful: int
    helpful: int

    @property
    def share(self) -> int:
        """Per cent of the answers that said «Нет»."""
        total = self.unhelpful + self.helpful
        return round(100 * self.unhelpful / total) if total else 0


def unhelpful_articles(*, session: Session, actor, days: int = UNHELPFUL_DAYS, limit: int = 10) -> list[Unhelpful]:
    """Articles that most often did not help in the last ``days``: most «Нет» first, then the larger share."""
    policy.require(actor, "article.feedback")
    since = utcnow() - dt.timedelta(days=days)
    no = case((ArticleVote.helpful.is_(False), 1), else_=0)
    rows = session.execute(
        select(ArticleVote.slug, func.max(ArticleVote.title), func.sum(no), func.count() - func.sum(no))
        .where(ArticleVote.updated_at >= since).group_by(ArticleVote.slug)
        .having(func.sum(no) > 0)
        .order_by(func.sum(no).desc(), (func.count() - func.sum(no)).asc(), ArticleVote.slug).limit(limit))
    return [Unhelpful(slug, title or slug, int(n), int(yes)) for slug, title, n, yes in rows]
