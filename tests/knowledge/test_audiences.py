"""One mapping of visibility → audiences → site editions: search, the site build and notify agree, for each
visibility, on who reads an article (real git, a real index, real MkDocs builds)."""

from __future__ import annotations

import pytest

from portal import policy
from portal.knowledge import audiences, site
from portal.notify import service as notify
from portal.search import service as search
from portal.search.index import SearchRequest, WhooshIndex
from tests.search.corpus import article_text

TICKET = "PRM-2026-00042"


def _publish(content_repo, visibility: str) -> None:
    spec = dict(path="kb/howto/who-reads.md", title="Кто читает эту статью", summary="Проверка видимости.",
                kind="howto", module="rum", tickets=[TICKET], visibility=visibility,
                body="Слово видимостьслово встречается только здесь.")
    with content_repo.write_lock():
        content_repo.commit_files(files={"kb/howto/who-reads.md": article_text(spec)}, message="Статья")


@pytest.mark.parametrize("visibility", ["public", "customers", "internal"])
def test_search_site_and_notify_agree_on_who_reads(visibility, settings, db, content_repo, make):
    _publish(content_repo, visibility)
    results = site.build(settings=settings, db=db, force=True)
    assert all(r.status == "built" for r in results), [r.error for r in results]
    index = WhooshIndex(settings)
    readers = {policy.Audience.anonymous: None, policy.Audience.customers: make.user("customer"),
               policy.Audience.staff: make.user("support")}
    for audience, reader in readers.items():
        edition = next(e for e, a in audiences.EDITION_AUDIENCES.items() if a is audience)
        in_site = (site.edition_dir(settings, edition) / "howto" / "who-reads" / "index.html").exists()
        hits = index.search(SearchRequest(text="видимостьслово", audiences=search.audiences(reader), limit=10)).hits
        in_search = [h.slug for h in hits] == ["who-reads"]
        allowed = policy.reads(audience, visibility)
        assert in_site == in_search == allowed, (audience, edition, in_site, in_search)
        if audience is policy.Audience.customers:  # a customer's «решено» e-mail links only what they can open
            in_mail = [a["url"] for a in notify._articles_citing(settings, TICKET)]
            assert (in_mail == [f"{settings.base_url.rstrip('/')}/kb/howto/who-reads/"]) == in_site
