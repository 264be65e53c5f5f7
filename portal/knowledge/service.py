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

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from portal import audit, i18n, intents, jobs, policy
from portal.config import Settings
from portal.content import ContentRepo, author_of
from portal.errors import Conflict, Invalid, NotFound
from portal.knowledge import articles, audiences, site, store, templates, tickets_link
from portal.knowledge.articles import Article, FrontMatter
from portal.policy import Actor

log = logging.getLogger("portal.knowledge")
# Front-matter statuses a save may set; publishing and archiving have their own steps.
SAVE_STATUSES = ("draft", "review")




def commit_message(verb: str, article: Article) -> str:
    """The git commit's message. Russian on purpose, like the verbs the callers pass: it is the content
    repository's permanent record, written once and read by git tools, ``git log`` on any clone and every
    writer's history page alike — text of the knowledge base (written in Russian), not the portal's interface
    worded for one reader."""
    tickets = ", ".join(article.meta.tickets) or "нет"
    return f"{verb}: «{article.title}» ({article.path}); заявки: {tickets}"


def list_articles(*, settings: Settings, status: str | None = None) -> list[store.Entry]:
    """Every article at HEAD (optionally of one status), with its front matter."""
    entries = store.catalogue(ContentRepo(settings))
    if status:
        entries = [e for e in entries if e.meta is not None and e.meta.status == status]
    return entries


def invalid_articles(*, settings: Settings) -> list[store.Entry]:
    """Article files at HEAD whose front matter breaks the schema: in no edition of the site and not in search
    until a writer fixes them (the writers' page and ``portal kb check`` name them)."""
    return [e for e in store.catalogue(ContentRepo(settings)) if e.meta is None]


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


def _with_author(meta: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """A person who writes joins the article's authors; the command line and jobs never do."""
    authors = list(meta.get("authors") or [])
    person = actor.person
    if person is not None and person.username not in authors:
        authors.append(person.username)
    return {**meta, "authors": authors}


def _effects(action: str, slug: str, details: dict[str, Any], *, build: bool) -> list[dict]:
    """The database side of an article commit: its audit row, the search index, a site build if it shows."""
    out: list[dict[str, Any]] = [
        {"type": "audit", "action": action, "object_type": "article", "object_id": slug, "details": details},
        {"type": "reindex", "slugs": [slug]}]
    return [*out, {"type": "build"}] if build else out




def _commit(session: Session, content: ContentRepo, started: list, *, operation: str, target: str, actor,
            files: dict[str, str], message: str, effects: list[dict]) -> str:
    """Intent (committed), then the git commit; the caller holds the write lock and finishes after leaving it."""
    started.append(intents.begin(session, content=content, operation=operation, target=target, actor=actor,
                                 files=files, effects=effects))
    return content.commit_files(files=files, message=message, author=author_of(actor))


def create_article(*, session: Session, settings: Settings, actor: Actor, front_matter: dict[str, Any], body: str,
                   section: str | None = None, slug: str | None = None) -> Article:
    """Write a new article (a draft unless the front matter says review) as a commit by ``actor``."""
    policy.require(actor, "article.write")
    return _create_article(session=session, settings=settings, actor=actor, front_matter=front_matter, body=body,
                           section=section, slug=slug)


def _create_article(*, session: Session, settings: Settings, actor: Actor, front_matter: dict[str, Any], body: str,
                    section: str | None, slug: str | None) -> Article:
    meta = _with_author({"status": "draft", "visibility": articles.DEFAULT_VISIBILITY, **front_matter}, actor)
    fm = articles.check_front_matter(meta)
    if fm.status not in SAVE_STATUSES:
        raise Invalid.fields({"status": i18n.message("errors_knowledge.new_status")})
    section = articles.check_name(section or articles.DEFAULT_SECTIONS[fm.kind], what="section")
    if section == articles.TEMPLATES_DIR:
        raise Invalid.fields({"section": i18n.message("errors_knowledge.templates_section")})
    content = ContentRepo(settings)
    with intents.guarded(session, settings) as started:
        with content.writing():
            wanted = articles.check_name(slug, what="slug") if slug else articles.slugify(fm.title)
            if slug and any(e.slug == slug for e in store.catalogue(content)):
                raise Conflict(i18n.message("errors_knowledge.slug_taken", slug=slug))
            article = Article(section=section, slug=_unique_slug(content, wanted), meta=fm, body=body or "")
            article.commit = _commit(
                session, content, started, operation="article.create", target=article.slug, actor=actor,
                files={article.path: article.text()}, message=commit_message("Новая статья", article),
                effects=_effects("article.create", article.slug, {"path": article.path, "tickets": fm.tickets},
                                 build=False))
    intents.finish(session, started[0], settings=settings, commit=article.commit)
    return article


def save_article(*, session: Session, settings: Settings, actor: Actor, slug: str, body: str,
                 front_matter: dict[str, Any], base_commit: str) -> Article:
    """Save an edit made from ``base_commit``; 409 with the difference when the article changed since."""
    policy.require(actor, "article.write")
    base_commit = store.check_commit(base_commit) if base_commit else ""
    if not base_commit:
        raise Invalid.fields({"base_commit": i18n.message("errors_knowledge.base_commit_missing")})
    content = ContentRepo(settings)
    with intents.guarded(session, settings) as started, content.writing():
        current = store.load(content, slug)
        meta = {**front_matter}
        meta.setdefault("status", current.meta.status)
        fm = articles.check_front_matter(_with_author(meta, actor))
        if fm.status != current.meta.status and fm.status not in SAVE_STATUSES:
            raise Invalid.fields({"status": i18n.message("errors_knowledge.publish_separately")})
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
        i18n.message("errors_knowledge.edited_meanwhile", title=current.title, mine=base_commit[:12],
                     current=current.commit[:12]),
        extra={"current_commit": current.commit, "base_commit": base_commit, "diff": diff},
    )


def _set_status(*, session: Session, settings: Settings, actor: Actor, slug: str, status: str, verb: str,
                action: str, right: str) -> Article:
    policy.require(actor, right)
    content = ContentRepo(settings)
    with intents.guarded(session, settings) as started, content.writing():
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


def publish_article(*, session: Session, settings: Settings, actor: Actor, slug: str) -> Article:
    """Validate and publish: a commit setting status published, the search hook, a site build, ticket stages."""
    return _set_status(session=session, settings=settings, actor=actor, slug=slug, status="published",
                       verb="Публикация статьи", action="article.publish", right="article.publish")


def archive_article(*, session: Session, settings: Settings, actor: Actor, slug: str) -> Article:
    """Move an article to the archive: it leaves every edition of the site at the next build."""
    return _set_status(session=session, settings=settings, actor=actor, slug=slug, status="archived",
                       verb="Статья в архиве", action="article.archive", right="article.publish")


def submit_for_review(*, session: Session, settings: Settings, actor: Actor, slug: str) -> Article:
    """The optional reviewer step: status review."""
    return _set_status(session=session, settings=settings, actor=actor, slug=slug, status="review",
                       verb="Статья на рецензии", action="article.review", right="article.write")


def restore_version(*, session: Session, settings: Settings, actor: Actor, slug: str, commit: str) -> Article:
    """Make an older version the current one, as a new commit (history is never rewritten)."""
    policy.require(actor, "article.write")
    content = ContentRepo(settings)
    with intents.guarded(session, settings) as started, content.writing():
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


def create_from_ticket(*, session: Session, settings: Settings, actor: Actor, ticket_id: str, kind: str,
                       visibility: str | None = None, section: str | None = None) -> Article:
    """A draft rendered from a resolved ticket through the repository's template of ``kind``."""
    policy.require(actor, "article.from_ticket")
    templates.template_path(kind)
    if not (ticket_id or "").strip():
        raise Invalid.fields({"ticket_id": i18n.message("errors_knowledge.ticket_missing")})
    ticket = tickets_link.fetch_ticket(session=session, ticket_id=ticket_id.strip().upper(), actor=actor)
    status = getattr(ticket.status, "value", ticket.status)
    if status not in RESOLVED_TICKET_STATUSES:
        raise Conflict(i18n.message("errors_knowledge.ticket_unresolved", id=ticket.id,
                                    status=i18n.message(f"status.{status}")))
    facts = templates.TicketFacts.of(ticket, settings=settings)
    body = templates.render_body(settings=settings, kind=kind, ticket=facts)
    meta = templates.front_matter_for(ticket=facts, kind=kind, visibility=visibility or articles.DEFAULT_VISIBILITY)
    return _create_article(session=session, settings=settings, actor=actor, front_matter=meta, body=body,
                           section=section, slug=None)


def request_build(*, session: Session, actor: Actor) -> None:
    """Ask the scheduler for a site build now."""
    policy.require(actor, "kb.build")
    jobs.request_run(session, site.BUILD_JOB)
    audit.record(session, actor=actor, action="kb.build", object_type="site", object_id="all")


def _apply_build(session: Session, ctx: intents.EffectContext, eff: dict) -> None:
    jobs.request_run(session, site.BUILD_JOB)


# An article commit that changes what an edition shows asks for a build (``{"type": "build"}`` among its
# intent's effects); added to portal.intents.EFFECTS by portal.wiring.
BUILD_EFFECT = intents.Effect("build", _apply_build)


# --- the check of every article -------------------------------------------------------------------

LINK_RE = re.compile(r"\]\(([^)\s]+?\.md)(?:#[^)]*)?\)")


@dataclass(frozen=True)
class Problem:
    path: str
    message: str  # a catalogue message (kb_labels.yml), read in the writer's or operator's language


@dataclass
class CheckReport:
    articles: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _resolve(path: str, target: str) -> str:
    parts = path.split("/")[:-1]
    for piece in target.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in (".", ""):
            parts.append(piece)
    return "/".join(parts)


def check(*, settings: Settings) -> CheckReport:
    """Every article at HEAD: front matter by the schema (an invalid article is neither indexed nor built), file
    names, and internal links — each to an existing file, none to an article some of this one's readers may not
    read (it would be missing from their edition)."""
    content = ContentRepo(settings)
    entries = store.catalogue(content)
    with content.repo() as repo:
        listing = set(repo.git.ls_tree("-r", "--name-only", "--full-tree", "HEAD", "--", articles.KB_DIR)
                      .splitlines())
    report = CheckReport(articles=len(entries))
    visibility = {e.path: e.meta.visibility for e in entries if e.meta is not None}
    for entry in entries:
        if entry.meta is None:
            report.problems.append(Problem(entry.path, entry.error))
            continue
        for target in LINK_RE.findall(store.read_text(content, entry.path)):
            if "://" in target:
                continue
            resolved = _resolve(entry.path, target)
            if resolved not in listing:
                report.problems.append(Problem(entry.path, i18n.message("kb_labels.check.missing_link", target=target)))
            elif audiences.narrower(entry.meta.visibility, visibility.get(resolved, "public")):
                narrower = articles.VISIBILITY_NAMES.get(visibility[resolved], visibility[resolved])
                report.problems.append(Problem(entry.path, i18n.message("kb_labels.check.narrower_link", target=target,
                                                                   visibility=narrower)))
    for path in sorted(p for p in listing if p.endswith(".md") and articles.split_path(p) is None
                       and not p.endswith("index.md")):
        report.problems.append(Problem(path, i18n.message("kb_labels.check.file_name")))
    return report


# --- fixed_in: the packages that fix an article's tickets ---------------------------------------------

@dataclass
class FixedIn:
    """The articles a published package fixes, rewritten with it in ``fixed_in``."""

    files: dict[str, str]  # path → new text, checked by the schema
    slugs: list[str]
    effects: list[dict]  # for the caller's intent: the audit row, the search index, a site build


def fixed_in_changes(*, content: ContentRepo, package_id: str, ticket_ids: Iterable[str]) -> FixedIn:
    """The published articles citing any of ``ticket_ids``, with ``package_id`` added to their ``fixed_in``.

    The caller (publishing a package) holds the content write lock and commits ``files`` together with its own
    manifest, under its durable intent with ``effects`` — so the package and the articles that name it are one
    git commit: both happen or neither does. The articles are read and written by the schema like every other
    edit; one whose front matter is invalid is left as it is (``check`` names it).
    """
    package_id = (package_id or "").strip()
    if not package_id or len(package_id) > 100 or any(c in package_id for c in "\r\n,"):
        raise Invalid.fields({"fixed_in": i18n.message("errors_knowledge.fixed_in_bad", id=package_id[:100])})
    tickets = {t.upper() for t in ticket_ids}
    files: dict[str, str] = {}
    slugs: list[str] = []
    for entry in store.catalogue(content) if tickets else []:
        meta = entry.meta
        if meta is None or meta.status != "published" or not tickets & set(meta.tickets) or package_id in meta.fixed_in:
            continue
        current = articles.parse(store.read_text(content, entry.path), section=entry.section, slug=entry.slug)
        fm = articles.check_front_matter({**current.meta.as_dict(), "fixed_in": [*current.meta.fixed_in, package_id]})
        changed = Article(section=current.section, slug=current.slug, meta=fm, body=current.body)
        files[changed.path] = changed.text()
        slugs.append(entry.slug)
    effects: list[dict] = []
    if slugs:
        effects = [{"type": "audit", "action": "package.fixed_in", "object_type": "package", "object_id": package_id,
                    "details": {"articles": slugs}},
                   {"type": "reindex", "slugs": slugs}, {"type": "build"}]
    return FixedIn(files=files, slugs=slugs, effects=effects)
