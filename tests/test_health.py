from __future__ import annotations

import shutil

import httpx
import pytest

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


@pytest.fixture
def home_apart(settings, content_repo, tmp_path):
    """A portal whose content repository lives outside its data home, so its pages still answer while the data
    home is broken: (settings, HTTP client)."""
    from portal.app import create_app
    from portal.content import ContentRepo
    from tests.conftest import LiveServer

    apart = settings.model_copy(update={"content_repo": tmp_path / "content-apart"})
    shutil.copytree(content_repo.path, apart.content_repo)
    ContentRepo(apart).ensure()
    server = LiveServer(create_app(apart))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield apart, client
    finally:
        server.stop()


def test_healthz_keeps_codes_for_machines_and_words_findings_for_people(home_apart, make, db):
    """/healthz: ``checks`` and ``codes`` are the same whoever asks; ``messages`` in the asker's language. The
    administrator's home words the same finding in the reader's language."""
    import re

    from portal.accounts.models import User
    from tests.factories import ApiHelper

    settings, client = home_apart
    api = ApiHelper(client)

    russian, english = make.user("admin"), make.user("admin")
    with db.session_scope() as session:
        session.get(User, english.id).language = "en"
    headers = {user.id: api.headers(user) for user in (russian, english)}  # tokens asked for before the move
    home = settings.home_path
    moved = home.with_name("home-moved")
    home.rename(moved)
    home.write_text("not a directory")  # (a missing one would be made again by the blob store's probe)
    try:
        ru = client.get("/healthz")
        en = client.get("/healthz", headers={"Accept-Language": "en-US,en;q=0.9"})
        ru_home = client.get("/", headers=headers[russian.id])
        en_home = client.get("/", headers=headers[english.id])
    finally:
        home.unlink()
        moved.rename(home)
    assert ru.status_code == en.status_code == 503
    assert "data_home" in ru.json()["failing"]
    for body in (ru.json(), en.json()):
        assert body["codes"]["data_home"] == "not_directory" and body["codes"]["database"] == "ok"
        assert body["checks"]["data_home"] == f"fail: {home} is a file, not a directory"
    assert ru.json()["messages"]["data_home"] == f"{home} — файл, а не каталог"
    assert en.json()["messages"]["data_home"] == f"{home} is a file, not a directory"
    assert "database" not in en.json()["messages"]  # nothing to say about a part that is fine

    assert ru_home.status_code == en_home.status_code == 200, ru_home.text[-800:]
    part = re.compile(r'<li data-part="data_home">(.*?)</li>', re.S)
    ru_part, en_part = part.search(ru_home.text).group(1), part.search(en_home.text).group(1)
    assert f"{home} — файл, а не каталог" in ru_part
    assert f"{home} is a file, not a directory" in en_part and not re.search("[А-Яа-яЁё]", en_part), en_part


def test_doctor_words_its_own_findings_in_the_operators_language(settings, db, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from portal import health, i18n
    from portal.cli import app

    nowhere = tmp_path / "nowhere"
    lines = {str(label): (ok, detail) for label, ok, detail in
             health.doctor(settings.model_copy(update={"home": nowhere}), db)}
    ok, detail = lines["каталог данных"]
    assert not ok and detail == f"каталог {nowhere} не существует"
    with i18n.using("en"):
        assert str(detail) == f"{nowhere} does not exist"

    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    (settings.home_path / "content").mkdir(exist_ok=True)
    settings.home_path.chmod(0o755)
    out = CliRunner().invoke(app, ["doctor"])
    assert "data home" in out.output and "база данных" not in out.output, out.output
