"""Knowledge base: writing articles as git commits, publishing, archiving, history and restore.

Every save is a commit authored by the writer whose message names the article and its tickets. A save
must say which version it was based on (``base_commit``: the last commit that changed the article);
when the article changed since, the save is refused with 409 and the difference, never overwriting.
After each commit the search hook runs; publishing, archiving and restoring also ask for a site build.

Each write is a git-and-database operation guarded by a durable intent (``portal.intents``): the intent is
committed before the git commit, and the audit row, the ticket stage and the build request are applied after
it in one short transaction — or by the reconciliation after a crash. No database transaction is open while
git works: the caller's transaction is committed first.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from portal import audit, intents, jobs
from portal.accounts.models import User
from portal.config import Settings
from portal.content import Author, ContentRepo
from portal.errors import Conflict, Invalid, NotFound
from portal.knowledge import articles, store
from portal.knowledge.articles import Article, FrontMatter

log = logging.getLogger("portal.knowledge")
BUILD_JOB = "kb.build"
CLI_AUTHOR = Author("PrimoART portal (командная строка)", "portal@localhost")
# Front-matter statuses a save may set; publishing and archiving have their own steps.
SAVE_STATUSES = ("draft", "review")


def author_of(actor) -> Author:
    """The git author of a change: the writer's name and e-mail, or the portal for the CLI and jobs."""
    if isinstance(actor, User):
        return Author(actor.full_name or actor.username, actor.email or f"{actor.username}@users.portal.invalid")
    return CLI_AUTHOR


def _actor_name(actor) -> str:
    return actor.username if isinstance(actor, User) else str(actor or "system")


def commit_message(verb: str, article: Article) -> str:
    tickets = ", ".join(article.meta.tickets) or "нет"
    return f"{verb}: «{article.title}» ({article.path}); заявки: {tickets}"


def list_articles(*, settings: Settings, status: str | None = None) -> list[store.Entry]:
    """Every article at HEAD (optionally of one status), with its front matter."""
    entries = store.catalogue(ContentRepo(settings))
    if status:
        entries = [e for e in entries if e.meta is not None and e.meta.status == status]
    return entries


def articles_for_ticket(*, settings: Settings, ticket_id: str) -> list[store.Entry]:
    """Articles whose front matter cites a ticket."""
    ticket_id = ticket_id.upper()
    return [e for e in store.catalogue(ContentRepo(settings)) if e.meta is not None and ticket_id in e.meta.tickets]


def get_article(*, settings: Settings, slug: str, commit: str = "HEAD") -> Article:
    """An article at HEAD (or at an older commit), with the last commit that changed it."""
    return store.load(ContentRepo(settings), slug, commit=commit)


def _unique_slug(content: ContentRepo, wanted: str) -> str:
    taken = {e.slug for e in store.catalogue(content)}
    slug, n = wanted, 2
    while slug in taken:
        suffix = f"-{n}"
        slug, n = wanted[: 80 - len(suffix)].rstrip("-") + suffix, n + 1
    return slug


def _with_author(meta: dict[str, Any], actor) -> dict[str, Any]:
    name = _actor_name(actor)
    authors = list(meta.get("authors") or [])
    if isinstance(actor, User) and name not in authors:
        authors.append(name)
    return {**meta, "authors": authors}


def _effects(action: str, slug: str, details: dict[str, Any], *, build: bool) -> list[dict]:
    """The database side of an article commit: its audit row, the search index, a site build if it shows."""
    out = [{"type": "audit", "action": action, "object_type": "article", "object_id": slug, "details": details},
           {"type": "reindex", "slugs": [slug]}]
    return [*out, {"type": "build"}] if build else out


@contextlib.contextmanager
def _guarded(session: Session, settings: Settings) -> Iterator[list]:
    """Around ``content.writing()``: the caller's transaction ends before git is locked (a transaction never
    waits for git, nor git for a transaction), and an intent recorded before a failure is settled at once."""
    intents.end_caller_transaction(session)
    started: list[intents.Started] = []
    try:
        yield started
    except BaseException:
        intents.abandon(session, started[0] if started else None, settings=settings)
        raise


def _commit(session: Session, content: ContentRepo, started: list, *, operation: str, target: str, actor,
            files: dict[str, str], message: str, effects: list[dict]) -> str:
    """Intent (committed), then the git commit; the caller holds the write lock and finishes after leaving it."""
    started.append(intents.begin(session, content=content, operation=operation, target=target, actor=actor,
                                 files=files, effects=effects))
    return content.commit_files(files=files, message=message, author=author_of(actor))


def create_article(*, session: Session, settings: Settings, actor, front_matter: dict[str, Any], body: str,
                   section: str | None = None, slug: str | None = None) -> Article:
    """Write a new article (a draft unless the front matter says review) as a commit by ``actor``."""
    meta = _with_author({"status": "draft", **front_matter}, actor)
    fm = articles.check_front_matter(meta)
    if fm.status not in SAVE_STATUSES:
        raise Invalid.fields({"status": "новая статья — черновик или на рецензии; опубликуйте её отдельным шагом"})
    section = articles.check_name(section or articles.DEFAULT_SECTIONS[fm.kind], what="section")
    if section == articles.TEMPLATES_DIR:
        raise Invalid.fields({"section": "раздел templates отведён под шаблоны статей"})
    content = ContentRepo(settings)
    with _guarded(session, settings) as started:
        with content.writing():
            wanted = articles.check_name(slug, what="slug") if slug else articles.slugify(fm.title)
            if slug and any(e.slug == slug for e in store.catalogue(content)):
                raise Conflict(f"Статья с адресом «{slug}» уже есть. Выберите другой адрес.")
            article = Article(section=section, slug=_unique_slug(content, wanted), meta=fm, body=body or "")
            article.commit = _commit(
                session, content, started, operation="article.create", target=article.slug, actor=actor,
                files={article.path: article.text()}, message=commit_message("Новая статья", article),
                effects=_effects("article.create", article.slug, {"path": article.path, "tickets": fm.tickets},
                                 build=False))
    intents.finish(session, started[0], settings=settings, commit=article.commit)
    return article


def save_article(*, session: Session, settings: Settings, actor, slug: str, body: str,
                 front_matter: dict[str, Any], base_commit: str) -> Article:
    """Save an edit made from ``base_commit``; 409 with the difference when the article changed since."""
    base_commit = store.check_commit(base_commit) if base_commit else ""
    if not base_commit:
        raise Invalid.fields({"base_commit": "укажите версию статьи, от которой сделана правка (поле commit)"})
    content = ContentRepo(settings)
    with _guarded(session, settings) as started, content.writing():
        current = store.load(content, slug)
        meta = {**front_matter}
        meta.setdefault("status", current.meta.status)
        fm = articles.check_front_matter(_with_author(meta, actor))
        if fm.status != current.meta.status and fm.status not in SAVE_STATUSES:
            raise Invalid.fields({"status": "опубликовать или убрать в архив можно только отдельным действием"})
        if not current.commit.startswith(base_commit):
            _stale(content, current, base_commit)
        if fm.status == "published":
            articles.check_publishable(fm, body)
        edited = Article(section=current.section, slug=current.slug, meta=fm, body=body or "")
        if edited.text() == current.text():
            return current
        edited.commit = _commit(
            session, content, started, operation="article.save", target=slug, actor=actor,
            files={edited.path: edited.text()}, message=commit_message("Правка статьи", edited),
            effects=_effects("article.save", slug, {"base_commit": base_commit, "status": fm.status},
                             build=fm.status == "published"))
    intents.finish(session, started[0], settings=settings, commit=edited.commit)
    return edited


def _stale(content: ContentRepo, current: Article, base_commit: str) -> None:
    try:
        old = store.read_text(content, current.path, base_commit)
    except NotFound:
        old = ""
    diff = store.unified_diff(old, current.text(), old_name=f"{current.path}@{base_commit[:12]}",
                              new_name=f"{current.path}@{current.commit[:12]}")
    raise Conflict(
        f"Статью «{current.title}» изменили после того, как вы открыли её (ваша версия {base_commit[:12]}, "
        f"текущая {current.commit[:12]}). Ваш текст не сохранён и не потерян: сравните его с изменениями, "
        f"перенесите правку в текущую версию и сохраните снова.",
        extra={"current_commit": current.commit, "base_commit": base_commit, "diff": diff},
    )


def _set_status(*, session: Session, settings: Settings, actor, slug: str, status: str, verb: str,
                action: str) -> Article:
    from portal.knowledge import tickets_link

    content = ContentRepo(settings)
    with _guarded(session, settings) as started, content.writing():
        current = store.load(content, slug)
        fm = FrontMatter.model_validate({**_with_author(current.meta.as_dict(), actor), "status": status})
        if status == "published":
            articles.check_publishable(fm, current.body)
        changed = Article(section=current.section, slug=current.slug, meta=fm, body=current.body)
        if changed.text() == current.text():
            return current
        effects = _effects(action, slug, {"tickets": fm.tickets, "visibility": fm.visibility}, build=True)
        if status == "published":  # «база знаний обновлена» on the tickets it cites
            effects.append(tickets_link.stage_effect(changed))
        changed.commit = _commit(session, content, started, operation=action, target=slug, actor=actor,
                                 files={changed.path: changed.text()}, message=commit_message(verb, changed),
                                 effects=effects)
    intents.finish(session, started[0], settings=settings, commit=changed.commit)
    return changed


def publish_article(*, session: Session, settings: Settings, actor, slug: str) -> Article:
    """Validate and publish: a commit setting status published, the search hook, a site build, ticket stages."""
    return _set_status(session=session, settings=settings, actor=actor, slug=slug, status="published",
                       verb="Публикация статьи", action="article.publish")


def archive_article(*, session: Session, settings: Settings, actor, slug: str) -> Article:
    """Move an article to the archive: it leaves every edition of the site at the next build."""
    return _set_status(session=session, settings=settings, actor=actor, slug=slug, status="archived",
                       verb="Статья в архиве", action="article.archive")


def submit_for_review(*, session: Session, settings: Settings, actor, slug: str) -> Article:
    """The optional reviewer step: status review."""
    return _set_status(session=session, settings=settings, actor=actor, slug=slug, status="review",
                       verb="Статья на рецензии", action="article.review")


def restore_version(*, session: Session, settings: Settings, actor, slug: str, commit: str) -> Article:
    """Make an older version the current one, as a new commit (history is never rewritten)."""
    content = ContentRepo(settings)
    with _guarded(session, settings) as started, content.writing():
        current = store.load(content, slug)
        full = store.in_history(content, current.path, commit)
        old = articles.parse(store.read_text(content, current.path, full), section=current.section, slug=slug)
        restored = Article(section=current.section, slug=slug, meta=old.meta, body=old.body)
        if restored.text() == current.text():
            return current
        restored.commit = _commit(
            session, content, started, operation="article.restore", target=slug, actor=actor,
            files={restored.path: restored.text()},
            message=commit_message(f"Восстановлена версия {full[:12]} статьи", restored),
            effects=_effects("article.restore", slug, {"restored": full},
                             build=current.meta.status == "published" or restored.meta.status == "published"))
    intents.finish(session, started[0], settings=settings, commit=restored.commit)
    return restored


def history(*, settings: Settings, slug: str) -> list[store.Version]:
    """The article's versions, newest first."""
    content = ContentRepo(settings)
    return store.history(content, store.find(content, slug).path)


def diff(*, settings: Settings, slug: str, from_commit: str, to_commit: str) -> str:
    """The unified diff between two versions of an article."""
    content = ContentRepo(settings)
    path = store.find(content, slug).path
    old, new = store.in_history(content, path, from_commit), store.in_history(content, path, to_commit)
    return store.unified_diff(store.read_text(content, path, old), store.read_text(content, path, new),
                              old_name=f"{path}@{old[:12]}", new_name=f"{path}@{new[:12]}")


RESOLVED_TICKET_STATUSES = ("resolved", "closed")


def create_from_ticket(*, session: Session, settings: Settings, actor, ticket_id: str, kind: str,
                       visibility: str = "customers", section: str | None = None) -> Article:
    """A draft rendered from a resolved ticket through the repository's template of ``kind``."""
    from portal.knowledge import templates, tickets_link

    templates.template_path(kind)
    if not (ticket_id or "").strip():
        raise Invalid.fields({"ticket_id": "укажите номер решённой заявки, например PRM-2026-00042"})
    ticket = tickets_link.fetch_ticket(session=session, ticket_id=ticket_id.strip().upper(), actor=actor)
    status = getattr(ticket.status, "value", ticket.status)
    if status not in RESOLVED_TICKET_STATUSES:
        raise Conflict(f"Заявка {ticket.id} ещё не решена (статус «{status}»): статья пишется по решённой заявке, "
                       f"когда известны причина и решение.")
    facts = templates.TicketFacts.of(ticket, settings=settings)
    body = templates.render_body(settings=settings, kind=kind, ticket=facts)
    meta = templates.front_matter_for(ticket=facts, kind=kind, visibility=visibility)
    return create_article(session=session, settings=settings, actor=actor, front_matter=meta, body=body,
                          section=section)


def request_build(*, session: Session, actor) -> None:
    """Ask the scheduler for a site build now."""
    jobs.request_run(session, BUILD_JOB)
    audit.record(session, actor=actor, action="kb.build", object_type="site", object_id="all")
