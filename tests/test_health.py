from __future__ import annotations

import shutil

from tests import s3server

s3_server, s3_env, s3_bucket = s3server.s3_server, s3server.s3_env, s3server.s3_bucket


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


def test_healthz_probes_the_blob_store(client, settings):
    r = client.get("/healthz")
    assert r.json()["checks"]["blob_store"] == "ok"
    assert not [p for p in settings.blobs_path.rglob("*") if p.is_file()]  # the probe left nothing


def test_health_and_doctor_name_a_broken_blob_store_and_mail_server(settings, db, s3_env, s3_bucket, monkeypatch):
    import socket

    from portal import health

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    fine = settings.model_copy(update={"blob_store": "s3://portal-test/doctor/", "s3_endpoint_url": s3_env.endpoint_url})
    assert health.check_parts(fine, db)["blob_store"] == "ok"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")  # read by the client made for the region below
    broken = settings.model_copy(update={"blob_store": "s3://portal-test/doctor/", "s3_region": "eu-broken-1",
                                         "s3_endpoint_url": s3_env.endpoint_url,
                                         "smtp_url": f"smtp://127.0.0.1:{port}"})
    assert health.check_parts(broken, db)["blob_store"].startswith("fail")
    lines = {label: (ok, detail) for label, ok, detail in health.doctor(broken, db)}
    assert lines["база данных"][0] and not lines["хранилище файлов"][0]
    assert not lines["SMTP"][0] and "IMAP" not in lines
