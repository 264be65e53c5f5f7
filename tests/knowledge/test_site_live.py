"""What the writer sees of the builds: after a publish, whether the article's version is live in each edition
of this node (GET /api/v1/kb/articles/{slug}/live), and on the builds table each edition's commit and how
many commits it is behind HEAD; an article a reader may not read answers like a missing one."""

from __future__ import annotations

import re

from portal.knowledge import site


def _create_and_publish(api, writer, visibility: str) -> dict:
    r = api.post(writer, "/api/v1/articles", json={
        "title": "Агент RUM теряет сессии после обновления", "kind": "problem", "visibility": visibility,
        "summary": "Сессии обрываются.", "body": "## Симптомы\n\nСессии теряются.\n"})
    assert r.status_code == 201, r.text
    slug = r.json()["slug"]
    published = api.post(writer, f"/api/v1/articles/{slug}/publish")
    assert published.status_code == 200, published.text
    return {"slug": slug, "commit": published.json()["commit"]}


def _editions(answer: dict) -> dict[str, dict]:
    return {e["edition"]: e for e in answer["editions"]}


def test_the_writer_sees_the_article_come_live_in_each_edition(api, make, db, settings, client):
    writer, customer = make.user("writer"), make.user("customer")
    assert {r.status for r in site.build(settings=settings, db=db)} == {"built"}
    article = _create_and_publish(api, writer, "customers")
    url = f"/api/v1/kb/articles/{article['slug']}/live"

    before = api.get(writer, url).json()
    assert before["commit"] == article["commit"] and before["all_live"] is False
    assert before["url"] == f"/kb/problems/{article['slug']}/"
    editions = _editions(before)
    assert {e: (v["live"], v["state"]) for e, v in editions.items()} == {
        "staff": (False, "waiting"), "customers": (False, "waiting"), "public": (False, "waiting")}
    assert {e: v["shown"] for e, v in editions.items()} == {"staff": True, "customers": True, "public": False}
    assert all(v["behind"] == 2 for v in editions.values())  # the draft's commit and the publish

    page = client.get(f"/articles/{article['slug']}", headers=api.headers(writer))
    assert page.status_code == 200 and 'data-testid="kb-live"' in page.text and "/static/kb-live.js" in page.text
    behind = re.findall(r'data-testid="kb-behind"><span class="badge medium">(\d+)</span>', page.text)
    assert behind == ["2", "2", "2"], behind

    results = site.build(settings=settings, db=db)
    assert {(r.status, r.mode) for r in results} == {("built", "incremental")}
    after = api.get(writer, url).json()
    assert after["all_live"] is True
    assert {e: (v["live"], v["state"], v["behind"]) for e, v in _editions(after).items()} == {
        "staff": (True, "live", 0), "customers": (True, "live", 0), "public": (True, "live", 0)}
    page = client.get("/articles", headers=api.headers(writer))
    assert page.text.count('data-testid="kb-behind"><span class="badge ok">') == 3

    # A customer may read a published customers article, but not an internal one: that answers 404.
    assert api.get(customer, url).status_code == 200
    internal = _create_and_publish(api, writer, "internal")
    assert api.get(customer, f"/api/v1/kb/articles/{internal['slug']}/live").status_code == 404
    assert api.get(customer, "/api/v1/kb/articles/no-such-article/live").status_code == 404
    assert api.client.get(url).status_code == 401
