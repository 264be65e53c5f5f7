"""The knowledge-base API over real HTTP: create, read, save (409 when stale, 422 naming fields), publish,
archive, history, diff, restore, preview; readers see only what their role may."""

from __future__ import annotations

import portal.knowledge.jobs  # noqa: F401  (registers kb.build)
from portal import jobs
from portal.jobs import JobState, Scheduler


def _create(api, user, **kw):
    body = {"title": "Синтетическая проверка падает по таймауту", "kind": "problem", "visibility": "customers",
            "summary": "Проверка STM завершается ошибкой таймаута.", "module": "STM",
            "body": "## Симптомы\n\nПроверка падает.\n", "tickets": ["PRM-2026-00011"], **kw}
    r = api.post(user, "/api/v1/articles", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_write_save_publish_history_diff_restore(api, make):
    writer = make.user("writer", full_name="Мария Соколова", email="sokolova@primoart.example")
    created = _create(api, writer)
    slug = created["slug"]
    assert slug == "sinteticheskaya-proverka-padaet-po-taymautu"
    assert created["front_matter"]["status"] == "draft" and created["section"] == "problems"
    assert created["url"] is None

    got = api.get(writer, f"/api/v1/articles/{slug}").json()
    assert got["commit"] == created["commit"] and got["body"].startswith("## Симптомы")

    put = api.put(writer, f"/api/v1/articles/{slug}", json={
        "body": got["body"] + "\n## Решение\n\nУвеличьте таймаут.\n", "front_matter": got["front_matter"],
        "base_commit": got["commit"]})
    assert put.status_code == 200, put.text
    saved = put.json()

    stale = api.put(writer, f"/api/v1/articles/{slug}", json={
        "body": "Правка от старой версии", "front_matter": got["front_matter"], "base_commit": got["commit"]})
    assert stale.status_code == 409
    assert stale.json()["current_commit"] == saved["commit"]
    assert "+## Решение" in stale.json()["diff"]

    invalid = api.put(writer, f"/api/v1/articles/{slug}", json={
        "body": "x", "front_matter": {**got["front_matter"], "kind": "essay", "tickets": ["42"]},
        "base_commit": saved["commit"]})
    assert invalid.status_code == 422
    assert {e["field"] for e in invalid.json()["errors"]} == {"kind", "tickets"}

    published = api.post(writer, f"/api/v1/articles/{slug}/publish")
    assert published.status_code == 200 and len(published.json()["commit"]) == 40
    article = api.get(writer, f"/api/v1/articles/{slug}").json()
    assert article["front_matter"]["status"] == "published" and article["url"] == f"/kb/problems/{slug}/"

    history = api.get(writer, f"/api/v1/articles/{slug}/history").json()
    assert [v["commit"] for v in history] == [published.json()["commit"], saved["commit"], created["commit"]]
    assert history[0]["author"] == "Мария Соколова" and history[0]["email"] == "sokolova@primoart.example"
    assert "PRM-2026-00011" in history[0]["message"]

    diff = api.get(writer, f"/api/v1/articles/{slug}/diff",
                   params={"from": created["commit"], "to": saved["commit"]}).json()
    assert "+Увеличьте таймаут." in diff["diff"]
    bad = api.get(writer, f"/api/v1/articles/{slug}/diff", params={"from": "--output=/tmp/x", "to": "HEAD"})
    assert bad.status_code == 422

    restored = api.post(writer, f"/api/v1/articles/{slug}/restore", json={"commit": created["commit"]})
    assert restored.status_code == 200 and "Увеличьте" not in restored.json()["body"]
    assert restored.json()["front_matter"]["status"] == "draft"

    archived = api.post(writer, f"/api/v1/articles/{slug}/archive")
    assert archived.json()["status"] == "archived"


def test_article_from_scratch_defaults_and_errors(api, make):
    writer = make.user("writer")
    r = api.post(writer, "/api/v1/articles", json={"title": "Как выгрузить отчёт", "kind": "howto",
                                                   "body": "Шаги", "visibility": "public"})
    assert r.status_code == 201 and r.json()["section"] == "howto"
    r = api.post(writer, "/api/v1/articles", json={"kind": "howto", "body": "Нет заголовка"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "title"
    r = api.post(writer, "/api/v1/articles", json={"title": "X", "kind": "howto", "slug": "--upload-pack=evil"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "slug"
    assert api.get(writer, "/api/v1/articles/..%2F..%2Fetc").status_code in (404, 422)
    assert api.get(writer, "/api/v1/articles/no-such-article").status_code == 404
    r = api.post(writer, "/api/v1/articles/preview", json={"body": '!!! success "Решение"\n    Готово.'})
    assert r.status_code == 200 and 'class="admonition success"' in r.json()["html"]


def test_readers_see_what_their_role_allows(api, make):
    writer = make.user("writer")
    customer = make.user("customer")
    support = make.user("support")
    draft = _create(api, writer)["slug"]
    internal = _create(api, writer, title="Внутренняя заметка", visibility="internal")["slug"]
    api.post(writer, f"/api/v1/articles/{internal}/publish")
    assert api.get(customer, f"/api/v1/articles/{draft}").status_code == 404
    assert api.get(customer, f"/api/v1/articles/{internal}").status_code == 404
    assert api.get(support, f"/api/v1/articles/{internal}").status_code == 200
    assert api.get(customer, "/api/v1/articles/how-to-file-a-request").status_code == 200
    listed = {a["slug"] for a in api.get(customer, "/api/v1/articles").json()}
    assert "how-to-file-a-request" in listed and draft not in listed and internal not in listed
    assert "triage-checklist" not in listed
    assert api.post(customer, "/api/v1/articles", json={"title": "X", "kind": "howto"}).status_code == 403
    assert api.put(support, f"/api/v1/articles/{draft}", json={"body": "", "front_matter": {},
                                                               "base_commit": "0" * 40}).status_code == 403
    assert api.post(customer, f"/api/v1/articles/{draft}/publish").status_code == 403
    assert api.client.get("/api/v1/articles/how-to-file-a-request").status_code == 401


def test_kb_is_served_from_the_readers_edition(api, client, make, db, settings, app):
    writer = make.user("writer")
    customer = make.user("customer")
    response = client.get("/kb/", headers={**api.headers(customer), "Accept": "text/html"})
    assert response.status_code == 503 and "ещё не собран" in response.text
    assert Scheduler(settings, db, jobs={"kb.build": jobs.REGISTRY["kb.build"]}).tick() == ["kb.build"]
    with db.session_scope(write=False) as session:
        state = session.get(JobState, jobs.REGISTRY["kb.build"].lease_name(settings))  # per node
        assert state.last_message == "staff: built (full), customers: built (full), public: built (full)"
    page = api.get(customer, "/kb/support/how-to-file-a-request/")
    assert page.status_code == 200 and "Как подать заявку" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert api.get(customer, "/kb/second-line/triage-checklist/").status_code == 404
    assert api.get(writer, "/kb/second-line/triage-checklist/").status_code == 200
    index = api.get(customer, "/kb/search/search_index.json")
    assert index.status_code == 200 and "Памятка" not in index.content.decode("unicode_escape", errors="ignore")
    assert api.get(customer, "/kb/../../secret_key").status_code == 404
    assert api.get(customer, "/kb/%2e%2e/%2e%2e/secret_key").status_code == 404
    anonymous = client.get("/kb/support/how-to-file-a-request/")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    app.state.settings = settings.model_copy(update={"public_kb": True})
    public = client.get("/kb/support/how-to-file-a-request/")
    assert public.status_code == 200
    assert client.get("/kb/process/fix-delivery/").status_code == 404  # customers-only: not public
