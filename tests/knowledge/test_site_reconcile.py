"""The kb.build job: stale editions incrementally first, then a full build of the same commit replaces each
incremental one (byte for byte the same files); a build cut off midway (abandoned for a newer commit, or its
process killed) leaves the served edition as it was, and the next run of the job brings it to HEAD and
reconciles it."""

from __future__ import annotations

import portal.knowledge.jobs  # noqa: F401  (registers kb.build)
from portal import jobs
from portal.jobs import JobState, Scheduler
from portal.knowledge import service, site
from tests.knowledge.test_site_incremental import _assert_same_edition, _tree


def _publish(db, settings, writer, title: str, visibility: str = "customers") -> str:
    with db.session_scope() as session:
        article = service.create_article(
            session=session, settings=settings, actor=writer, section="problems",
            body=f"## Симптомы\n\n{title}.\n",
            front_matter={"title": title, "kind": "problem", "visibility": visibility, "summary": "Кратко"})
    with db.session_scope() as session:
        service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)
    return article.slug


def _run_job(settings, db) -> str:
    job = jobs.REGISTRY[site.BUILD_JOB]
    assert Scheduler(settings, db, jobs={job.name: job}).tick() == [job.name]
    with db.session_scope(write=False) as session:
        state = session.get(JobState, job.lease_name(settings))
        assert state.last_status == "ok", state.last_error
        return state.last_message


def test_incremental_builds_are_replaced_by_full_ones_and_a_cut_off_build_changes_nothing(
        writer, db, settings, content_repo, tmp_path):
    assert {(r.status, r.mode) for r in site.build(settings=settings, db=db)} == {("built", "full")}
    _publish(db, settings, writer, "Агент RUM не отправляет данные")
    assert {(r.status, r.mode) for r in site.build(settings=settings, db=db)} == {("built", "incremental")}
    head = content_repo.head()
    assert sorted(site.unreconciled(settings, head)) == sorted(site.EDITIONS)
    incremental = {e: _tree(site.served(settings, e).directory) for e in site.EDITIONS}
    keys = {e: site.served(settings, e).config_key for e in site.EDITIONS}

    message = _run_job(settings, db)  # nothing stale: straight to the full builds
    assert message == "staff: built (full), customers: built (full), public: built (full)"
    assert site.unreconciled(settings, head) == []
    for edition in site.EDITIONS:
        served = site.served(settings, edition)
        assert (served.commit, served.mode) == (head, "full")
        if served.config_key == keys[edition]:  # else the theme changed meanwhile (someone edits the checkout)
            assert _tree(served.directory) == incremental[edition], edition

    # A build abandoned midway (a newer commit arrived; its process is stopped): the edition stays as it was.
    slug = _publish(db, settings, writer, "Сессии RUM обрываются")
    before = {e: site.served(settings, e) for e in site.EDITIONS}
    results = site.build(settings=settings, db=db, cancel=lambda: True)
    assert {r.status for r in results} == {"cancelled"}
    for edition in site.EDITIONS:
        assert site.served(settings, edition) == before[edition]
        assert not (site.served(settings, edition).directory / "problems" / slug).exists()
    # A build process killed while writing: its directory is left half-made beside the served one.
    half = settings.site_path / site.BUILDS_DIR / "customers-0123456789ab-deadbeef"
    (half / "problems").mkdir(parents=True)
    (half / "problems" / "index.html").write_text("<html>полстраницы")

    message = _run_job(settings, db)  # after a restart: incremental to HEAD, then full
    assert message.count("(incremental)") == 3 and message.count("(full)") == 3, message
    new_head = content_repo.head()
    reference = settings.model_copy(update={"home": tmp_path / "reference", "content_repo": settings.content_path})
    assert {r.status for r in site.build(settings=reference, db=db, force=True)} == {"built"}
    for edition in site.EDITIONS:
        served = site.served(settings, edition)
        assert (served.commit, served.mode) == (new_head, "full")
        _assert_same_edition(served.directory, site.edition_dir(reference, edition), edition)
    assert (site.edition_dir(settings, "customers") / "problems" / slug / "index.html").exists()
    assert not half.exists()  # older builds than the one before are removed at the next swap
