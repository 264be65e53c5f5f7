"""The build's copy of the content (``.builds/source``) is brought to HEAD from the git diff, not exported whole
at every publish; a copy whose update was cut off (no stamp) is exported again, so the edition still equals a
full build of the commit."""

from __future__ import annotations

from portal.knowledge import site
from tests.knowledge.test_site_incremental import _assert_same_edition
from tests.knowledge.test_site_reconcile import _publish


def _modes(results) -> set[str]:
    return {k for r in results for k in r.timings if k.startswith("git_") and k != "git_dates"}


def test_the_source_copy_follows_the_diff_and_is_exported_again_when_its_update_was_cut_off(
        writer, db, settings, content_repo, tmp_path):
    assert _modes(site.build(settings=settings, db=db)) == {"git_exported"}  # nothing to update yet
    copy = settings.site_path / site.BUILDS_DIR / site.SOURCE_DIR
    stamp = copy.with_name(f"{site.SOURCE_DIR}.json")
    slug = _publish(db, settings, writer, "Агент RUM не отправляет данные")
    assert _modes(site.build(settings=settings, db=db)) == {"git_updated"}
    assert (copy / "kb" / "problems" / f"{slug}.md").exists()

    # An update cut off midway: a file half-written, the stamp already gone.
    page = copy / "kb" / "problems" / f"{slug}.md"
    page.write_text("---\ntitle: полстраницы", encoding="utf-8")
    stamp.unlink()
    second = _publish(db, settings, writer, "Сессии RUM обрываются")
    results = site.build(settings=settings, db=db)
    assert _modes(results) == {"git_exported"} and {r.status for r in results} == {"built"}
    reference = settings.model_copy(update={"home": tmp_path / "reference", "content_repo": settings.content_path})
    assert {r.status for r in site.build(settings=reference, db=db, force=True)} == {"built"}
    for edition in site.EDITIONS:
        _assert_same_edition(site.served(settings, edition).directory, site.edition_dir(reference, edition), edition)
    assert (site.edition_dir(settings, "customers") / "problems" / second / "index.html").exists()
