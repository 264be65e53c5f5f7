"""What the writers see of the site builds on this node: each edition's commit, how far behind git HEAD it is,
and — after a publish — whether an article's latest version is live in each edition yet.

The answers are node-local (``site.served``): a portal node serves its own ``$PORTAL_HOME/site``, so "live"
means live on the node that answers; every node builds what it lacks (``kb.build`` runs per node).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.config import Settings
from portal.content import ContentRepo
from portal.knowledge import site
from portal.knowledge.articles import Article


@dataclass(frozen=True)
class EditionState:
    edition: str
    commit: str | None  # served on this node; None: nothing built yet
    behind: int | None  # commits behind HEAD (None: unknown, or nothing built)
    mode: str | None  # full | incremental (a full build of the same commit is still to replace it)
    building: bool  # a build attempt is running (on some node) for HEAD

    @property
    def current(self) -> bool:
        return self.behind == 0


def editions(session: Session, settings: Settings) -> dict[str, EditionState]:
    content = ContentRepo(settings)
    head = content.head()
    result = {}
    for edition in site.EDITIONS:
        served = site.served(settings, edition)
        last = site.latest(session, edition)
        commit = served.commit if served else None
        result[edition] = EditionState(
            edition=edition, commit=commit, behind=site.commits_behind(content, commit, head),
            mode=served.mode if served else None,
            building=last is not None and last.status == "building" and last.commit == head and commit != head)
    return result


def _contains(content: ContentRepo, built: str | None, commit: str) -> bool:
    """True when the build of ``built`` includes ``commit`` (the same commit, or one after it)."""
    if not built:
        return False
    if built == commit:
        return True
    with content.repo() as repo:
        try:
            repo.git.merge_base("--is-ancestor", commit, built)
            return True
        except Exception:  # not an ancestor (exit status 1), or a commit this node does not have yet
            return False


def article_live(session: Session, settings: Settings, article: Article) -> dict:
    """Per edition: does this node serve the article's latest version (``live``), will the edition show it
    at all (``shown``: published and of a visibility the edition carries), and what is happening."""
    content = ContentRepo(settings)
    states = editions(session, settings)
    published = article.meta.status == "published"
    out = []
    for edition, state in states.items():
        live = _contains(content, state.commit, article.commit)
        out.append({
            "edition": edition, "name": site.EDITION_NAMES[edition], "commit": state.commit, "behind": state.behind,
            "live": live, "shown": published and article.meta.visibility in site.EDITIONS[edition],
            "state": "live" if live else "building" if state.building else "waiting",
        })
    return {"slug": article.slug, "commit": article.commit, "url": article.url if published else None,
            "all_live": all(e["live"] for e in out), "editions": out}
