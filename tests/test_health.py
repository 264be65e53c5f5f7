from __future__ import annotations

import shutil


def test_healthz_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_healthz_names_the_failing_part(client, settings):
    shutil.rmtree(settings.content_path)
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["failing"] == ["content_repository"]


def test_openapi_and_docs_are_local(client):
    assert client.get("/api/openapi.json").json()["info"]["title"] == "PrimoART support portal"
    docs = client.get("/api/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_pages_reference_only_local_assets(client):
    import re

    html = client.get("/login").text
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/"), url
