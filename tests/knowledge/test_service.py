"""Writing is git: commits authored by the writer, a stale save refused with the difference, history,
diff and restore, publish and archive with the search hook and a site build requested."""

from __future__ import annotations

import datetime as dt

import git
import pytest
from sqlalchemy import select

from portal import audit, jobs
from portal.db import utcnow
from portal.errors import Conflict, Invalid
from portal.jobs import JobState
from portal.knowledge import hooks, service


def _commit(settings, sha):
    repo = git.Repo(settings.content_path)
    try:
        return repo.commit(sha)
    finally:
        repo.close()


def test_create_is_a_commit_by_the_writer_naming_article_and_tickets(writer, write_article, settings, db):
    article = write_article(writer, tickets=["PRM-2026-00042"], section="problems")
    assert article.path == "kb/problems/agent-rum-ne-otpravlyaet-dannye.md"
    commit = _commit(settings, article.commit)
    assert (commit.author.name, commit.author.email) == ("Мария Соколова", "sokolova@primoart.example")
    assert "«Агент RUM не отправляет данные»" in commit.message
    assert article.path in commit.message and "PRM-2026-00042" in commit.message
    text = (settings.content_path / article.path).read_text()
    assert text.startswith("---\ntitle: Агент RUM не отправляет данные\n") and "status: draft" in text
    assert "authors: [sokolova]" in text
    again = write_article(writer)  # the same title gets a free slug
    assert again.slug == "agent-rum-ne-otpravlyaet-dannye-2"
    with db.session_scope(write=False) as session:
        entries = audit.query(session, action="article.create")
        assert [e.object_id for e in entries] == [again.slug, article.slug]


def test_invalid_front_matter_is_refused_naming_the_field_and_nothing_is_committed(writer, db, settings,
                                                                                 content_repo):
    head = content_repo.head()
    with db.session_scope() as session, pytest.raises(Invalid) as exc:
        service.create_article(session=session, settings=settings, actor=writer, body="Текст",
                               front_matter={"title": "X", "kind": "problem", "visibility": "secret"})
    assert exc.value.errors[0]["field"] == "visibility"
    with db.session_scope() as session, pytest.raises(Invalid) as exc:
        service.create_article(session=session, settings=settings, actor=writer, body="Текст", section="../x",
                               front_matter={"title": "X", "kind": "problem"})
    assert exc.value.errors[0]["field"] == "section"
    assert content_repo.head() == head


def test_save_history_diff_and_restore(writer, make, write_article, db, settings):
    article = write_article(writer)
    editor = make.user("writer", username="orlov", full_name="Илья Орлов", email="orlov@primoart.example")
    meta = article.meta.as_dict() | {"tags": ["rum"]}
    with db.session_scope() as session:
        saved = service.save_article(session=session, settings=settings, actor=editor, slug=article.slug,
                                     body=article.body + "\n## Решение\n\nПерезапустите агент.\n",
                                     front_matter=meta, base_commit=article.commit)
    assert saved.commit != article.commit
    assert _commit(settings, saved.commit).author.email == "orlov@primoart.example"
    assert saved.meta.authors == ["sokolova", "orlov"]
    versions = service.history(settings=settings, slug=article.slug)
    assert [v.commit for v in versions] == [saved.commit, article.commit]
    assert versions[0].author == "Илья Орлов" and "Правка статьи" in versions[0].message
    text = service.diff(settings=settings, slug=article.slug, from_commit=article.commit[:10],
                        to_commit=saved.commit)
    assert "+## Решение" in text and "+- rum" not in text and "+tags: [rum]" in text
    with db.session_scope() as session:
        restored = service.restore_version(session=session, settings=settings, actor=writer, slug=article.slug,
                                           commit=article.commit)
    assert restored.commit not in (article.commit, saved.commit)
    assert "Восстановлена версия" in _commit(settings, restored.commit).message
    assert service.get_article(settings=settings, slug=article.slug).body == article.body
    assert len(service.history(settings=settings, slug=article.slug)) == 3  # history is never rewritten
    old = service.get_article(settings=settings, slug=article.slug, commit=saved.commit)
    assert "Перезапустите агент" in old.body


def test_a_save_from_an_outdated_version_is_refused_with_the_difference(writer, write_article, db, settings,
                                                                      content_repo):
    article = write_article(writer)
    meta = article.meta.as_dict()
    with db.session_scope() as session:
        first = service.save_article(session=session, settings=settings, actor=writer, slug=article.slug,
                                     body="Первая правка.\n", front_matter=meta, base_commit=article.commit)
    head = content_repo.head()
    with db.session_scope() as session, pytest.raises(Conflict) as exc:
        service.save_article(session=session, settings=settings, actor=writer, slug=article.slug,
                             body="Вторая правка от старой версии.\n", front_matter=meta,
                             base_commit=article.commit)
    assert exc.value.status_code == 409
    assert exc.value.extra["current_commit"] == first.commit
    assert "-## Симптомы" in exc.value.extra["diff"] and "+Первая правка." in exc.value.extra["diff"]
    assert content_repo.head() == head  # nothing overwritten
    # Unrelated commits to other articles do not make a save stale.
    write_article(writer, title="Другая статья")
    with db.session_scope() as session:
        second = service.save_article(session=session, settings=settings, actor=writer, slug=article.slug,
                                      body="Вторая правка.\n", front_matter=meta, base_commit=first.commit)
    assert second.body == "Вторая правка.\n"


def test_save_cannot_publish_and_unchanged_save_makes_no_commit(writer, write_article, db, settings, content_repo):
    article = write_article(writer)
    with db.session_scope() as session, pytest.raises(Invalid) as exc:
        service.save_article(session=session, settings=settings, actor=writer, slug=article.slug,
                             body=article.body, front_matter=article.meta.as_dict() | {"status": "published"},
                             base_commit=article.commit)
    assert exc.value.errors[0]["field"] == "status"
    head = content_repo.head()
    with db.session_scope() as session:
        same = service.save_article(session=session, settings=settings, actor=writer, slug=article.slug,
                                    body=article.body, front_matter=article.meta.as_dict(),
                                    base_commit=article.commit)
    assert same.commit == article.commit and content_repo.head() == head


def test_publish_and_archive_commit_call_the_hook_and_request_a_build(writer, write_article, db, settings):
    article = write_article(writer)
    calls = []

    def listener(*, settings, commit, slugs):
        calls.append((commit, slugs))

    build_job = jobs.REGISTRY["kb.build"]
    with db.session_scope() as session:  # this node has run the per-node build job before
        session.add(JobState(name=build_job.lease_name(settings), next_run_at=utcnow() + dt.timedelta(hours=1),
                             runs=1, requested=0))
    hooks.ARTICLES_CHANGED.add(listener)
    try:
        with db.session_scope() as session:
            published = service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)
        with db.session_scope() as session:
            archived = service.archive_article(session=session, settings=settings, actor=writer, slug=article.slug)
    finally:
        hooks.ARTICLES_CHANGED.remove(listener)
    assert calls == [(published.commit, [article.slug]), (archived.commit, [article.slug])]
    assert "Публикация статьи" in _commit(settings, published.commit).message
    assert service.get_article(settings=settings, slug=article.slug).meta.status == "archived"
    with db.session_scope(write=False) as session:
        job = jobs.states_by_job(session, settings).get("kb.build")
        assert job is not None and job.requested == 2 and job.next_run_at <= utcnow()
        actions = [e.action for e in session.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.id))]
        assert actions[-3:] == ["article.create", "article.publish", "article.archive"]


def test_publishing_needs_a_summary(writer, write_article, db, settings, content_repo):
    article = write_article(writer, summary="")
    head = content_repo.head()
    with db.session_scope() as session, pytest.raises(Invalid) as exc:
        service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)
    assert exc.value.errors[0]["field"] == "summary"
    assert content_repo.head() == head


def test_catalogue_lists_starter_articles_and_ticket_links(writer, write_article, settings):
    entries = service.list_articles(settings=settings, status="published")
    slugs = {e.slug for e in entries}
    assert {"how-to-file-a-request", "priorities-and-sla", "triage-checklist"} <= slugs
    assert all(e.meta is not None for e in entries)
    write_article(writer, tickets=["PRM-2026-00007"])
    assert [e.meta.title for e in service.articles_for_ticket(settings=settings, ticket_id="prm-2026-00007")] == \
        ["Агент RUM не отправляет данные"]
